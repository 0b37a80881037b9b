import Grid from '@mui/material/Grid';
import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import TableCell from '@mui/material/TableCell';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { problemOf } from '../../api/problem';
import { FormTextField } from '../../components/FormTextField';
import { ListTable } from '../../components/ListTable';
import { MutationForm } from '../../components/MutationForm';
import { PageHeader } from '../../components/PageHeader';
import { RowActionButton } from '../../components/RowActionButton';
import { SecretAlert } from '../../components/SecretAlert';
import { SectionCard } from '../../components/SectionCard';
import { useCursorList } from '../../components/useCursorList';
import { OrgGate } from '../orgs/OrgGate';
import type { Org } from '../orgs/types';
import {
  useCreateOAuthClientMutation,
  useDeleteOAuthClientMutation,
  useListOAuthClientsInfiniteQuery,
  type OAuthClient,
} from './oauthApi';

function lines(text: string): string[] {
  return text
    .split(/\s+/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

function Created({ client, onDone }: { client: OAuthClient; onDone: () => void }) {
  return (
    <SecretAlert title={`Client “${client.name}” registered`} onDone={onDone}>
      <Stack spacing={1}>
        <TextField
          label="Client ID"
          value={client.id}
          size="small"
          slotProps={{ htmlInput: { readOnly: true } }}
        />
        {client.client_secret !== undefined && (
          <>
            <Typography variant="body2">
              Copy the secret now: it is shown only this once.
            </Typography>
            <TextField
              label="Client secret"
              value={client.client_secret}
              size="small"
              slotProps={{ htmlInput: { readOnly: true, spellCheck: false } }}
            />
          </>
        )}
      </Stack>
    </SecretAlert>
  );
}

function RegisterForm({ org }: { org: Org }) {
  const [create, state] = useCreateOAuthClientMutation();
  const [name, setName] = useState('');
  const [type, setType] = useState<OAuthClient['type']>('confidential');
  const [redirects, setRedirects] = useState('');
  const [scopes, setScopes] = useState('openid profile email');
  const [created, setCreated] = useState<OAuthClient | null>(null);
  const problem = problemOf(state);
  const redirectError = problem?.errors?.find((error) =>
    error.pointer.startsWith('/redirect_uris'),
  )?.message;
  const submit = () => {
    void create({
      orgId: org.id,
      name: name.trim(),
      type,
      redirect_uris: lines(redirects),
      scopes: lines(scopes),
    })
      .unwrap()
      .then((client) => {
        setCreated(client);
        setName('');
        setRedirects('');
      })
      .catch(() => undefined);
  };
  return (
    <SectionCard title="Register a client">
      <MutationForm
        onSubmit={submit}
        problem={problem}
        submitLabel="Register client"
        submitting={state.isLoading}
        notice={
          created !== null && (
            <Created
              client={created}
              onDone={() => {
                setCreated(null);
              }}
            />
          )
        }
      >
        <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2}>
          <FormTextField
            label="Client name"
            value={name}
            onChange={setName}
            required
            problem={problem}
            pointer="/name"
            sx={{ flexGrow: 1 }}
          />
          <FormTextField
            select
            label="Type"
            value={type}
            onChange={(value) => {
              setType(value as OAuthClient['type']);
            }}
            sx={{ minWidth: 220 }}
          >
            <MenuItem value="confidential">Confidential (server)</MenuItem>
            <MenuItem value="public">Public (browser, mobile)</MenuItem>
          </FormTextField>
        </Stack>
        <FormTextField
          label="Redirect URIs"
          value={redirects}
          onChange={setRedirects}
          multiline
          minRows={2}
          invalid={redirectError}
          hint="One per line; https://, or http:// on localhost only."
        />
        <FormTextField
          label="Scopes"
          value={scopes}
          onChange={setScopes}
          problem={problem}
          pointer="/scopes"
          hint="Separated by spaces."
        />
      </MutationForm>
    </SectionCard>
  );
}

function ClientsContent({ org }: { org: Org }) {
  const clients = useCursorList(useListOAuthClientsInfiniteQuery(org.id));
  const [remove, removing] = useDeleteOAuthClientMutation();
  return (
    <Grid container spacing={2}>
      <Grid size={12}>
        <SectionCard title="Clients">
          <ListTable
            list={clients}
            actionProblem={problemOf(removing)}
            label="OAuth clients"
            itemsName="clients"
            loadingLabel="Loading clients"
            emptyText="No clients registered."
            columns={['Name', 'Client ID', 'Type', 'Redirect URIs']}
            rowKey={(client) => client.id}
            renderCells={(client) => (
              <>
                <TableCell>{client.name}</TableCell>
                <TableCell sx={{ fontFamily: 'monospace' }}>{client.id}</TableCell>
                <TableCell>{client.type}</TableCell>
                <TableCell sx={{ overflowWrap: 'anywhere' }}>
                  {client.redirect_uris.join(' ')}
                </TableCell>
                <TableCell align="right">
                  <RowActionButton
                    label={`Delete the client ${client.name}`}
                    onClick={() => {
                      void remove({ orgId: org.id, clientId: client.id });
                    }}
                  >
                    Delete
                  </RowActionButton>
                </TableCell>
              </>
            )}
          />
        </SectionCard>
      </Grid>
      <Grid size={12}>
        <RegisterForm org={org} />
      </Grid>
    </Grid>
  );
}

/** The organization's OAuth 2.0 / OpenID Connect clients. */
export default function OAuthClientsPage() {
  return (
    <>
      <PageHeader title="OAuth clients" subtitle="Applications that sign people in with Nimbus." />
      <OrgGate
        requires={{ permission: 'oauth.clients.manage', missing: 'does not manage OAuth clients' }}
      >
        {({ org }) => <ClientsContent key={org.id} org={org} />}
      </OrgGate>
    </>
  );
}
