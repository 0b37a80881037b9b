import Chip from '@mui/material/Chip';
import TableCell from '@mui/material/TableCell';
import { toProblem } from '../../api/problem';
import { DateTime } from '../../components/DateTime';
import { ListTable } from '../../components/ListTable';
import { ProblemAlert } from '../../components/ProblemAlert';
import { RowActionButton } from '../../components/RowActionButton';
import { SectionCard } from '../../components/SectionCard';
import { useCursorList } from '../../components/useCursorList';
import { useListSessionsInfiniteQuery, useRevokeSessionMutation } from './identityApi';

/** The account's open sessions, each with a button to sign it out. */
export function SessionsCard() {
  const sessions = useCursorList(useListSessionsInfiniteQuery(undefined));
  const [revoke, revoking] = useRevokeSessionMutation();
  return (
    <SectionCard title="Sessions">
      {revoking.isError && <ProblemAlert problem={toProblem(revoking.error)} />}
      <ListTable
        list={sessions}
        label="Open sessions"
        itemsName="sessions"
        loadingLabel="Loading sessions"
        columns={['Device', 'IP address', 'Signed in', 'Last active']}
        retryable
        rowKey={(session) => session.id}
        renderCells={(session) => (
          <>
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
                <RowActionButton
                  label={`Sign out the session from ${session.ip || 'an unknown address'} on ${session.device || 'an unknown device'}`}
                  onClick={() => {
                    void revoke(session.id);
                  }}
                >
                  Sign out
                </RowActionButton>
              )}
            </TableCell>
          </>
        )}
      />
    </SectionCard>
  );
}
