import Typography from '@mui/material/Typography';

const kFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** Formats an RFC 3339 time in the reader's locale and time zone; an unreadable one as it came. */
export function formatDateTime(rfc3339: string): string {
  const date = new Date(rfc3339);
  return Number.isNaN(date.getTime()) ? rfc3339 : kFormat.format(date);
}

/** An RFC 3339 time in a `<time>` element, shown in the reader's locale; "unknown" if empty. */
export function DateTime({ value }: { value: string }) {
  if (value === '') {
    return (
      <Typography component="span" variant="inherit" color="text.secondary">
        unknown
      </Typography>
    );
  }
  return <time dateTime={value}>{formatDateTime(value)}</time>;
}
