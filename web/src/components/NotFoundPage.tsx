import Button from '@mui/material/Button';
import Typography from '@mui/material/Typography';
import { Link as RouterLink, useLocation } from 'react-router-dom';
import { PageHeader } from './PageHeader';

interface NotFoundPageProps {
  startPath: string;
}

/** Shown inside the shell for any client route no module claims. */
export function NotFoundPage({ startPath }: NotFoundPageProps) {
  const { pathname } = useLocation();
  return (
    <>
      <PageHeader title="Page not found" />
      <Typography sx={{ mb: 2 }}>
        The console has no page at{' '}
        <Typography component="code" sx={{ fontFamily: 'monospace' }}>
          {pathname}
        </Typography>
        .
      </Typography>
      <Button component={RouterLink} to={startPath} variant="contained">
        Go to the start page
      </Button>
    </>
  );
}
