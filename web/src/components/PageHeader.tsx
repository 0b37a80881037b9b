import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import type { ReactNode } from 'react';

interface PageHeaderProps {
  title: string;
  subtitle?: string;
  /** Page-wide actions, shown at the end of the header. */
  actions?: ReactNode;
}

/** The page's one `h1`, and the document title to match. */
export function PageHeader({ title, subtitle, actions }: PageHeaderProps) {
  return (
    <Box
      sx={{
        display: 'flex',
        flexWrap: 'wrap',
        alignItems: 'flex-end',
        justifyContent: 'space-between',
        gap: 2,
        mb: 3,
      }}
    >
      <title>{`${title} · Nimbus`}</title>
      <div>
        <Typography variant="h4" component="h1">
          {title}
        </Typography>
        {subtitle !== undefined && <Typography color="text.secondary">{subtitle}</Typography>}
      </div>
      {actions}
    </Box>
  );
}
