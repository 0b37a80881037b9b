import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useEffect } from 'react';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { toProblem } from '../../api/problem';
import { orgSelected } from '../../api/session';
import { useAppDispatch } from '../../app/hooks';
import { DateTime } from '../../components/DateTime';
import { LoadingState } from '../../components/LoadingState';
import { ProblemAlert } from '../../components/ProblemAlert';
import { AuthCard } from '../identity/AuthCard';
import { useAcceptInvitationMutation, usePreviewInvitationMutation } from './orgsApi';

/**
 * The page an invitation mail links to (`/accept-invitation?token=...`). Signed-out visitors sign
 * in (or sign up) first and come back here; the invitation must be for their verified email.
 */
export default function AcceptInvitationPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const dispatch = useAppDispatch();
  const navigate = useNavigate();
  const [preview, previewState] = usePreviewInvitationMutation();
  const [accept, acceptState] = useAcceptInvitationMutation();

  useEffect(() => {
    if (token !== '') void preview({ token });
  }, [token, preview]);

  if (token === '') {
    return (
      <AuthCard title="Join an organization">
        <Alert severity="warning">
          This link has no token. Open the link from the mail exactly as it was sent.
        </Alert>
      </AuthCard>
    );
  }
  const offer = previewState.data;
  return (
    <AuthCard title="Join an organization">
      <Stack spacing={2}>
        {previewState.isError && <ProblemAlert problem={toProblem(previewState.error)} />}
        {acceptState.isError && <ProblemAlert problem={toProblem(acceptState.error)} />}
        {offer === undefined ? (
          !previewState.isError && <LoadingState label="Reading the invitation" />
        ) : (
          <>
            <Typography>
              You are invited to <strong>{offer.org_name}</strong> as <strong>{offer.role}</strong>.
            </Typography>
            <Typography variant="body2" color="text.secondary">
              For {offer.email}; valid until <DateTime value={offer.expires_at} />.
            </Typography>
            <Button
              variant="contained"
              loading={acceptState.isLoading}
              onClick={() => {
                void accept({ token })
                  .unwrap()
                  .then((org) => {
                    dispatch(orgSelected(org.id));
                    navigate('/org');
                  })
                  .catch(() => undefined);
              }}
            >
              Accept invitation
            </Button>
          </>
        )}
      </Stack>
    </AuthCard>
  );
}
