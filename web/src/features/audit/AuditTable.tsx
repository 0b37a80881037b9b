import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { toProblem } from '../../api/problem';
import { DateTime } from '../../components/DateTime';
import { LoadingState } from '../../components/LoadingState';
import { ProblemAlert } from '../../components/ProblemAlert';
import { useListAuditQuery, type AuditEntry, type AuditScope } from './auditApi';

interface AuditTableProps {
  scope: AuditScope;
  /** Only actions starting with this, e.g. `nimbus.gateway.firewall.`. */
  action?: string;
  /** The table's accessible name. */
  label: string;
  limit?: number;
}

/** `nimbus.identity.login.failed` -> `identity login failed`: shorter, still exact. */
export function describeAction(action: string): string {
  return action
    .replace(/^nimbus\./, '')
    .replaceAll('.', ' ')
    .replaceAll('_', ' ');
}

function detailsText(entry: AuditEntry): string {
  return Object.entries(entry.details)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}

/** Audit entries newest first, a page at a time ("Older entries" follows the cursor). */
export function AuditTable({ scope, action, label, limit = 50 }: AuditTableProps) {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const page = useListAuditQuery({
    scope,
    ...(action === undefined ? {} : { action }),
    ...(cursor === undefined ? {} : { cursor }),
    limit,
  });
  if (page.isError) {
    return <ProblemAlert problem={toProblem(page.error)} onRetry={() => void page.refetch()} />;
  }
  if (page.data === undefined) return <LoadingState label="Loading the audit log" />;
  const next = page.data.next_cursor;
  return (
    <Stack spacing={2}>
      {page.data.data.length === 0 ? (
        <Typography color="text.secondary">No entries.</Typography>
      ) : (
        <TableContainer>
          <Table size="small" aria-label={label}>
            <TableHead>
              <TableRow>
                <TableCell>Time</TableCell>
                <TableCell>Action</TableCell>
                <TableCell>Actor</TableCell>
                <TableCell>Target</TableCell>
                <TableCell>IP address</TableCell>
                <TableCell>Details</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {page.data.data.map((entry) => (
                <TableRow key={entry.seq}>
                  <TableCell sx={{ whiteSpace: 'nowrap' }}>
                    <DateTime value={entry.time} />
                  </TableCell>
                  <TableCell>{describeAction(entry.action)}</TableCell>
                  <TableCell sx={{ overflowWrap: 'anywhere' }}>{entry.actor_id ?? '—'}</TableCell>
                  <TableCell sx={{ overflowWrap: 'anywhere' }}>{entry.target_id ?? '—'}</TableCell>
                  <TableCell>{entry.ip ?? '—'}</TableCell>
                  <TableCell sx={{ overflowWrap: 'anywhere' }}>{detailsText(entry)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      )}
      <Stack direction="row" spacing={1}>
        {cursors.length > 0 && (
          <Button
            onClick={() => {
              setCursors(cursors.slice(0, -1));
            }}
          >
            Newer entries
          </Button>
        )}
        {next !== null && (
          <Button
            onClick={() => {
              setCursors([...cursors, next]);
            }}
          >
            Older entries
          </Button>
        )}
      </Stack>
    </Stack>
  );
}
