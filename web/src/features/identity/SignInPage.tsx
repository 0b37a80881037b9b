import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Link from '@mui/material/Link';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { Link as RouterLink, Navigate, useNavigate, useSearchParams } from 'react-router-dom';
import { safeNextPath } from '../../api/fieldError';
import { problemOf } from '../../api/problem';
import { sessionStarted } from '../../api/session';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { EmailField, FormTextField } from '../../components/FormTextField';
import { MutationForm } from '../../components/MutationForm';
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
    const problem = problemOf(mfaState);
    const submitCode = () => {
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
        <MutationForm
          onSubmit={submitCode}
          problem={problem}
          submitLabel="Verify"
          submitting={mfaState.isLoading}
          wideSubmit
          intro={
            <Typography>
              Enter the 6-digit code from your authenticator app, or one of your recovery codes.
            </Typography>
          }
          footer={
            <Button
              onClick={() => {
                setMfaToken(null);
                setCode('');
                mfaState.reset();
              }}
            >
              Start over
            </Button>
          }
        >
          <FormTextField
            label="Code"
            value={code}
            onChange={setCode}
            autoComplete="one-time-code"
            required
            // The code field replaces the form that had focus; without this focus would be lost.
            // eslint-disable-next-line jsx-a11y/no-autofocus
            autoFocus
            problem={problem}
            pointer="/code"
            slotProps={{ htmlInput: { spellCheck: false, autoCapitalize: 'none' } }}
          />
        </MutationForm>
      </AuthCard>
    );
  }

  const problem = problemOf(loginState);
  const submit = () => {
    void login({ email: email.trim(), password })
      .unwrap()
      .then(finish)
      .catch(() => undefined);
  };
  return (
    <AuthCard title="Sign in" subtitle="Welcome back to Nimbus.">
      <MutationForm
        onSubmit={submit}
        problem={problem}
        submitLabel="Sign in"
        submitting={loginState.isLoading}
        wideSubmit
        notice={
          <>
            {params.get('verified') === '1' && (
              <Alert severity="success">Your email address is verified. You can sign in now.</Alert>
            )}
            {params.get('reset') === '1' && (
              <Alert severity="success">Your password was changed. Sign in with the new one.</Alert>
            )}
          </>
        }
        footer={
          <>
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
          </>
        }
      >
        <EmailField value={email} onChange={setEmail} problem={problem} />
        <FormTextField
          label="Password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="current-password"
          required
          problem={problem}
          pointer="/password"
        />
      </MutationForm>
    </AuthCard>
  );
}
