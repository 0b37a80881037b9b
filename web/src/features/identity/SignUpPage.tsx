import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
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
import { useSignupMutation } from './identityApi';

/** Create an account; the server mails a verification link. */
export default function SignUpPage() {
  const [signup, state] = useSignupMutation();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const problem = state.isError ? toProblem(state.error) : undefined;

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

  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    const trimmedName = name.trim();
    void signup({
      email: email.trim(),
      password,
      ...(trimmedName === '' ? {} : { name: trimmedName }),
    });
  };
  return (
    <AuthCard title="Create your account">
      <Stack component="form" spacing={2} onSubmit={submit} noValidate>
        {problem !== undefined && <ProblemAlert problem={problem} />}
        <TextField
          label="Name"
          value={name}
          onChange={(event) => {
            setName(event.target.value);
          }}
          autoComplete="name"
          error={fieldError(problem, '/name') !== undefined}
          helperText={fieldError(problem, '/name')}
        />
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
        <TextField
          label="Password"
          type="password"
          value={password}
          onChange={(event) => {
            setPassword(event.target.value);
          }}
          autoComplete="new-password"
          required
          error={fieldError(problem, '/password') !== undefined}
          helperText={
            fieldError(problem, '/password') ??
            'At least 12 characters; not a dictionary word or a common password.'
          }
        />
        <Button type="submit" variant="contained" loading={state.isLoading}>
          Create account
        </Button>
        <Typography variant="body2">
          Already have an account?{' '}
          <Link component={RouterLink} to="/sign-in">
            Sign in
          </Link>
        </Typography>
      </Stack>
    </AuthCard>
  );
}
