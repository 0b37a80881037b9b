import Grid from '@mui/material/Grid';
import TableCell from '@mui/material/TableCell';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { fieldError } from '../../api/fieldError';
import { problemOf } from '../../api/problem';
import { DateTime } from '../../components/DateTime';
import { FormTextField } from '../../components/FormTextField';
import { ListTable } from '../../components/ListTable';
import { LoadingState } from '../../components/LoadingState';
import { MutationForm } from '../../components/MutationForm';
import { PageHeader } from '../../components/PageHeader';
import { RowActionButton } from '../../components/RowActionButton';
import { SecretAlert } from '../../components/SecretAlert';
import { SectionCard } from '../../components/SectionCard';
import { useCursorList } from '../../components/useCursorList';
import { OrgGate } from './OrgGate';
import {
  useCreateApiKeyMutation,
  useGetPermissionCatalogQuery,
  useListApiKeysInfiniteQuery,
  useRevokeApiKeyMutation,
} from './orgsApi';
import { PermissionPicker } from './PermissionPicker';
import type { CreatedApiKey, Org } from './types';

function NewKey({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  return (
    <SecretAlert title={`Key “${created.name}” created`} onDone={onDone}>
      <Typography variant="body2" sx={{ mb: 1 }}>
        Copy it now: it is shown only this once.
      </Typography>
      <TextField
        label="API key"
        value={created.key}
        fullWidth
        size="small"
        slotProps={{ htmlInput: { readOnly: true, spellCheck: false } }}
        onFocus={(event) => {
          event.target.select();
        }}
      />
    </SecretAlert>
  );
}

function CreateKeyForm({ org, held }: { org: Org; held: string[] }) {
  const catalog = useGetPermissionCatalogQuery(undefined);
  const [create, state] = useCreateApiKeyMutation();
  const [name, setName] = useState('');
  const [permissions, setPermissions] = useState<string[]>([]);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const problem = problemOf(state);
  const submit = () => {
    void create({ orgId: org.id, name: name.trim(), permissions })
      .unwrap()
      .then((key) => {
        setCreated(key);
        setName('');
        setPermissions([]);
      })
      .catch(() => undefined);
  };
  // A key gets at most what its creator holds; the server refuses more.
  const offered = (catalog.data?.permissions ?? []).filter((item) => held.includes(item.name));
  return (
    <SectionCard title="New API key">
      <MutationForm
        onSubmit={submit}
        problem={problem}
        submitLabel="Create key"
        submitting={state.isLoading}
        notice={
          created !== null && (
            <NewKey
              created={created}
              onDone={() => {
                setCreated(null);
              }}
            />
          )
        }
      >
        <FormTextField
          label="Key name"
          value={name}
          onChange={setName}
          required
          problem={problem}
          pointer="/name"
        />
        {catalog.data === undefined ? (
          <LoadingState label="Loading permissions" />
        ) : (
          <PermissionPicker
            label="Permissions"
            permissions={offered}
            selected={permissions}
            onChange={setPermissions}
            error={fieldError(problem, '/permissions')}
          />
        )}
      </MutationForm>
    </SectionCard>
  );
}

function KeysContent({ org }: { org: Org }) {
  const keys = useCursorList(useListApiKeysInfiniteQuery(org.id));
  const [revoke, revoking] = useRevokeApiKeyMutation();
  return (
    <Grid container spacing={2}>
      <Grid size={12}>
        <SectionCard title="Active keys">
          <ListTable
            list={keys}
            actionProblem={problemOf(revoking)}
            label="API keys"
            itemsName="API keys"
            loadingLabel="Loading API keys"
            emptyText="No API keys yet."
            columns={['Name', 'Permissions', 'Created', 'Last used']}
            rowKey={(key) => key.id}
            renderCells={(key) => (
              <>
                <TableCell>{key.name}</TableCell>
                <TableCell>{key.permissions.join(', ')}</TableCell>
                <TableCell>
                  <DateTime value={key.created_at} />
                </TableCell>
                <TableCell>
                  {key.last_used_at === null ? 'never' : <DateTime value={key.last_used_at} />}
                </TableCell>
                <TableCell align="right">
                  <RowActionButton
                    label={`Revoke the key ${key.name}`}
                    onClick={() => {
                      void revoke({ orgId: org.id, keyId: key.id });
                    }}
                  >
                    Revoke
                  </RowActionButton>
                </TableCell>
              </>
            )}
          />
        </SectionCard>
      </Grid>
      <Grid size={12}>
        <CreateKeyForm org={org} held={org.permissions ?? []} />
      </Grid>
    </Grid>
  );
}

/** The organization's API keys: for programs calling the API; each key's secret shown once. */
export default function ApiKeysPage() {
  return (
    <>
      <PageHeader title="API keys" subtitle="Keys for programs that call the Nimbus API." />
      <OrgGate requires={{ permission: 'api_keys.manage', missing: 'does not manage API keys' }}>
        {({ org }) => <KeysContent key={org.id} org={org} />}
      </OrgGate>
    </>
  );
}
