import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Link from '@mui/material/Link';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState, type SyntheticEvent } from 'react';
import { Link as RouterLink } from 'react-router-dom';
import { fieldError } from '../../api/fieldError';
import { toProblem } from '../../api/problem';
import { ProblemAlert } from '../../components/ProblemAlert';
import { AuthCard } from './AuthCard';
import { useForgotPasswordMutation } from './identityApi';

/** Ask for a password reset link. The answer is the same whether or not the account exists. */
export default function ForgotPasswordPage() {
  const [forgot, state] = useForgotPasswordMutation();
  const [email, setEmail] = useState('');
  const problem = state.isError ? toProblem(state.error) : undefined;
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void forgot({ email: email.trim() });
  };
  return (
    <AuthCard title="Reset your password">
      <Stack component="form" spacing={2} onSubmit={submit} noValidate>
        {state.isSuccess ? (
          <Alert severity="success">
            If an account uses {email.trim()}, a reset link is on its way. It works once, for 30
            minutes.
          </Alert>
        ) : (
          <Typography>We will mail you a link to choose a new password.</Typography>
        )}
        {problem !== undefined && <ProblemAlert problem={problem} />}
        <TextField
          label="Email"
          type="email"
          value={email}
          onChange={(event) => {
            setEmail(event.target.value);
          }}
          autoComplete="email"
          required
          error={fieldError(problem, '/email') !== undefined}
          helperText={fieldError(problem, '/email')}
        />
        <Button type="submit" variant="contained" loading={state.isLoading}>
          Send reset link
        </Button>
        <Typography variant="body2">
          <Link component={RouterLink} to="/sign-in">
            Back to sign in
          </Link>
        </Typography>
      </Stack>
    </AuthCard>
  );
}
