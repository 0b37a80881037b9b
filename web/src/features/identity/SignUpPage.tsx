import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Link from '@mui/material/Link';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { Link as RouterLink } from 'react-router-dom';
import { problemOf } from '../../api/problem';
import { EmailField, FormTextField } from '../../components/FormTextField';
import { MutationForm } from '../../components/MutationForm';
import { AuthCard } from './AuthCard';
import { useSignupMutation } from './identityApi';

/** Create an account; the server mails a verification link. */
export default function SignUpPage() {
  const [signup, state] = useSignupMutation();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const problem = problemOf(state);

  if (state.isSuccess) {
    return (
      <AuthCard title="Check your email">
        <Alert severity="success">
          <AlertTitle>Almost there</AlertTitle>
          We sent a link to <strong>{email.trim()}</strong>. Open it to verify your address, then
          sign in.
        </Alert>
        <Typography variant="body2" sx={{ mt: 2 }}>
          <Link component={RouterLink} to="/sign-in">
            Go to sign in
          </Link>
        </Typography>
      </AuthCard>
    );
  }

  const submit = () => {
    const trimmedName = name.trim();
    void signup({
      email: email.trim(),
      password,
      ...(trimmedName === '' ? {} : { name: trimmedName }),
    });
  };
  return (
    <AuthCard title="Create your account">
      <MutationForm
        onSubmit={submit}
        problem={problem}
        submitLabel="Create account"
        submitting={state.isLoading}
        wideSubmit
        footer={
          <Typography variant="body2">
            Already have an account?{' '}
            <Link component={RouterLink} to="/sign-in">
              Sign in
            </Link>
          </Typography>
        }
      >
        <FormTextField
          label="Name"
          value={name}
          onChange={setName}
          autoComplete="name"
          problem={problem}
          pointer="/name"
        />
        <EmailField value={email} onChange={setEmail} problem={problem} />
        <FormTextField
          label="Password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="new-password"
          required
          problem={problem}
          pointer="/password"
          hint="At least 12 characters; not a dictionary word or a common password."
        />
      </MutationForm>
    </AuthCard>
  );
}
