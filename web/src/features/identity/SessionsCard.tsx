import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import { toProblem } from '../../api/problem';
import { DateTime } from '../../components/DateTime';
import { LoadingState } from '../../components/LoadingState';
import { ProblemAlert } from '../../components/ProblemAlert';
import { SectionCard } from '../../components/SectionCard';
import { VisuallyHidden } from '../../components/VisuallyHidden';
import { useListSessionsQuery, useRevokeSessionMutation } from './identityApi';

/** The account's open sessions, each with a button to sign it out. */
export function SessionsCard() {
  const sessions = useListSessionsQuery(undefined);
  const [revoke, revoking] = useRevokeSessionMutation();
  return (
    <SectionCard title="Sessions">
      {revoking.isError && <ProblemAlert problem={toProblem(revoking.error)} />}
      {sessions.data === undefined ? (
        sessions.isError ? (
          <ProblemAlert
            problem={toProblem(sessions.error)}
            onRetry={() => void sessions.refetch()}
          />
        ) : (
          <LoadingState label="Loading sessions" />
        )
      ) : (
        <TableContainer>
          <Table size="small" aria-label="Open sessions">
            <TableHead>
              <TableRow>
                <TableCell>Device</TableCell>
                <TableCell>IP address</TableCell>
                <TableCell>Signed in</TableCell>
                <TableCell>Last active</TableCell>
                <TableCell>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {sessions.data.data.map((session) => (
                <TableRow key={session.id}>
                  <TableCell>
                    {session.device || session.user_agent || 'Unknown device'}{' '}
                    {session.current && <Chip size="small" color="primary" label="This session" />}
                  </TableCell>
                  <TableCell>{session.ip}</TableCell>
                  <TableCell>
                    <DateTime value={session.created_at} />
                  </TableCell>
                  <TableCell>
                    <DateTime value={session.last_seen_at} />
                  </TableCell>
                  <TableCell align="right">
                    {!session.current && (
                      <Button
                        size="small"
                        color="error"
                        aria-label={`Sign out the session from ${session.ip || 'an unknown address'} on ${session.device || 'an unknown device'}`}
                        onClick={() => {
                          void revoke(session.id);
                        }}
                      >
                        Sign out
                      </Button>
                    )}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      )}
    </SectionCard>
  );
}
