import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Grid from '@mui/material/Grid';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import { useState, type SyntheticEvent } from 'react';
import { fieldError } from '../../api/fieldError';
import { toProblem } from '../../api/problem';
import { LoadingState } from '../../components/LoadingState';
import { PageHeader } from '../../components/PageHeader';
import { ProblemAlert } from '../../components/ProblemAlert';
import { SectionCard } from '../../components/SectionCard';
import { VisuallyHidden } from '../../components/VisuallyHidden';
import { OrgGate } from './OrgGate';
import {
  useCreateRoleMutation,
  useDeleteRoleMutation,
  useGetPermissionCatalogQuery,
  useListRolesQuery,
} from './orgsApi';
import { PermissionPicker } from './PermissionPicker';
import type { Org } from './types';

function CreateRoleForm({ org }: { org: Org }) {
  const catalog = useGetPermissionCatalogQuery(undefined);
  const [create, state] = useCreateRoleMutation();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [permissions, setPermissions] = useState<string[]>([]);
  const problem = state.isError ? toProblem(state.error) : undefined;
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
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
      <Stack component="form" spacing={2} onSubmit={submit} noValidate>
        {problem !== undefined && <ProblemAlert problem={problem} />}
        <TextField
          label="Role name"
          value={name}
          onChange={(event) => {
            setName(event.target.value);
          }}
          required
          error={fieldError(problem, '/name') !== undefined}
          helperText={fieldError(problem, '/name')}
        />
        <TextField
          label="Description"
          value={description}
          onChange={(event) => {
            setDescription(event.target.value);
          }}
          error={fieldError(problem, '/description') !== undefined}
          helperText={fieldError(problem, '/description')}
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
        <div>
          <Button type="submit" variant="contained" loading={state.isLoading}>
            Create role
          </Button>
        </div>
      </Stack>
    </SectionCard>
  );
}

function RolesContent({ org, can }: { org: Org; can: (permission: string) => boolean }) {
  const roles = useListRolesQuery(org.id);
  const [remove, removing] = useDeleteRoleMutation();
  const mayManage = can('org.roles.manage');
  return (
    <Grid container spacing={2}>
      <Grid size={12}>
        <SectionCard title="Roles">
          {removing.isError && <ProblemAlert problem={toProblem(removing.error)} />}
          {roles.data === undefined ? (
            roles.isError ? (
              <ProblemAlert problem={toProblem(roles.error)} />
            ) : (
              <LoadingState label="Loading roles" />
            )
          ) : (
            <TableContainer>
              <Table size="small" aria-label="Roles">
                <TableHead>
                  <TableRow>
                    <TableCell>Role</TableCell>
                    <TableCell>Permissions</TableCell>
                    <TableCell>
                      <VisuallyHidden>Actions</VisuallyHidden>
                    </TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {roles.data.data.map((role) => (
                    <TableRow key={role.id}>
                      <TableCell sx={{ verticalAlign: 'top' }}>
                        <strong>{role.name}</strong>{' '}
                        {role.builtin && <Chip size="small" label="built-in" />}
                        <br />
                        {role.description}
                      </TableCell>
                      <TableCell>
                        <Stack direction="row" sx={{ flexWrap: 'wrap', gap: 0.5 }}>
                          {role.permissions.map((permission) => (
                            <Chip
                              key={permission}
                              size="small"
                              variant="outlined"
                              label={permission}
                            />
                          ))}
                        </Stack>
                      </TableCell>
                      <TableCell align="right">
                        {mayManage && !role.builtin && (
                          <Button
                            size="small"
                            color="error"
                            aria-label={`Delete the role ${role.name}`}
                            onClick={() => {
                              void remove({ orgId: org.id, roleId: role.id });
                            }}
                          >
                            Delete
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
