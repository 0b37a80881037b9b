import Grid from '@mui/material/Grid';
import { PageHeader } from '../../components/PageHeader';
import { SectionCard } from '../../components/SectionCard';
import { AuditTable } from '../audit/AuditTable';
import { MfaCard } from './MfaCard';
import { SessionsCard } from './SessionsCard';

/** How the account is protected: two-step verification, sessions, and its recent activity. */
export default function SecurityPage() {
  return (
    <>
      <PageHeader title="Security" subtitle="Sign-in protection, sessions and recent activity." />
      <Grid container spacing={2}>
        <Grid size={12}>
          <MfaCard />
        </Grid>
        <Grid size={12}>
          <SessionsCard />
        </Grid>
        <Grid size={12}>
          <SectionCard title="Recent activity">
            <AuditTable scope={{ kind: 'me' }} label="Your recent activity" limit={20} />
          </SectionCard>
        </Grid>
      </Grid>
    </>
  );
}
