import Link from '@mui/material/Link';
import type { ReactNode } from 'react';

interface SkipLinkProps {
  targetId: string;
  children: ReactNode;
}

/**
 * The first stop of the Tab key: lets a keyboard user jump past the top bar and the navigation.
 * Off screen until it has focus.
 */
export function SkipLink({ targetId, children }: SkipLinkProps) {
  return (
    <Link
      href={`#${targetId}`}
      onClick={(event) => {
        // Move focus as well as scroll, and keep the client route's URL free of a fragment.
        event.preventDefault();
        document.getElementById(targetId)?.focus();
      }}
      sx={{
        position: 'absolute',
        left: (theme) => theme.spacing(1),
        top: (theme) => theme.spacing(-8),
        zIndex: (theme) => theme.zIndex.tooltip + 1,
        p: 1,
        bgcolor: 'background.paper',
        borderRadius: 1,
        '&:focus': { top: (theme) => theme.spacing(1) },
      }}
    >
      {children}
    </Link>
  );
}
