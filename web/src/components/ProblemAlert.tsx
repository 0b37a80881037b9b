import Alert, { type AlertColor } from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Button from '@mui/material/Button';
import Link from '@mui/material/Link';
import Typography from '@mui/material/Typography';
import type { Problem } from '../api/problem';

interface ProblemAlertProps {
  problem: Problem;
  severity?: AlertColor;
  /** Shows a Retry button calling this. */
  onRetry?: () => void;
}

/** The organization requires two-step verification and the caller has none yet. */
function isMfaRequired(problem: Problem): boolean {
  return problem.status === 403 && (problem.type ?? '').endsWith('mfa-required');
}

/** An RFC 9457 problem as a person reads it: title, detail, and the request id to report. */
export function ProblemAlert({ problem, severity = 'error', onRetry }: ProblemAlertProps) {
  return (
    <Alert
      severity={severity}
      action={
        onRetry && (
          <Button color="inherit" size="small" onClick={onRetry}>
            Retry
          </Button>
        )
      }
    >
      <AlertTitle>
        {problem.title}
        {problem.status !== undefined && ` (${problem.status})`}
      </AlertTitle>
      {problem.detail !== undefined && <Typography variant="body2">{problem.detail}</Typography>}
      {isMfaRequired(problem) && (
        <Typography variant="body2" sx={{ mt: 0.5 }}>
          This organization requires two-step verification. Set it up under{' '}
          <Link href="/account/security">Security</Link>, then try again.
        </Typography>
      )}
      {problem.errors?.map((error) => (
        <Typography key={error.pointer} variant="body2">
          {error.pointer}: {error.message}
        </Typography>
      ))}
      {problem.request_id !== undefined && (
        <Typography variant="caption" component="p" sx={{ mt: 0.5 }}>
          Request ID:{' '}
          <Typography component="code" variant="caption" sx={{ fontFamily: 'monospace' }}>
            {problem.request_id}
          </Typography>
        </Typography>
      )}
    </Alert>
  );
}
