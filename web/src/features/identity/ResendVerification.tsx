import Alert from '@mui/material/Alert';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { problemOf } from '../../api/problem';
import { EmailField } from '../../components/FormTextField';
import { MutationForm } from '../../components/MutationForm';
import { useResendVerificationMutation } from './identityApi';

/** The neutral words of a sent request: the server answers alike for every address. */
export const resendConfirmation =
  'If an account with this address needs verifying, a new link is on its way.';

/**
 * "Send a new link": asks `POST /api/v1/auth/verify-email/resend` for a new verification mail.
 * The answer never says whether the address has an account, so neither does the confirmation.
 * Earlier links stop working once the new one is sent.
 */
export function ResendVerification({
  initialEmail = '',
  intro,
  wideSubmit = false,
}: {
  /** The address to prefill, when the page knows it. */
  initialEmail?: string;
  /** What the form is for, shown above it until it succeeds. */
  intro?: string;
  /** A submit button as wide as the form (on the sign-in style cards). */
  wideSubmit?: boolean;
}) {
  const [resend, state] = useResendVerificationMutation();
  const [email, setEmail] = useState(initialEmail);
  const problem = problemOf(state);
  return (
    <MutationForm
      onSubmit={() => {
        void resend({ email: email.trim() });
      }}
      problem={problem}
      submitLabel="Send a new link"
      submitting={state.isLoading}
      wideSubmit={wideSubmit}
      intro={intro !== undefined && !state.isSuccess && <Typography>{intro}</Typography>}
      notice={state.isSuccess && <Alert severity="success">{resendConfirmation}</Alert>}
    >
      <EmailField value={email} onChange={setEmail} problem={problem} />
    </MutationForm>
  );
}
