import Chip from '@mui/material/Chip';
import Grid from '@mui/material/Grid';
import Stack from '@mui/material/Stack';
import TableCell from '@mui/material/TableCell';
import { useState } from 'react';
import { fieldError } from '../../api/fieldError';
import { problemOf } from '../../api/problem';
import { FormTextField } from '../../components/FormTextField';
import { ListTable } from '../../components/ListTable';
import { LoadingState } from '../../components/LoadingState';
import { MutationForm } from '../../components/MutationForm';
import { PageHeader } from '../../components/PageHeader';
import { RowActionButton } from '../../components/RowActionButton';
import { SectionCard } from '../../components/SectionCard';
import { useCursorList } from '../../components/useCursorList';
import { OrgGate } from './OrgGate';
import {
  useCreateRoleMutation,
  useDeleteRoleMutation,
  useGetPermissionCatalogQuery,
  useListRolesInfiniteQuery,
} from './orgsApi';
import { PermissionPicker } from './PermissionPicker';
import type { Org } from './types';

function CreateRoleForm({ org }: { org: Org }) {
  const catalog = useGetPermissionCatalogQuery(undefined);
  const [create, state] = useCreateRoleMutation();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [permissions, setPermissions] = useState<string[]>([]);
  const problem = problemOf(state);
  const submit = () => {
    void create({ orgId: org.id, name: name.trim(), description: description.trim(), permissions })
      .unwrap()
      .then(() => {
        setName('');
        setDescription('');
        setPermissions([]);
      })
      .catch(() => undefined);
  };
  return (
    <SectionCard title="New custom role">
      <MutationForm
        onSubmit={submit}
        problem={problem}
        submitLabel="Create role"
        submitting={state.isLoading}
      >
        <FormTextField
          label="Role name"
          value={name}
          onChange={setName}
          required
          problem={problem}
          pointer="/name"
        />
        <FormTextField
          label="Description"
          value={description}
          onChange={setDescription}
          problem={problem}
          pointer="/description"
        />
        {catalog.data === undefined ? (
          <LoadingState label="Loading permissions" />
        ) : (
          <PermissionPicker
            label="Permissions"
            permissions={catalog.data.permissions}
            selected={permissions}
            onChange={setPermissions}
            error={fieldError(problem, '/permissions')}
          />
        )}
      </MutationForm>
    </SectionCard>
  );
}

function RolesContent({ org, can }: { org: Org; can: (permission: string) => boolean }) {
  const roles = useCursorList(useListRolesInfiniteQuery(org.id));
  const [remove, removing] = useDeleteRoleMutation();
  const mayManage = can('org.roles.manage');
  return (
    <Grid container spacing={2}>
      <Grid size={12}>
        <SectionCard title="Roles">
          <ListTable
            list={roles}
            actionProblem={problemOf(removing)}
            label="Roles"
            itemsName="roles"
            loadingLabel="Loading roles"
            columns={['Role', 'Permissions']}
            rowKey={(role) => role.id}
            renderCells={(role) => (
              <>
                <TableCell sx={{ verticalAlign: 'top' }}>
                  <strong>{role.name}</strong>{' '}
                  {role.builtin && <Chip size="small" label="built-in" />}
                  <br />
                  {role.description}
                </TableCell>
                <TableCell>
                  <Stack direction="row" sx={{ flexWrap: 'wrap', gap: 0.5 }}>
                    {role.permissions.map((permission) => (
                      <Chip key={permission} size="small" variant="outlined" label={permission} />
                    ))}
                  </Stack>
                </TableCell>
                <TableCell align="right">
                  {mayManage && !role.builtin && (
                    <RowActionButton
                      label={`Delete the role ${role.name}`}
                      onClick={() => {
                        void remove({ orgId: org.id, roleId: role.id });
                      }}
                    >
                      Delete
                    </RowActionButton>
                  )}
                </TableCell>
              </>
            )}
          />
        </SectionCard>
      </Grid>
      {mayManage && (
        <Grid size={12}>
          <CreateRoleForm org={org} />
        </Grid>
      )}
    </Grid>
  );
}

/** Built-in and custom roles; custom ones are made from the permission list. */
export default function RolesPage() {
  return (
    <>
      <PageHeader title="Roles" subtitle="What each role may do in the organization." />
      <OrgGate>{({ org, can }) => <RolesContent key={org.id} org={org} can={can} />}</OrgGate>
    </>
  );
}
