import Alert from '@mui/material/Alert';
import Chip from '@mui/material/Chip';
import FormControlLabel from '@mui/material/FormControlLabel';
import Grid from '@mui/material/Grid';
import Stack from '@mui/material/Stack';
import Switch from '@mui/material/Switch';
import { useState } from 'react';
import { problemOf } from '../../api/problem';
import { FormTextField } from '../../components/FormTextField';
import { DateTime } from '../../components/DateTime';
import { MutationForm } from '../../components/MutationForm';
import { PageHeader } from '../../components/PageHeader';
import { ProblemAlert } from '../../components/ProblemAlert';
import { PropertyList } from '../../components/PropertyList';
import { SectionCard } from '../../components/SectionCard';
import { OrgGate } from './OrgGate';
import { useUpdateOrgMutation } from './orgsApi';
import type { Org } from './types';

function RenameForm({ org }: { org: Org }) {
  const [update, state] = useUpdateOrgMutation();
  const [name, setName] = useState(org.name);
  const problem = problemOf(state);
  return (
    <MutationForm
      onSubmit={() => {
        void update({ orgId: org.id, name: name.trim() });
      }}
      problem={problem}
      submitLabel="Rename"
      submitting={state.isLoading}
      notice={state.isSuccess && <Alert severity="success">Saved.</Alert>}
    >
      <FormTextField
        label="Organization name"
        value={name}
        onChange={setName}
        problem={problem}
        pointer="/name"
      />
    </MutationForm>
  );
}

/** The org's policy: members without two-step verification are refused (403 mfa-required). */
function RequireMfaForm({ org }: { org: Org }) {
  const [update, state] = useUpdateOrgMutation();
  const problem = problemOf(state);
  return (
    <Stack spacing={1}>
      {problem !== undefined && <ProblemAlert problem={problem} />}
      <FormControlLabel
        control={
          <Switch
            checked={org.require_mfa === true}
            disabled={state.isLoading}
            onChange={(event) => {
              void update({ orgId: org.id, require_mfa: event.target.checked });
            }}
          />
        }
        label="Require two-step verification for every member"
      />
    </Stack>
  );
}

/** The current organization: its name, the caller's role and what that role allows. */
export default function OrganizationPage() {
  return (
    <>
      <PageHeader title="Organization" subtitle="The organization the console works in." />
      <OrgGate>
        {({ org, can }) => (
          <Grid container spacing={2}>
            <Grid size={{ xs: 12, md: 6 }}>
              <SectionCard title="Overview">
                <PropertyList
                  properties={[
                    { term: 'Name', value: org.name },
                    { term: 'Slug', value: org.slug },
                    { term: 'Your role', value: org.role ?? 'unknown' },
                    {
                      term: 'Two-step verification',
                      value: org.require_mfa === true ? 'Required' : 'Not required',
                    },
                    { term: 'Created', value: <DateTime value={org.created_at} /> },
                  ]}
                />
              </SectionCard>
            </Grid>
            {can('org.update') && (
              <Grid size={{ xs: 12, md: 6 }}>
                <SectionCard title="Settings">
                  <Stack spacing={2}>
                    <RenameForm key={org.id} org={org} />
                    <RequireMfaForm org={org} />
                  </Stack>
                </SectionCard>
              </Grid>
            )}
            <Grid size={12}>
              <SectionCard title="Your permissions">
                <Stack direction="row" sx={{ flexWrap: 'wrap', gap: 1 }}>
                  {(org.permissions ?? []).map((permission) => (
                    <Chip key={permission} label={permission} size="small" variant="outlined" />
                  ))}
                </Stack>
              </SectionCard>
            </Grid>
          </Grid>
        )}
      </OrgGate>
    </>
  );
}
