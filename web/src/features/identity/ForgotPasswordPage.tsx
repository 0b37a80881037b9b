import Alert from '@mui/material/Alert';
import Link from '@mui/material/Link';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { Link as RouterLink } from 'react-router-dom';
import { problemOf } from '../../api/problem';
import { EmailField } from '../../components/FormTextField';
import { MutationForm } from '../../components/MutationForm';
import { AuthCard } from './AuthCard';
import { useForgotPasswordMutation } from './identityApi';

/** Ask for a password reset link. The answer is the same whether or not the account exists. */
export default function ForgotPasswordPage() {
  const [forgot, state] = useForgotPasswordMutation();
  const [email, setEmail] = useState('');
  const problem = problemOf(state);
  return (
    <AuthCard title="Reset your password">
      <MutationForm
        onSubmit={() => {
          void forgot({ email: email.trim() });
        }}
        problem={problem}
        submitLabel="Send reset link"
        submitting={state.isLoading}
        wideSubmit
        intro={
          state.isSuccess ? (
            <Alert severity="success">
              If an account uses {email.trim()}, a reset link is on its way. It works once, for 30
              minutes.
            </Alert>
          ) : (
            <Typography>We will mail you a link to choose a new password.</Typography>
          )
        }
        footer={
          <Typography variant="body2">
            <Link component={RouterLink} to="/sign-in">
              Back to sign in
            </Link>
          </Typography>
        }
      >
        <EmailField value={email} onChange={setEmail} problem={problem} />
      </MutationForm>
    </AuthCard>
  );
}
