import Button from '@mui/material/Button';
import Grid from '@mui/material/Grid';
import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import Alert from '@mui/material/Alert';
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
  useInviteMutation,
  useListInvitationsQuery,
  useListMembersQuery,
  useListRolesQuery,
  useRemoveMemberMutation,
  useRevokeInvitationMutation,
  useUpdateMemberRoleMutation,
} from './orgsApi';
import type { Org, Role } from './types';

interface OrgProps {
  org: Org;
  can: (permission: string) => boolean;
  roles: Role[];
}

function MembersCard({ org, can, roles }: OrgProps) {
  const members = useListMembersQuery(org.id);
  const [updateRole, updating] = useUpdateMemberRoleMutation();
  const [remove, removing] = useRemoveMemberMutation();
  const mayChangeRoles = can('org.members.update_role');
  const mayRemove = can('org.members.remove');
  return (
    <SectionCard title="Members">
      {updating.isError && <ProblemAlert problem={toProblem(updating.error)} />}
      {removing.isError && <ProblemAlert problem={toProblem(removing.error)} />}
      {members.data === undefined ? (
        members.isError ? (
          <ProblemAlert problem={toProblem(members.error)} />
        ) : (
          <LoadingState label="Loading members" />
        )
      ) : (
        <TableContainer>
          <Table size="small" aria-label="Members">
            <TableHead>
              <TableRow>
                <TableCell>Name</TableCell>
                <TableCell>Email</TableCell>
                <TableCell>Role</TableCell>
                <TableCell>Joined</TableCell>
                <TableCell>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {members.data.data.map((member) => (
                <TableRow key={member.user_id}>
                  <TableCell>{member.name || '—'}</TableCell>
                  <TableCell>{member.email}</TableCell>
                  <TableCell>
                    {mayChangeRoles && member.role !== 'owner' ? (
                      <TextField
                        select
                        size="small"
                        label={`Role of ${member.email}`}
                        value={member.role}
                        onChange={(event) => {
                          void updateRole({
                            orgId: org.id,
                            userId: member.user_id,
                            role: event.target.value,
                          });
                        }}
                        sx={{ minWidth: 160 }}
                      >
                        {roles
                          .filter((role) => role.id !== 'owner')
                          .map((role) => (
                            <MenuItem key={role.id} value={role.id}>
                              {role.name}
                            </MenuItem>
                          ))}
                      </TextField>
                    ) : (
                      member.role_name || member.role
                    )}
                  </TableCell>
                  <TableCell>
                    <DateTime value={member.joined_at} />
                  </TableCell>
                  <TableCell align="right">
                    {mayRemove && member.role !== 'owner' && (
                      <Button
                        size="small"
                        color="error"
                        aria-label={`Remove ${member.email}`}
                        onClick={() => {
                          void remove({ orgId: org.id, userId: member.user_id });
                        }}
                      >
                        Remove
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

function InviteForm({ org, roles }: OrgProps) {
  const [invite, state] = useInviteMutation();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('member');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const problem = state.isError ? toProblem(state.error) : undefined;
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    const address = email.trim();
    void invite({ orgId: org.id, email: address, role })
      .unwrap()
      .then(() => {
        setSentTo(address);
        setEmail('');
      })
      .catch(() => undefined);
  };
  return (
    <Stack component="form" spacing={2} onSubmit={submit} noValidate>
      {problem !== undefined && <ProblemAlert problem={problem} />}
      {sentTo !== null && state.isSuccess && (
        <Alert severity="success">Invitation sent to {sentTo}.</Alert>
      )}
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2}>
        <TextField
          label="Email to invite"
          type="email"
          value={email}
          onChange={(event) => {
            setEmail(event.target.value);
          }}
          required
          error={fieldError(problem, '/email') !== undefined}
          helperText={fieldError(problem, '/email')}
          sx={{ flexGrow: 1 }}
        />
        <TextField
          select
          label="Role"
          value={role}
          onChange={(event) => {
            setRole(event.target.value);
          }}
          error={fieldError(problem, '/role') !== undefined}
          helperText={fieldError(problem, '/role')}
          sx={{ minWidth: 160 }}
        >
          {roles
            .filter((item) => item.id !== 'owner')
            .map((item) => (
              <MenuItem key={item.id} value={item.id}>
                {item.name}
              </MenuItem>
            ))}
        </TextField>
      </Stack>
      <div>
        <Button type="submit" variant="contained" loading={state.isLoading}>
          Send invitation
        </Button>
      </div>
    </Stack>
  );
}

function InvitationsCard(props: OrgProps) {
  const { org, can } = props;
  const invitations = useListInvitationsQuery(org.id);
  const [revoke, revoking] = useRevokeInvitationMutation();
  const mayInvite = can('org.members.invite');
  return (
    <SectionCard title="Invitations">
      <Stack spacing={2}>
        {mayInvite && <InviteForm {...props} />}
        {revoking.isError && <ProblemAlert problem={toProblem(revoking.error)} />}
        {invitations.data === undefined ? (
          invitations.isError ? (
            <ProblemAlert problem={toProblem(invitations.error)} />
          ) : (
            <LoadingState label="Loading invitations" />
          )
        ) : invitations.data.data.length === 0 ? (
          <Typography color="text.secondary">No open invitations.</Typography>
        ) : (
          <TableContainer>
            <Table size="small" aria-label="Open invitations">
              <TableHead>
                <TableRow>
                  <TableCell>Email</TableCell>
                  <TableCell>Role</TableCell>
                  <TableCell>Expires</TableCell>
                  <TableCell>
                    <VisuallyHidden>Actions</VisuallyHidden>
                  </TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {invitations.data.data.map((invitation) => (
                  <TableRow key={invitation.id}>
                    <TableCell>{invitation.email}</TableCell>
                    <TableCell>{invitation.role}</TableCell>
                    <TableCell>
                      <DateTime value={invitation.expires_at} />
                    </TableCell>
                    <TableCell align="right">
                      {mayInvite && (
                        <Button
                          size="small"
                          color="error"
                          aria-label={`Revoke the invitation of ${invitation.email}`}
                          onClick={() => {
                            void revoke({ orgId: org.id, invitationId: invitation.id });
                          }}
                        >
                          Revoke
                        </Button>
                      )}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </TableContainer>
        )}
      </Stack>
    </SectionCard>
  );
}

function MembersContent({ org, can }: { org: Org; can: (permission: string) => boolean }) {
  const roles = useListRolesQuery(org.id);
  const props = { org, can, roles: roles.data?.data ?? [] };
  return (
    <Grid container spacing={2}>
      <Grid size={12}>
        <MembersCard {...props} />
      </Grid>
      <Grid size={12}>
        <InvitationsCard {...props} />
      </Grid>
    </Grid>
  );
}

/** The organization's members and their roles, and invitations to join. */
export default function MembersPage() {
  return (
    <>
      <PageHeader title="Members" subtitle="Who belongs to the organization, and in which role." />
      <OrgGate>{({ org, can }) => <MembersContent key={org.id} org={org} can={can} />}</OrgGate>
    </>
  );
}
