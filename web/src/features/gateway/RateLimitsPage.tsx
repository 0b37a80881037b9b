import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import TableCell from '@mui/material/TableCell';
import { useState } from 'react';
import { problemOf } from '../../api/problem';
import { DateTime } from '../../components/DateTime';
import { FormTextField } from '../../components/FormTextField';
import { ListTable } from '../../components/ListTable';
import { MutationForm } from '../../components/MutationForm';
import { PageHeader } from '../../components/PageHeader';
import { RowActionButton } from '../../components/RowActionButton';
import { SectionCard } from '../../components/SectionCard';
import { useWholeList } from '../../components/useCursorList';
import {
  useDeleteOverrideMutation,
  useListOverridesQuery,
  usePutOverrideMutation,
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
  const problem = problemOf(state);
  const submit = () => {
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
    <MutationForm
      onSubmit={submit}
      problem={problem}
      submitLabel="Save override"
      submitting={state.isLoading}
    >
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2}>
        <FormTextField
          label="Key"
          value={draft.key}
          onChange={(key) => {
            setDraft({ ...draft, key });
          }}
          required
          problem={problem}
          pointer="/key"
          invalid={keyError ? 'A key is required.' : undefined}
          hint="user:<id>, key:<id>, client:<id>, org:<id> or ip:<address>"
          sx={{ flexGrow: 1 }}
          slotProps={{ htmlInput: { spellCheck: false } }}
        />
        <FormTextField
          label="Requests per minute"
          type="number"
          value={draft.requestsPerMinute}
          onChange={(requestsPerMinute) => {
            setDraft({ ...draft, requestsPerMinute });
          }}
          required
          problem={problem}
          pointer="/requests_per_minute"
          slotProps={{ htmlInput: { min: 1, inputMode: 'numeric' } }}
        />
        <FormTextField
          label="Burst"
          type="number"
          value={draft.burst}
          onChange={(burst) => {
            setDraft({ ...draft, burst });
          }}
          problem={problem}
          pointer="/burst"
          hint="0: as many as per minute"
          slotProps={{ htmlInput: { min: 0, inputMode: 'numeric' } }}
        />
      </Stack>
    </MutationForm>
  );
}

/** Operators: per-caller budgets that replace the configured defaults, applied at once. */
export default function RateLimitsPage() {
  const overrides = useWholeList(useListOverridesQuery(undefined));
  const [remove, removing] = useDeleteOverrideMutation();
  const [draft, setDraft] = useState<Draft>(kEmptyDraft);
  return (
    <>
      <PageHeader
        title="Rate limits"
        subtitle="Budgets for single users, keys, clients, organizations or addresses."
      />
      <Stack spacing={2}>
        <SectionCard title="Overrides">
          <ListTable
            list={overrides}
            actionProblem={problemOf(removing)}
            label="Rate-limit overrides"
            itemsName="overrides"
            loadingLabel="Loading overrides"
            emptyText="No overrides: every caller has the default."
            columns={[
              'Key',
              { label: 'Requests per minute', align: 'right' },
              { label: 'Burst', align: 'right' },
              'Updated',
            ]}
            rowKey={(override) => override.key}
            renderCells={(override) => (
              <>
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
                      setDraft({
                        key: override.key,
                        requestsPerMinute: String(override.requests_per_minute),
                        burst: String(override.burst),
                      });
                    }}
                  >
                    Edit
                  </Button>
                  <RowActionButton
                    label={`Delete the override of ${override.key}`}
                    onClick={() => {
                      void remove(override.key);
                    }}
                  >
                    Delete
                  </RowActionButton>
                </TableCell>
              </>
            )}
          />
        </SectionCard>
        <SectionCard title="Set an override">
          <OverrideForm draft={draft} setDraft={setDraft} />
        </SectionCard>
      </Stack>
    </>
  );
}
