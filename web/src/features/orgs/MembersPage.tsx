import Alert from '@mui/material/Alert';
import Grid from '@mui/material/Grid';
import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import TableCell from '@mui/material/TableCell';
import { useState } from 'react';
import { problemOf, toProblem } from '../../api/problem';
import { DateTime } from '../../components/DateTime';
import { FormTextField } from '../../components/FormTextField';
import { ListTable } from '../../components/ListTable';
import { MutationForm } from '../../components/MutationForm';
import { PageHeader } from '../../components/PageHeader';
import { ProblemAlert } from '../../components/ProblemAlert';
import { RowActionButton } from '../../components/RowActionButton';
import { SectionCard } from '../../components/SectionCard';
import { useCursorList } from '../../components/useCursorList';
import { OrgGate } from './OrgGate';
import {
  useInviteMutation,
  useListInvitationsInfiniteQuery,
  useListMembersInfiniteQuery,
  useListAllRolesQuery,
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

/** The roles a member may be given or invited as: every one but owner. */
function roleOptions(roles: Role[]) {
  return roles
    .filter((role) => role.id !== 'owner')
    .map((role) => (
      <MenuItem key={role.id} value={role.id}>
        {role.name}
      </MenuItem>
    ));
}

function MembersCard({ org, can, roles }: OrgProps) {
  const members = useCursorList(useListMembersInfiniteQuery(org.id));
  const [updateRole, updating] = useUpdateMemberRoleMutation();
  const [remove, removing] = useRemoveMemberMutation();
  const mayChangeRoles = can('org.members.update_role');
  const mayRemove = can('org.members.remove');
  return (
    <SectionCard title="Members">
      {updating.isError && <ProblemAlert problem={toProblem(updating.error)} />}
      <ListTable
        list={members}
        actionProblem={problemOf(removing)}
        label="Members"
        itemsName="members"
        loadingLabel="Loading members"
        columns={['Name', 'Email', 'Role', 'Joined']}
        rowKey={(member) => member.user_id}
        renderCells={(member) => (
          <>
            <TableCell>{member.name || '—'}</TableCell>
            <TableCell>{member.email}</TableCell>
            <TableCell>
              {mayChangeRoles && member.role !== 'owner' ? (
                <FormTextField
                  select
                  size="small"
                  label={`Role of ${member.email}`}
                  value={member.role}
                  onChange={(role) => {
                    void updateRole({ orgId: org.id, userId: member.user_id, role });
                  }}
                  sx={{ minWidth: 160 }}
                >
                  {roleOptions(roles)}
                </FormTextField>
              ) : (
                member.role_name || member.role
              )}
            </TableCell>
            <TableCell>
              <DateTime value={member.joined_at} />
            </TableCell>
            <TableCell align="right">
              {mayRemove && member.role !== 'owner' && (
                <RowActionButton
                  label={`Remove ${member.email}`}
                  onClick={() => {
                    void remove({ orgId: org.id, userId: member.user_id });
                  }}
                >
                  Remove
                </RowActionButton>
              )}
            </TableCell>
          </>
        )}
      />
    </SectionCard>
  );
}

function InviteForm({ org, roles }: OrgProps) {
  const [invite, state] = useInviteMutation();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('member');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const problem = problemOf(state);
  const submit = () => {
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
    <MutationForm
      onSubmit={submit}
      problem={problem}
      submitLabel="Send invitation"
      submitting={state.isLoading}
      notice={
        sentTo !== null &&
        state.isSuccess && <Alert severity="success">Invitation sent to {sentTo}.</Alert>
      }
    >
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2}>
        <FormTextField
          label="Email to invite"
          type="email"
          value={email}
          onChange={setEmail}
          required
          problem={problem}
          pointer="/email"
          sx={{ flexGrow: 1 }}
        />
        <FormTextField
          select
          label="Role"
          value={role}
          onChange={setRole}
          problem={problem}
          pointer="/role"
          sx={{ minWidth: 160 }}
        >
          {roleOptions(roles)}
        </FormTextField>
      </Stack>
    </MutationForm>
  );
}

function InvitationsCard(props: OrgProps) {
  const { org, can } = props;
  const invitations = useCursorList(useListInvitationsInfiniteQuery(org.id));
  const [revoke, revoking] = useRevokeInvitationMutation();
  const mayInvite = can('org.members.invite');
  return (
    <SectionCard title="Invitations">
      <Stack spacing={2}>
        {mayInvite && <InviteForm {...props} />}
        <ListTable
          list={invitations}
          actionProblem={problemOf(revoking)}
          label="Open invitations"
          itemsName="invitations"
          loadingLabel="Loading invitations"
          emptyText="No open invitations."
          columns={['Email', 'Role', 'Expires']}
          rowKey={(invitation) => invitation.id}
          renderCells={(invitation) => (
            <>
              <TableCell>{invitation.email}</TableCell>
              <TableCell>{invitation.role}</TableCell>
              <TableCell>
                <DateTime value={invitation.expires_at} />
              </TableCell>
              <TableCell align="right">
                {mayInvite && (
                  <RowActionButton
                    label={`Revoke the invitation of ${invitation.email}`}
                    onClick={() => {
                      void revoke({ orgId: org.id, invitationId: invitation.id });
                    }}
                  >
                    Revoke
                  </RowActionButton>
                )}
              </TableCell>
            </>
          )}
        />
      </Stack>
    </SectionCard>
  );
}

function MembersContent({ org, can }: { org: Org; can: (permission: string) => boolean }) {
  // Every role, however many pages the server splits them into: the role menus offer them all.
  const roles = useListAllRolesQuery(org.id);
  const props = { org, can, roles: roles.data ?? [] };
  return (
    <Grid container spacing={2}>
      {roles.isError && (can('org.members.update_role') || can('org.members.invite')) && (
        <Grid size={12}>
          <ProblemAlert problem={toProblem(roles.error)} onRetry={() => void roles.refetch()} />
        </Grid>
      )}
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
