import Typography from '@mui/material/Typography';
import { DateTime } from '../../components/DateTime';
import { PropertyList } from '../../components/PropertyList';
import { SectionCard } from '../../components/SectionCard';
import { useNow } from '../../components/useNow';
import { formatUptime } from './formatUptime';
import type { SystemInfo } from './types';

const kTickMs = 1_000;

interface LiveUptimeProps {
  /** The uptime the server reported. */
  uptimeSeconds: number;
  /** When that answer arrived, Unix ms: the uptime goes on counting from there. */
  receivedAt: number | undefined;
}

/**
 * Uptime that counts on between polls, from the server's own figure rather than from `started_at`,
 * so a skew between the server's clock and this browser's does not show.
 */
function LiveUptime({ uptimeSeconds, receivedAt }: LiveUptimeProps) {
  const now = useNow(kTickMs);
  const sinceAnswer = receivedAt === undefined ? 0 : Math.max(0, now - receivedAt);
  const seconds = uptimeSeconds + sinceAnswer / kTickMs;
  return <span>{formatUptime(seconds)}</span>;
}

interface ServerCardProps {
  info: SystemInfo;
  receivedAt: number | undefined;
}

/** What is running: version, commit, build type, and since when. */
export function ServerCard({ info, receivedAt }: ServerCardProps) {
  const monospace = { fontFamily: 'monospace' } as const;
  return (
    <SectionCard title="Server">
      <PropertyList
        properties={[
          { term: 'Version', value: info.version },
          {
            term: 'Commit',
            value: (
              <Typography component="code" sx={monospace}>
                {info.commit}
              </Typography>
            ),
          },
          { term: 'Build type', value: info.build_type },
          { term: 'Started', value: <DateTime value={info.started_at} /> },
          {
            term: 'Uptime',
            value: <LiveUptime uptimeSeconds={info.uptime_seconds} receivedAt={receivedAt} />,
          },
        ]}
      />
    </SectionCard>
  );
}
