import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState, type SyntheticEvent } from 'react';
import { fieldError } from '../../api/fieldError';
import { toProblem } from '../../api/problem';
import { DateTime } from '../../components/DateTime';
import { LoadingState } from '../../components/LoadingState';
import { PageHeader } from '../../components/PageHeader';
import { ProblemAlert } from '../../components/ProblemAlert';
import { SectionCard } from '../../components/SectionCard';
import { VisuallyHidden } from '../../components/VisuallyHidden';
import {
  useDeleteOverrideMutation,
  useListOverridesQuery,
  usePutOverrideMutation,
  type RateLimitOverride,
} from './gatewayApi';

interface Draft {
  key: string;
  requestsPerMinute: string;
  burst: string;
}

const kEmptyDraft: Draft = { key: '', requestsPerMinute: '', burst: '0' };

function OverrideForm({ draft, setDraft }: { draft: Draft; setDraft: (draft: Draft) => void }) {
  const [put, state] = usePutOverrideMutation();
  const [keyError, setKeyError] = useState(false);
  const problem = state.isError ? toProblem(state.error) : undefined;
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    const key = draft.key.trim();
    // An empty key would PUT to the collection itself; say so here instead.
    setKeyError(key === '');
    if (key === '') return;
    void put({
      key,
      requests_per_minute: Number(draft.requestsPerMinute),
      burst: draft.burst.trim() === '' ? 0 : Number(draft.burst),
    })
      .unwrap()
      .then(() => {
        setDraft(kEmptyDraft);
      })
      .catch(() => undefined);
  };
  return (
    <Stack component="form" spacing={2} onSubmit={submit} noValidate>
      {problem !== undefined && <ProblemAlert problem={problem} />}
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2}>
        <TextField
          label="Key"
          value={draft.key}
          onChange={(event) => {
            setDraft({ ...draft, key: event.target.value });
          }}
          required
          error={keyError || fieldError(problem, '/key') !== undefined}
          helperText={
            keyError
              ? 'A key is required.'
              : (fieldError(problem, '/key') ??
                'user:<id>, key:<id>, client:<id>, org:<id> or ip:<address>')
          }
          sx={{ flexGrow: 1 }}
          slotProps={{ htmlInput: { spellCheck: false } }}
        />
        <TextField
          label="Requests per minute"
          type="number"
          value={draft.requestsPerMinute}
          onChange={(event) => {
            setDraft({ ...draft, requestsPerMinute: event.target.value });
          }}
          required
          error={fieldError(problem, '/requests_per_minute') !== undefined}
          helperText={fieldError(problem, '/requests_per_minute')}
          slotProps={{ htmlInput: { min: 1, inputMode: 'numeric' } }}
        />
        <TextField
          label="Burst"
          type="number"
          value={draft.burst}
          onChange={(event) => {
            setDraft({ ...draft, burst: event.target.value });
          }}
          error={fieldError(problem, '/burst') !== undefined}
          helperText={fieldError(problem, '/burst') ?? '0: as many as per minute'}
          slotProps={{ htmlInput: { min: 0, inputMode: 'numeric' } }}
        />
      </Stack>
      <div>
        <Button type="submit" variant="contained" loading={state.isLoading}>
          Save override
        </Button>
      </div>
    </Stack>
  );
}

function OverridesTable({
  overrides,
  onEdit,
}: {
  overrides: RateLimitOverride[];
  onEdit: (override: RateLimitOverride) => void;
}) {
  const [remove, removing] = useDeleteOverrideMutation();
  if (overrides.length === 0) {
    return (
      <Typography color="text.secondary">No overrides: every caller has the default.</Typography>
    );
  }
  return (
    <>
      {removing.isError && <ProblemAlert problem={toProblem(removing.error)} />}
      <TableContainer>
        <Table size="small" aria-label="Rate-limit overrides">
          <TableHead>
            <TableRow>
              <TableCell>Key</TableCell>
              <TableCell align="right">Requests per minute</TableCell>
              <TableCell align="right">Burst</TableCell>
              <TableCell>Updated</TableCell>
              <TableCell>
                <VisuallyHidden>Actions</VisuallyHidden>
              </TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {overrides.map((override) => (
              <TableRow key={override.key}>
                <TableCell sx={{ fontFamily: 'monospace', overflowWrap: 'anywhere' }}>
                  {override.key}
                </TableCell>
                <TableCell align="right">{override.requests_per_minute}</TableCell>
                <TableCell align="right">{override.burst}</TableCell>
                <TableCell>
                  <DateTime value={override.updated_at} />
                </TableCell>
                <TableCell align="right" sx={{ whiteSpace: 'nowrap' }}>
                  <Button
                    size="small"
                    aria-label={`Edit the override of ${override.key}`}
                    onClick={() => {
                      onEdit(override);
                    }}
                  >
                    Edit
                  </Button>
                  <Button
                    size="small"
                    color="error"
                    aria-label={`Delete the override of ${override.key}`}
                    onClick={() => {
                      void remove(override.key);
                    }}
                  >
                    Delete
                  </Button>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </TableContainer>
    </>
  );
}

/** Operators: per-caller budgets that replace the configured defaults, applied at once. */
export default function RateLimitsPage() {
  const overrides = useListOverridesQuery(undefined);
  const [draft, setDraft] = useState<Draft>(kEmptyDraft);
  return (
    <>
      <PageHeader
        title="Rate limits"
        subtitle="Budgets for single users, keys, clients, organizations or addresses."
      />
      <Stack spacing={2}>
        <SectionCard title="Overrides">
          {overrides.data === undefined ? (
            overrides.isError ? (
              <ProblemAlert problem={toProblem(overrides.error)} />
            ) : (
              <LoadingState label="Loading overrides" />
            )
          ) : (
            <OverridesTable
              overrides={overrides.data.data}
              onEdit={(override) => {
                setDraft({
                  key: override.key,
                  requestsPerMinute: String(override.requests_per_minute),
                  burst: String(override.burst),
                });
              }}
            />
          )}
        </SectionCard>
        <SectionCard title="Set an override">
          <OverrideForm draft={draft} setDraft={setDraft} />
        </SectionCard>
      </Stack>
    </>
  );
}
