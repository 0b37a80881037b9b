import Box from '@mui/material/Box';
import type { ReactNode } from 'react';

// The usual clip pattern: read by screen readers, takes no room on screen.
const kHidden = {
  border: 0,
  clip: 'rect(0 0 0 0)',
  height: '1px',
  margin: '-1px',
  overflow: 'hidden',
  padding: 0,
  position: 'absolute',
  whiteSpace: 'nowrap',
  width: '1px',
} as const;

/** Text for assistive technology only, e.g. the name of a table's actions column. */
export function VisuallyHidden({ children }: { children: ReactNode }) {
  return (
    <Box component="span" sx={kHidden}>
      {children}
    </Box>
  );
}
