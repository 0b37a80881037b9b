import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Link from '@mui/material/Link';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { Link as RouterLink, useSearchParams } from 'react-router-dom';
import { toProblem } from '../../api/problem';
import { ProblemAlert } from '../../components/ProblemAlert';
import { AuthCard } from './AuthCard';
import { ResendVerification } from './ResendVerification';
import { useVerifyEmailMutation } from './identityApi';

/**
 * The page the verification mail links to (`/verify-email?token=...`). It verifies on a click,
 * not on load: mail scanners open links, and the token works only once. When the link is missing,
 * expired or used, the page offers to mail a new one.
 */
export default function VerifyEmailPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [verify, state] = useVerifyEmailMutation();

  if (state.isSuccess) {
    return (
      <AuthCard title="Email verified">
        <Stack spacing={2}>
          <Alert severity="success">Your email address is verified.</Alert>
          <Button component={RouterLink} to="/sign-in?verified=1" variant="contained">
            Sign in
          </Button>
        </Stack>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Verify your email">
      <Stack spacing={2}>
        {token === '' ? (
          <Alert severity="warning">
            This link has no token. Open the link from the mail exactly as it was sent.
          </Alert>
        ) : (
          <Typography>Confirm that this email address is yours.</Typography>
        )}
        {state.isError && <ProblemAlert problem={toProblem(state.error)} />}
        <Button
          variant="contained"
          disabled={token === ''}
          loading={state.isLoading}
          onClick={() => {
            void verify({ token });
          }}
        >
          Verify my email
        </Button>
        {(token === '' || state.isError) && (
          <ResendVerification
            intro="Expired, used or lost link? We can mail you a new one."
            wideSubmit
          />
        )}
        <Typography variant="body2">
          <Link component={RouterLink} to="/sign-in">
            Back to sign in
          </Link>
        </Typography>
      </Stack>
    </AuthCard>
  );
}
