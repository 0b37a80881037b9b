import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import { useState, type SyntheticEvent } from 'react';
import { Navigate, useSearchParams } from 'react-router-dom';
import { fieldError } from '../../api/fieldError';
import { toProblem } from '../../api/problem';
import { ProblemAlert } from '../../components/ProblemAlert';
import { AuthCard } from './AuthCard';
import { useResetPasswordMutation } from './identityApi';

/** The page the reset mail links to (`/reset-password?token=...`): choose a new password. */
export default function ResetPasswordPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [reset, state] = useResetPasswordMutation();
  const [password, setPassword] = useState('');
  const [confirmation, setConfirmation] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const problem = state.isError ? toProblem(state.error) : undefined;

  if (state.isSuccess) return <Navigate to="/sign-in?reset=1" replace />;

  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    if (password !== confirmation) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    void reset({ token, password });
  };
  return (
    <AuthCard title="Choose a new password" subtitle="Every session of the account is signed out.">
      <Stack component="form" spacing={2} onSubmit={submit} noValidate>
        {token === '' && (
          <Alert severity="warning">
            This link has no token. Open the link from the mail exactly as it was sent.
          </Alert>
        )}
        {problem !== undefined && <ProblemAlert problem={problem} />}
        <TextField
          label="New password"
          type="password"
          value={password}
          onChange={(event) => {
            setPassword(event.target.value);
          }}
          autoComplete="new-password"
          required
          error={fieldError(problem, '/password') !== undefined}
          helperText={fieldError(problem, '/password') ?? 'At least 12 characters.'}
        />
        <TextField
          label="Repeat the new password"
          type="password"
          value={confirmation}
          onChange={(event) => {
            setConfirmation(event.target.value);
          }}
          autoComplete="new-password"
          required
          error={mismatch}
          helperText={mismatch ? 'The two passwords differ.' : undefined}
        />
        <Button type="submit" variant="contained" disabled={token === ''} loading={state.isLoading}>
          Set password
        </Button>
      </Stack>
    </AuthCard>
  );
}
