import Button from '@mui/material/Button';
import Typography from '@mui/material/Typography';
import type { ReactNode } from 'react';
import { Navigate, Link as RouterLink, useLocation } from 'react-router-dom';
import type { ModuleAccess } from '../app/consoleModule';
import { useViewer } from '../app/viewer';
import { LoadingState } from './LoadingState';
import { PageHeader } from './PageHeader';

interface RequireAccessProps {
  access: ModuleAccess;
  children: ReactNode;
}

/**
 * Shows a page only to whom it is for: signed-out visitors go to the sign-in page (and come back
 * after), signed-in users without the right see why. The server checks every request anyway; this
 * only keeps people from pages that would answer 401 or 403.
 */
export function RequireAccess({ access, children }: RequireAccessProps) {
  const viewer = useViewer();
  const location = useLocation();
  if (access === 'everyone') return children;
  if (access === 'devMailbox' && viewer.loopback) return children;
  if (viewer.status === 'unknown') return <LoadingState label="Restoring your session" />;
  if (viewer.status === 'signedOut') {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={`/sign-in?next=${encodeURIComponent(next)}`} replace />;
  }
  if (access === 'signedIn') return children;
  if (viewer.me === undefined) return <LoadingState label="Loading your account" />;
  if (viewer.isOperator) return children;
  return (
    <>
      <PageHeader title="Not available" />
      <Typography sx={{ mb: 2 }}>This page is for platform operators.</Typography>
      <Button component={RouterLink} to="/account" variant="contained">
        Go to your account
      </Button>
    </>
  );
}
