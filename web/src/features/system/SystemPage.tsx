import RefreshIcon from '@mui/icons-material/Refresh';
import Button from '@mui/material/Button';
import Grid from '@mui/material/Grid';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { toProblem } from '../../api/problem';
import { LoadingState } from '../../components/LoadingState';
import { PageHeader } from '../../components/PageHeader';
import { ProblemAlert } from '../../components/ProblemAlert';
import { DatabaseCard } from './DatabaseCard';
import { HealthCard } from './HealthCard';
import { ServerCard } from './ServerCard';
import {
  kSystemPollingIntervalMs,
  useGetLivenessQuery,
  useGetReadinessQuery,
  useGetSystemInfoQuery,
} from './systemApi';

// Polling pauses while the console's window is in the background, and catches up on return.
const kPolling = {
  pollingInterval: kSystemPollingIntervalMs,
  skipPollingIfUnfocused: true,
} as const;
const kTimeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

/** The server this console talks to: build, uptime, database, migrations and health, kept fresh. */
export default function SystemPage() {
  const info = useGetSystemInfoQuery(undefined, kPolling);
  const liveness = useGetLivenessQuery(undefined, kPolling);
  const readiness = useGetReadinessQuery(undefined, kPolling);

  const refresh = () => {
    void info.refetch();
    void liveness.refetch();
    void readiness.refetch();
  };
  const fetching = info.isFetching || liveness.isFetching || readiness.isFetching;

  return (
    <>
      <PageHeader
        title="System"
        subtitle="The Nimbus server this console is connected to."
        actions={
          <Stack direction="row" spacing={2} sx={{ alignItems: 'center' }}>
            {info.fulfilledTimeStamp !== undefined && (
              <Typography variant="body2" color="text.secondary">
                Updated {kTimeFormat.format(info.fulfilledTimeStamp)}
              </Typography>
            )}
            <Button
              variant="outlined"
              startIcon={<RefreshIcon />}
              onClick={refresh}
              loading={fetching}
              loadingPosition="start"
            >
              Refresh
            </Button>
          </Stack>
        }
      />
      <Grid container spacing={2}>
        <Grid size={{ xs: 12, md: 6 }}>
          <HealthCard liveness={liveness} readiness={readiness} />
        </Grid>
        {info.data === undefined ? (
          <Grid size={{ xs: 12, md: 6 }}>
            {info.isError ? (
              <ProblemAlert problem={toProblem(info.error)} onRetry={refresh} />
            ) : (
              <LoadingState label="Loading system information" />
            )}
          </Grid>
        ) : (
          <>
            <Grid size={{ xs: 12, md: 6 }}>
              <ServerCard info={info.data} receivedAt={info.fulfilledTimeStamp} />
            </Grid>
            {info.isError && (
              <Grid size={12}>
                <ProblemAlert
                  severity="warning"
                  problem={{
                    ...toProblem(info.error),
                    title: `Could not refresh: ${toProblem(info.error).title}`,
                  }}
                  onRetry={refresh}
                />
              </Grid>
            )}
            <Grid size={12}>
              <DatabaseCard info={info.data} />
            </Grid>
          </>
        )}
      </Grid>
    </>
  );
}
