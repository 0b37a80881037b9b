import Chip from '@mui/material/Chip';
import Grid from '@mui/material/Grid';
import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import TableCell from '@mui/material/TableCell';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { problemOf } from '../../api/problem';
import { DateTime } from '../../components/DateTime';
import { FormTextField } from '../../components/FormTextField';
import { ListTable } from '../../components/ListTable';
import { LoadingState } from '../../components/LoadingState';
import { MutationForm } from '../../components/MutationForm';
import { PageHeader } from '../../components/PageHeader';
import { PropertyList } from '../../components/PropertyList';
import { RowActionButton } from '../../components/RowActionButton';
import { SectionCard } from '../../components/SectionCard';
import { useWholeList } from '../../components/useCursorList';
import { AuditTable } from '../audit/AuditTable';
import {
  useAddIpRuleMutation,
  useDeleteIpRuleMutation,
  useGetFirewallStatusQuery,
  useListIpRulesQuery,
  type NewIpRule,
} from './gatewayApi';

function ModeCard() {
  const status = useGetFirewallStatusQuery(undefined);
  return (
    <SectionCard title="Web application firewall">
      {status.data !== undefined ? (
        <PropertyList
          properties={[
            { term: 'Enabled', value: status.data.enabled ? 'Yes' : 'No' },
            {
              term: 'Mode',
              value: (
                <Chip
                  size="small"
                  color={status.data.mode === 'blocking' ? 'success' : 'warning'}
                  label={status.data.mode}
                />
              ),
            },
            ...(status.data.paranoia_level === undefined
              ? []
              : [{ term: 'Paranoia level', value: String(status.data.paranoia_level) }]),
            ...(status.data.inbound_anomaly_threshold === undefined
              ? []
              : [
                  {
                    term: 'Anomaly threshold',
                    value: String(status.data.inbound_anomaly_threshold),
                  },
                ]),
            ...(status.data.rule_exclusions === undefined
              ? []
              : [
                  {
                    term: 'Routes with rule exclusions',
                    value: String(status.data.rule_exclusions),
                  },
                ]),
            ...(status.data.prefilter_active === undefined
              ? []
              : [
                  {
                    term: 'Prefilter',
                    value: status.data.prefilter_active ? 'Active' : 'Not active',
                  },
                ]),
          ]}
        />
      ) : status.isLoading ? (
        <LoadingState label="Loading the firewall's settings" />
      ) : (
        <Typography color="text.secondary">
          This server does not report its firewall mode over the API; see the `firewall.*` settings
          (`nimbus config show`).
        </Typography>
      )}
    </SectionCard>
  );
}

function AddRuleForm() {
  const [add, state] = useAddIpRuleMutation();
  const [rule, setRule] = useState<NewIpRule>({
    kind: 'cidr',
    action: 'deny',
    value: '',
    note: '',
  });
  const problem = problemOf(state);
  const submit = () => {
    void add({ ...rule, value: rule.value.trim(), note: rule.note.trim() })
      .unwrap()
      .then(() => {
        setRule({ ...rule, value: '', note: '' });
      })
      .catch(() => undefined);
  };
  return (
    <MutationForm
      onSubmit={submit}
      problem={problem}
      submitLabel="Add rule"
      submitting={state.isLoading}
    >
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2}>
        <FormTextField
          select
          label="Kind"
          value={rule.kind}
          onChange={(kind) => {
            setRule({ ...rule, kind: kind as NewIpRule['kind'] });
          }}
          sx={{ minWidth: 140 }}
        >
          <MenuItem value="cidr">IP range (CIDR)</MenuItem>
          <MenuItem value="country">Country</MenuItem>
        </FormTextField>
        <FormTextField
          select
          label="Action"
          value={rule.action}
          onChange={(action) => {
            setRule({ ...rule, action: action as NewIpRule['action'] });
          }}
          sx={{ minWidth: 120 }}
        >
          <MenuItem value="deny">Deny</MenuItem>
          <MenuItem value="allow">Allow</MenuItem>
        </FormTextField>
        <FormTextField
          label={rule.kind === 'cidr' ? 'CIDR' : 'Country code'}
          value={rule.value}
          onChange={(value) => {
            setRule({ ...rule, value });
          }}
          required
          problem={problem}
          pointer="/value"
          hint={
            rule.kind === 'cidr' ? 'e.g. 203.0.113.0/24 or 2001:db8::/32' : 'e.g. DE (ISO 3166-1)'
          }
          slotProps={{ htmlInput: { spellCheck: false } }}
        />
        <FormTextField
          label="Note"
          value={rule.note}
          onChange={(note) => {
            setRule({ ...rule, note });
          }}
          problem={problem}
          pointer="/note"
          sx={{ flexGrow: 1 }}
        />
      </Stack>
    </MutationForm>
  );
}

function RulesCard() {
  const rules = useWholeList(useListIpRulesQuery(undefined));
  const [remove, removing] = useDeleteIpRuleMutation();
  return (
    <SectionCard title="IP and country rules">
      <Stack spacing={2}>
        <Typography variant="body2" color="text.secondary">
          First match wins: an allowed range passes; a denied range or country is refused; when any
          country is allowed, clients from every other country are refused.
        </Typography>
        <ListTable
          list={rules}
          actionProblem={problemOf(removing)}
          label="IP and country rules"
          itemsName="rules"
          loadingLabel="Loading rules"
          emptyText="No rules: every address may connect."
          columns={['Action', 'Kind', 'Value', 'Note', 'Added']}
          rowKey={(rule) => rule.id}
          renderCells={(rule) => (
            <>
              <TableCell>
                <Chip
                  size="small"
                  color={rule.action === 'deny' ? 'error' : 'success'}
                  label={rule.action}
                />
              </TableCell>
              <TableCell>{rule.kind === 'cidr' ? 'IP range' : 'Country'}</TableCell>
              <TableCell sx={{ fontFamily: 'monospace' }}>{rule.value}</TableCell>
              <TableCell>{rule.note}</TableCell>
              <TableCell>
                <DateTime value={rule.created_at} />
              </TableCell>
              <TableCell align="right">
                <RowActionButton
                  label={`Delete the rule ${rule.action} ${rule.value}`}
                  onClick={() => {
                    void remove(rule.id);
                  }}
                >
                  Delete
                </RowActionButton>
              </TableCell>
            </>
          )}
        />
        <AddRuleForm />
      </Stack>
    </SectionCard>
  );
}

/** Operators: the firewall's mode, IP and country rules, and the requests it blocked lately. */
export default function FirewallPage() {
  return (
    <>
      <PageHeader title="Firewall" subtitle="Who may reach this server, and what was refused." />
      <Grid container spacing={2}>
        <Grid size={{ xs: 12, md: 5 }}>
          <ModeCard />
        </Grid>
        <Grid size={12}>
          <RulesCard />
        </Grid>
        <Grid size={12}>
          <SectionCard title="Recent blocks">
            <AuditTable
              scope={{ kind: 'admin' }}
              action="nimbus.gateway.firewall.blocked"
              label="Requests the firewall blocked"
              limit={20}
            />
          </SectionCard>
        </Grid>
      </Grid>
    </>
  );
}
