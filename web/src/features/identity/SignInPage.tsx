import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Link from '@mui/material/Link';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState, type SyntheticEvent } from 'react';
import { Link as RouterLink, Navigate, useNavigate, useSearchParams } from 'react-router-dom';
import { fieldError, safeNextPath } from '../../api/fieldError';
import { toProblem } from '../../api/problem';
import { sessionStarted } from '../../api/session';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { ProblemAlert } from '../../components/ProblemAlert';
import { AuthCard } from './AuthCard';
import {
  isMfaChallenge,
  useLoginMfaMutation,
  useLoginMutation,
  type LoginAnswer,
} from './identityApi';

/** Sign in with email and password, then the second factor when the account has one. */
export default function SignInPage() {
  const dispatch = useAppDispatch();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNextPath(params.get('next'));
  const status = useAppSelector((state) => state.session.status);
  const [login, loginState] = useLoginMutation();
  const [loginMfa, mfaState] = useLoginMfaMutation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [code, setCode] = useState('');

  const finish = (answer: LoginAnswer) => {
    if (isMfaChallenge(answer)) {
      setMfaToken(answer.mfa_token);
      return;
    }
    dispatch(sessionStarted({ tokens: answer, now: Date.now() }));
    navigate(next, { replace: true });
  };

  if (status === 'signedIn' && mfaToken === null && !loginState.isSuccess) {
    return <Navigate to={next} replace />;
  }

  if (mfaToken !== null) {
    const problem = mfaState.isError ? toProblem(mfaState.error) : undefined;
    const submitCode = (event: SyntheticEvent) => {
      event.preventDefault();
      void loginMfa({ mfa_token: mfaToken, code: code.trim() })
        .unwrap()
        .then(finish)
        .catch(() => undefined);
    };
    return (
      <AuthCard
        title="Two-step verification"
        subtitle="Your account is protected by a second factor."
      >
        <Stack component="form" spacing={2} onSubmit={submitCode} noValidate>
          <Typography>
            Enter the 6-digit code from your authenticator app, or one of your recovery codes.
          </Typography>
          {problem !== undefined && <ProblemAlert problem={problem} />}
          <TextField
            label="Code"
            value={code}
            onChange={(event) => {
              setCode(event.target.value);
            }}
            autoComplete="one-time-code"
            required
            // The code field replaces the form that had focus; without this focus would be lost.
            // eslint-disable-next-line jsx-a11y/no-autofocus
            autoFocus
            error={fieldError(problem, '/code') !== undefined}
            helperText={fieldError(problem, '/code')}
            slotProps={{ htmlInput: { spellCheck: false, autoCapitalize: 'none' } }}
          />
          <Button type="submit" variant="contained" loading={mfaState.isLoading}>
            Verify
          </Button>
          <Button
            onClick={() => {
              setMfaToken(null);
              setCode('');
              mfaState.reset();
            }}
          >
            Start over
          </Button>
        </Stack>
      </AuthCard>
    );
  }

  const problem = loginState.isError ? toProblem(loginState.error) : undefined;
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void login({ email: email.trim(), password })
      .unwrap()
      .then(finish)
      .catch(() => undefined);
  };
  return (
    <AuthCard title="Sign in" subtitle="Welcome back to Nimbus.">
      <Stack component="form" spacing={2} onSubmit={submit} noValidate>
        {params.get('verified') === '1' && (
          <Alert severity="success">Your email address is verified. You can sign in now.</Alert>
        )}
        {params.get('reset') === '1' && (
          <Alert severity="success">Your password was changed. Sign in with the new one.</Alert>
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
        <TextField
          label="Password"
          type="password"
          value={password}
          onChange={(event) => {
            setPassword(event.target.value);
          }}
          autoComplete="current-password"
          required
          error={fieldError(problem, '/password') !== undefined}
          helperText={fieldError(problem, '/password')}
        />
        <Button type="submit" variant="contained" loading={loginState.isLoading}>
          Sign in
        </Button>
        <Typography variant="body2">
          <Link component={RouterLink} to="/forgot-password">
            Forgot your password?
          </Link>
        </Typography>
        <Typography variant="body2">
          New to Nimbus?{' '}
          <Link component={RouterLink} to="/sign-up">
            Create an account
          </Link>
        </Typography>
      </Stack>
    </AuthCard>
  );
}
