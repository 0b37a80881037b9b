import Box from '@mui/material/Box';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { toProblem } from '../../api/problem';
import { ProblemAlert } from '../../components/ProblemAlert';
import { PropertyList, type Property } from '../../components/PropertyList';
import { SectionCard } from '../../components/SectionCard';
import { StatusChip } from '../../components/StatusChip';
import type { Liveness } from './types';
import type { Readiness } from './systemApi';

/** The state of one query as the card needs it (a subset of an RTK Query result). */
interface QueryState<T> {
  data?: T | undefined;
  error?: Parameters<typeof toProblem>[0];
  isError: boolean;
}

interface HealthCardProps {
  liveness: QueryState<Liveness>;
  readiness: QueryState<Readiness>;
}

function livenessChip(liveness: QueryState<Liveness>) {
  if (liveness.isError) {
    return <StatusChip tone="bad" label={toProblem(liveness.error).title} />;
  }
  if (liveness.data === undefined) {
    return <StatusChip tone="pending" label="Checking" />;
  }
  return liveness.data.status === 'ok' ? (
    <StatusChip tone="good" label="Live" />
  ) : (
    <StatusChip tone="bad" label={liveness.data.status} />
  );
}

function readinessChip(readiness: QueryState<Readiness>) {
  if (readiness.isError) {
    return <StatusChip tone="bad" label="Unknown" />;
  }
  if (readiness.data === undefined) {
    return <StatusChip tone="pending" label="Checking" />;
  }
  return readiness.data.ready ? (
    <StatusChip tone="good" label="Ready" />
  ) : (
    <StatusChip tone="bad" label="Not ready" />
  );
}

/** `/healthz` and `/readyz`: whether the server is up, and whether it can serve requests. */
export function HealthCard({ liveness, readiness }: HealthCardProps) {
  const rows: Property[] = [
    { term: 'Liveness', value: livenessChip(liveness) },
    { term: 'Readiness', value: readinessChip(readiness) },
  ];
  const checks = readiness.data?.ready === true ? Object.entries(readiness.data.checks) : [];

  return (
    <SectionCard title="Health">
      <Stack spacing={2}>
        <PropertyList properties={rows} />
        {readiness.data?.ready === false && (
          <ProblemAlert severity="warning" problem={readiness.data.problem} />
        )}
        {readiness.isError && <ProblemAlert problem={toProblem(readiness.error)} />}
        {checks.length > 0 && (
          <Box>
            <Typography variant="subtitle2" component="h3" sx={{ mb: 1 }}>
              Readiness checks
            </Typography>
            <PropertyList
              properties={checks.map(([name, state]) => ({
                term: name,
                value: <StatusChip tone={state === 'ok' ? 'good' : 'bad'} label={state} />,
              }))}
            />
          </Box>
        )}
      </Stack>
    </SectionCard>
  );
}
