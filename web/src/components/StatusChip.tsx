import CheckCircleOutline from '@mui/icons-material/CheckCircleOutlined';
import ErrorOutline from '@mui/icons-material/ErrorOutlined';
import HourglassEmpty from '@mui/icons-material/HourglassEmpty';
import Chip from '@mui/material/Chip';

export type StatusTone = 'good' | 'bad' | 'pending';

const kLook = {
  good: { color: 'success', icon: <CheckCircleOutline /> },
  bad: { color: 'error', icon: <ErrorOutline /> },
  pending: { color: 'default', icon: <HourglassEmpty /> },
} as const;

/** A short status word with a colour and an icon, so colour is never the only signal. */
export function StatusChip({ tone, label }: { tone: StatusTone; label: string }) {
  const { color, icon } = kLook[tone];
  return <Chip size="small" variant="outlined" color={color} icon={icon} label={label} />;
}
