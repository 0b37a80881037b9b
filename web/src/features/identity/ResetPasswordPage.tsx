import Alert from '@mui/material/Alert';
import { useState } from 'react';
import { Navigate, useSearchParams } from 'react-router-dom';
import { problemOf } from '../../api/problem';
import { FormTextField } from '../../components/FormTextField';
import { MutationForm } from '../../components/MutationForm';
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
  const problem = problemOf(state);

  if (state.isSuccess) return <Navigate to="/sign-in?reset=1" replace />;

  const submit = () => {
    if (password !== confirmation) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    void reset({ token, password });
  };
  return (
    <AuthCard title="Choose a new password" subtitle="Every session of the account is signed out.">
      <MutationForm
        onSubmit={submit}
        problem={problem}
        submitLabel="Set password"
        submitting={state.isLoading}
        submitDisabled={token === ''}
        wideSubmit
        intro={
          token === '' && (
            <Alert severity="warning">
              This link has no token. Open the link from the mail exactly as it was sent.
            </Alert>
          )
        }
      >
        <FormTextField
          label="New password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="new-password"
          required
          problem={problem}
          pointer="/password"
          hint="At least 12 characters."
        />
        <FormTextField
          label="Repeat the new password"
          type="password"
          value={confirmation}
          onChange={setConfirmation}
          autoComplete="new-password"
          required
          invalid={mismatch ? 'The two passwords differ.' : undefined}
        />
      </MutationForm>
    </AuthCard>
  );
}
