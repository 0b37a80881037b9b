import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Button from '@mui/material/Button';
import Grid from '@mui/material/Grid';
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
import { OrgGate } from './OrgGate';
import {
  useCreateApiKeyMutation,
  useGetPermissionCatalogQuery,
  useListApiKeysQuery,
  useRevokeApiKeyMutation,
} from './orgsApi';
import { PermissionPicker } from './PermissionPicker';
import type { CreatedApiKey, Org } from './types';

function NewKey({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  return (
    <Alert
      severity="success"
      action={
        <Button color="inherit" size="small" onClick={onDone}>
          Done
        </Button>
      }
    >
      <AlertTitle>Key “{created.name}” created</AlertTitle>
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
    </Alert>
  );
}

function CreateKeyForm({ org, held }: { org: Org; held: string[] }) {
  const catalog = useGetPermissionCatalogQuery(undefined);
  const [create, state] = useCreateApiKeyMutation();
  const [name, setName] = useState('');
  const [permissions, setPermissions] = useState<string[]>([]);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const problem = state.isError ? toProblem(state.error) : undefined;
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
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
      <Stack component="form" spacing={2} onSubmit={submit} noValidate>
        {created !== null && (
          <NewKey
            created={created}
            onDone={() => {
              setCreated(null);
            }}
          />
        )}
        {problem !== undefined && <ProblemAlert problem={problem} />}
        <TextField
          label="Key name"
          value={name}
          onChange={(event) => {
            setName(event.target.value);
          }}
          required
          error={fieldError(problem, '/name') !== undefined}
          helperText={fieldError(problem, '/name')}
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
        <div>
          <Button type="submit" variant="contained" loading={state.isLoading}>
            Create key
          </Button>
        </div>
      </Stack>
    </SectionCard>
  );
}

function KeysContent({ org }: { org: Org }) {
  const keys = useListApiKeysQuery(org.id);
  const [revoke, revoking] = useRevokeApiKeyMutation();
  return (
    <Grid container spacing={2}>
      <Grid size={12}>
        <SectionCard title="Active keys">
          {revoking.isError && <ProblemAlert problem={toProblem(revoking.error)} />}
          {keys.data === undefined ? (
            keys.isError ? (
              <ProblemAlert problem={toProblem(keys.error)} />
            ) : (
              <LoadingState label="Loading API keys" />
            )
          ) : keys.data.data.length === 0 ? (
            <Typography color="text.secondary">No API keys yet.</Typography>
          ) : (
            <TableContainer>
              <Table size="small" aria-label="API keys">
                <TableHead>
                  <TableRow>
                    <TableCell>Name</TableCell>
                    <TableCell>Permissions</TableCell>
                    <TableCell>Created</TableCell>
                    <TableCell>Last used</TableCell>
                    <TableCell>
                      <VisuallyHidden>Actions</VisuallyHidden>
                    </TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {keys.data.data.map((key) => (
                    <TableRow key={key.id}>
                      <TableCell>{key.name}</TableCell>
                      <TableCell>{key.permissions.join(', ')}</TableCell>
                      <TableCell>
                        <DateTime value={key.created_at} />
                      </TableCell>
                      <TableCell>
                        {key.last_used_at === null ? (
                          'never'
                        ) : (
                          <DateTime value={key.last_used_at} />
                        )}
                      </TableCell>
                      <TableCell align="right">
                        <Button
                          size="small"
                          color="error"
                          aria-label={`Revoke the key ${key.name}`}
                          onClick={() => {
                            void revoke({ orgId: org.id, keyId: key.id });
                          }}
                        >
                          Revoke
                        </Button>
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
          )}
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
      <OrgGate>
        {({ org, can }) =>
          can('api_keys.manage') ? (
            <KeysContent key={org.id} org={org} />
          ) : (
            <Typography>Your role in {org.name} does not manage API keys.</Typography>
          )
        }
      </OrgGate>
    </>
  );
}
