import Grid from '@mui/material/Grid';
import { PageHeader } from '../../components/PageHeader';
import { SessionsCard } from './SessionsCard';

/** How the account is protected: sessions (and, as the server offers them, MFA and API keys). */
export default function SecurityPage() {
  return (
    <>
      <PageHeader title="Security" subtitle="Sessions and sign-in protection." />
      <Grid container spacing={2}>
        <Grid size={12}>
          <SessionsCard />
        </Grid>
      </Grid>
    </>
  );
}
