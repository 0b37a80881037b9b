import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useState, type SyntheticEvent } from 'react';
import { problemOf, toProblem, type Problem } from '../../api/problem';
import { FormTextField } from '../../components/FormTextField';
import { LoadingState } from '../../components/LoadingState';
import { MutationForm } from '../../components/MutationForm';
import { ProblemAlert } from '../../components/ProblemAlert';
import { SectionCard } from '../../components/SectionCard';
import {
  useConfirmTotpMutation,
  useDisableTotpMutation,
  useGetMfaQuery,
  useRegenerateRecoveryCodesMutation,
  useStartTotpMutation,
  type MfaProof,
} from './mfaApi';

/** Ten codes shown once; each signs in once in place of the app's code. */
function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  return (
    <Alert
      severity="warning"
      action={
        <Button color="inherit" size="small" onClick={onDone}>
          I saved them
        </Button>
      }
    >
      <AlertTitle>Your recovery codes</AlertTitle>
      <Typography variant="body2" sx={{ mb: 1 }}>
        Keep them somewhere safe: each one signs you in once if you lose your authenticator. They
        are shown only now.
      </Typography>
      <Box
        component="ul"
        aria-label="Recovery codes"
        sx={{
          fontFamily: 'monospace',
          display: 'grid',
          gridTemplateColumns: 'repeat(2, max-content)',
          columnGap: 3,
          m: 0,
          pl: 2,
        }}
      >
        {codes.map((code) => (
          <li key={code}>{code}</li>
        ))}
      </Box>
    </Alert>
  );
}

/** A code or the password, to turn MFA off or replace the recovery codes. */
function ProofForm({
  label,
  busy,
  problem,
  onSubmit,
}: {
  label: string;
  busy: boolean;
  problem: Problem | undefined;
  onSubmit: (proof: MfaProof) => void;
}) {
  const [code, setCode] = useState('');
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    onSubmit({ code: code.trim() });
  };
  return (
    <Stack component="form" direction={{ xs: 'column', sm: 'row' }} spacing={2} onSubmit={submit}>
      <FormTextField
        label={`Code for “${label}”`}
        value={code}
        onChange={setCode}
        size="small"
        autoComplete="one-time-code"
        problem={problem}
        pointer="/code"
        hint="From your app, or a recovery code"
      />
      <div>
        <Button type="submit" variant="outlined" loading={busy}>
          {label}
        </Button>
      </div>
    </Stack>
  );
}

/** TOTP two-step sign-in: enrol with the QR code, confirm, keep recovery codes; or turn off. */
export function MfaCard() {
  const status = useGetMfaQuery(undefined);
  const [start, starting] = useStartTotpMutation();
  const [confirm, confirming] = useConfirmTotpMutation();
  const [disable, disabling] = useDisableTotpMutation();
  const [regenerate, regenerating] = useRegenerateRecoveryCodesMutation();
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);

  if (status.data === undefined) {
    return (
      <SectionCard title="Two-step verification">
        {status.isError ? (
          <ProblemAlert problem={toProblem(status.error)} />
        ) : (
          <LoadingState label="Loading two-step verification" />
        )}
      </SectionCard>
    );
  }
  const enabled = status.data.totp.enabled;
  const enrolment = starting.data;
  const confirmProblem = problemOf(confirming);

  return (
    <SectionCard title="Two-step verification">
      <Stack spacing={2}>
        <Stack direction="row" spacing={1} sx={{ alignItems: 'center' }}>
          <Typography>Authenticator app:</Typography>
          <Chip
            size="small"
            color={enabled ? 'success' : 'default'}
            label={enabled ? 'On' : 'Off'}
          />
          {enabled && (
            <Typography variant="body2" color="text.secondary">
              {status.data.recovery_codes_remaining} recovery codes left
            </Typography>
          )}
        </Stack>
        {codes !== null && (
          <RecoveryCodes
            codes={codes}
            onDone={() => {
              setCodes(null);
            }}
          />
        )}
        {starting.isError && <ProblemAlert problem={toProblem(starting.error)} />}
        {!enabled && enrolment === undefined && (
          <div>
            <Button
              variant="contained"
              loading={starting.isLoading}
              onClick={() => {
                void start(undefined);
              }}
            >
              Set up an authenticator app
            </Button>
          </div>
        )}
        {!enabled && enrolment !== undefined && (
          <MutationForm
            onSubmit={() => {
              void confirm({ code: code.trim() })
                .unwrap()
                .then((answer) => {
                  setCodes(answer.recovery_codes);
                  setCode('');
                  starting.reset();
                })
                .catch(() => undefined);
            }}
            problem={confirmProblem}
            submitLabel="Turn on"
            submitting={confirming.isLoading}
            intro={
              <>
                <Typography>
                  Scan this code with your authenticator app, then enter the 6-digit code it shows.
                </Typography>
                <Box
                  component="img"
                  src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qr_svg)}`}
                  alt="QR code for the authenticator app"
                  sx={{ width: 200, height: 200, bgcolor: 'common.white', p: 1, borderRadius: 1 }}
                />
                <Typography variant="body2">
                  Cannot scan? Enter this key:{' '}
                  <Typography
                    component="code"
                    sx={{ fontFamily: 'monospace', overflowWrap: 'anywhere' }}
                  >
                    {enrolment.secret}
                  </Typography>
                </Typography>
              </>
            }
          >
            <FormTextField
              label="Code from the app"
              value={code}
              onChange={setCode}
              autoComplete="one-time-code"
              required
              problem={confirmProblem}
              pointer="/code"
              slotProps={{ htmlInput: { inputMode: 'numeric' } }}
              sx={{ maxWidth: 240 }}
            />
          </MutationForm>
        )}
        {enabled && (
          <>
            <ProofForm
              label="New recovery codes"
              busy={regenerating.isLoading}
              problem={problemOf(regenerating)}
              onSubmit={(proof) => {
                void regenerate(proof)
                  .unwrap()
                  .then((answer) => {
                    setCodes(answer.recovery_codes);
                  })
                  .catch(() => undefined);
              }}
            />
            {regenerating.isError && <ProblemAlert problem={toProblem(regenerating.error)} />}
            <ProofForm
              label="Turn off"
              busy={disabling.isLoading}
              problem={problemOf(disabling)}
              onSubmit={(proof) => {
                void disable(proof);
              }}
            />
            {disabling.isError && <ProblemAlert problem={toProblem(disabling.error)} />}
          </>
        )}
      </Stack>
    </SectionCard>
  );
}
