import Box from '@mui/material/Box';
import CircularProgress from '@mui/material/CircularProgress';
import Typography from '@mui/material/Typography';

interface LoadingStateProps {
  /** What is loading, e.g. "Loading system information"; shown and announced. */
  label: string;
}

/** A spinner with its text, announced politely to screen readers. */
export function LoadingState({ label }: LoadingStateProps) {
  return (
    <Box role="status" sx={{ display: 'flex', alignItems: 'center', gap: 1.5, py: 2 }}>
      <CircularProgress size={20} aria-hidden />
      <Typography color="text.secondary">{label}…</Typography>
    </Box>
  );
}
