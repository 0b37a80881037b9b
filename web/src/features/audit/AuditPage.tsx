import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import { useState } from 'react';
import { PageHeader } from '../../components/PageHeader';
import { SectionCard } from '../../components/SectionCard';
import { OrgGate } from '../orgs/OrgGate';
import { AuditTable } from './AuditTable';

const kActionFilters = [
  { value: '', label: 'Everything' },
  { value: 'nimbus.identity.org', label: 'Organization' },
  { value: 'nimbus.identity.member', label: 'Members' },
  { value: 'nimbus.identity.invitation', label: 'Invitations' },
  { value: 'nimbus.identity.role', label: 'Roles' },
  { value: 'nimbus.identity.api_key', label: 'API keys' },
  { value: 'nimbus.identity.oauth', label: 'OAuth' },
] as const;

/** The current organization's audit log (permission `audit.read`). */
export default function AuditPage() {
  const [action, setAction] = useState('');
  return (
    <>
      <PageHeader title="Audit log" subtitle="Security-relevant changes in the organization." />
      <OrgGate requires={{ permission: 'audit.read', missing: 'does not read the audit log' }}>
        {({ org }) => (
          <SectionCard title={`Entries of ${org.name}`}>
            <Stack spacing={2}>
              <TextField
                select
                label="Show"
                value={action}
                onChange={(event) => {
                  setAction(event.target.value);
                }}
                sx={{ maxWidth: 260 }}
              >
                {kActionFilters.map((filter) => (
                  <MenuItem key={filter.value} value={filter.value}>
                    {filter.label}
                  </MenuItem>
                ))}
              </TextField>
              <AuditTable
                key={`${org.id}:${action}`}
                scope={{ kind: 'org', orgId: org.id }}
                action={action}
                label="Audit entries"
              />
            </Stack>
          </SectionCard>
        )}
      </OrgGate>
    </>
  );
}
