import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import List from '@mui/material/List';
import ListItem from '@mui/material/ListItem';
import ListItemText from '@mui/material/ListItemText';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useEffect, useRef } from 'react';
import { useSearchParams } from 'react-router-dom';
import { toProblem } from '../../api/problem';
import { LoadingState } from '../../components/LoadingState';
import { ProblemAlert } from '../../components/ProblemAlert';
import { AuthCard } from '../identity/AuthCard';
import { useDecideAuthorizationRequestMutation, useGetAuthorizationRequestQuery } from './oauthApi';

const kScopeText: Record<string, string> = {
  openid: 'Know who you are (your Nimbus account id)',
  profile: 'See your name',
  email: 'See your email address and whether it is verified',
  'account.self': 'Act on your account as you',
};

/**
 * Where `/oauth2/authorize` sends the browser (`/consent?request=oar_...`): the signed-in person
 * approves or denies what an application asks, and the browser goes back to it.
 */
export default function ConsentPage() {
  const [params] = useSearchParams();
  const requestId = params.get('request') ?? '';
  const request = useGetAuthorizationRequestQuery(requestId, { skip: requestId === '' });
  const [decide, decision] = useDecideAuthorizationRequestMutation();
  const decided = useRef(false);

  const answer = (approve: boolean) => {
    if (decided.current) return;
    decided.current = true;
    void decide({ id: requestId, approve })
      .unwrap()
      .then(({ redirect_to }) => {
        window.location.assign(redirect_to);
      })
      .catch(() => {
        decided.current = false;
      });
  };

  // Scopes approved before for this client: no need to ask again.
  const consented = request.data?.consented === true;
  useEffect(() => {
    if (consented) answer(true);
    // `answer` is stable in effect (guarded by the ref); only the answer's arrival matters.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [consented]);

  if (requestId === '') {
    return (
      <AuthCard title="Authorize an application">
        <Alert severity="warning">This page needs an authorization request.</Alert>
      </AuthCard>
    );
  }
  if (request.isError) {
    return (
      <AuthCard title="Authorize an application">
        <ProblemAlert problem={toProblem(request.error)} />
      </AuthCard>
    );
  }
  if (request.data === undefined || consented) {
    return (
      <AuthCard title="Authorize an application">
        <LoadingState label="Reading the request" />
      </AuthCard>
    );
  }
  const data = request.data;
  return (
    <AuthCard title={`Allow ${data.client_name}?`}>
      <Stack spacing={2}>
        <Typography>
          <strong>{data.client_name}</strong> asks to:
        </Typography>
        <List dense aria-label="Requested access">
          {data.scopes.map((scope) => (
            <ListItem key={scope}>
              <ListItemText primary={kScopeText[scope] ?? scope} secondary={scope} />
            </ListItem>
          ))}
        </List>
        <Typography variant="body2" color="text.secondary">
          You will be sent to {new URL(data.redirect_uri).origin}.
        </Typography>
        {decision.isError && <ProblemAlert problem={toProblem(decision.error)} />}
        <Stack direction="row" spacing={2}>
          <Button
            variant="contained"
            loading={decision.isLoading && decision.originalArgs?.approve === true}
            onClick={() => {
              answer(true);
            }}
          >
            Allow
          </Button>
          <Button
            variant="outlined"
            loading={decision.isLoading && decision.originalArgs?.approve === false}
            onClick={() => {
              answer(false);
            }}
          >
            Deny
          </Button>
        </Stack>
      </Stack>
    </AuthCard>
  );
}
