import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
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
import { useState, type SyntheticEvent } from 'react';
import { fieldError } from '../../api/fieldError';
import { toProblem } from '../../api/problem';
import { DateTime } from '../../components/DateTime';
import { LoadingState } from '../../components/LoadingState';
import { PageHeader } from '../../components/PageHeader';
import { ProblemAlert } from '../../components/ProblemAlert';
import { PropertyList } from '../../components/PropertyList';
import { SectionCard } from '../../components/SectionCard';
import { VisuallyHidden } from '../../components/VisuallyHidden';
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
  const problem = state.isError ? toProblem(state.error) : undefined;
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void add({ ...rule, value: rule.value.trim(), note: rule.note.trim() })
      .unwrap()
      .then(() => {
        setRule({ ...rule, value: '', note: '' });
      })
      .catch(() => undefined);
  };
  return (
    <Stack component="form" spacing={2} onSubmit={submit} noValidate>
      {problem !== undefined && <ProblemAlert problem={problem} />}
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2}>
        <TextField
          select
          label="Kind"
          value={rule.kind}
          onChange={(event) => {
            setRule({ ...rule, kind: event.target.value as NewIpRule['kind'] });
          }}
          sx={{ minWidth: 140 }}
        >
          <MenuItem value="cidr">IP range (CIDR)</MenuItem>
          <MenuItem value="country">Country</MenuItem>
        </TextField>
        <TextField
          select
          label="Action"
          value={rule.action}
          onChange={(event) => {
            setRule({ ...rule, action: event.target.value as NewIpRule['action'] });
          }}
          sx={{ minWidth: 120 }}
        >
          <MenuItem value="deny">Deny</MenuItem>
          <MenuItem value="allow">Allow</MenuItem>
        </TextField>
        <TextField
          label={rule.kind === 'cidr' ? 'CIDR' : 'Country code'}
          value={rule.value}
          onChange={(event) => {
            setRule({ ...rule, value: event.target.value });
          }}
          required
          error={fieldError(problem, '/value') !== undefined}
          helperText={
            fieldError(problem, '/value') ??
            (rule.kind === 'cidr' ? 'e.g. 203.0.113.0/24 or 2001:db8::/32' : 'e.g. DE (ISO 3166-1)')
          }
          slotProps={{ htmlInput: { spellCheck: false } }}
        />
        <TextField
          label="Note"
          value={rule.note}
          onChange={(event) => {
            setRule({ ...rule, note: event.target.value });
          }}
          error={fieldError(problem, '/note') !== undefined}
          helperText={fieldError(problem, '/note')}
          sx={{ flexGrow: 1 }}
        />
      </Stack>
      <div>
        <Button type="submit" variant="contained" loading={state.isLoading}>
          Add rule
        </Button>
      </div>
    </Stack>
  );
}

function RulesCard() {
  const rules = useListIpRulesQuery(undefined);
  const [remove, removing] = useDeleteIpRuleMutation();
  return (
    <SectionCard title="IP and country rules">
      <Stack spacing={2}>
        <Typography variant="body2" color="text.secondary">
          First match wins: an allowed range passes; a denied range or country is refused; when any
          country is allowed, clients from every other country are refused.
        </Typography>
        {removing.isError && <ProblemAlert problem={toProblem(removing.error)} />}
        {rules.data === undefined ? (
          rules.isError ? (
            <ProblemAlert problem={toProblem(rules.error)} />
          ) : (
            <LoadingState label="Loading rules" />
          )
        ) : rules.data.data.length === 0 ? (
          <Typography color="text.secondary">No rules: every address may connect.</Typography>
        ) : (
          <TableContainer>
            <Table size="small" aria-label="IP and country rules">
              <TableHead>
                <TableRow>
                  <TableCell>Action</TableCell>
                  <TableCell>Kind</TableCell>
                  <TableCell>Value</TableCell>
                  <TableCell>Note</TableCell>
                  <TableCell>Added</TableCell>
                  <TableCell>
                    <VisuallyHidden>Actions</VisuallyHidden>
                  </TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {rules.data.data.map((rule) => (
                  <TableRow key={rule.id}>
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
                      <Button
                        size="small"
                        color="error"
                        aria-label={`Delete the rule ${rule.action} ${rule.value}`}
                        onClick={() => {
                          void remove(rule.id);
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
        )}
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
