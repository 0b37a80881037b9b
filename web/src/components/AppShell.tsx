import MenuIcon from '@mui/icons-material/Menu';
import AppBar from '@mui/material/AppBar';
import Box from '@mui/material/Box';
import Drawer from '@mui/material/Drawer';
import IconButton from '@mui/material/IconButton';
import Link from '@mui/material/Link';
import { useTheme } from '@mui/material/styles';
import Toolbar from '@mui/material/Toolbar';
import useMediaQuery from '@mui/material/useMediaQuery';
import { useState } from 'react';
import { Outlet, Link as RouterLink } from 'react-router-dom';
import type { ConsoleModule } from '../app/consoleModule';
import { SessionKeeper } from '../app/SessionKeeper';
import { useViewer } from '../app/viewer';
import { OrgSwitcher } from '../features/orgs/OrgSwitcher';
import { AccountMenu } from './AccountMenu';
import { NavList } from './NavList';
import { SkipLink } from './SkipLink';

const kDrawerWidth = 240;
const kMainId = 'main-content';
const kNavId = 'main-navigation';

interface AppShellProps {
  modules: readonly ConsoleModule[];
}

/**
 * The frame around every page: a top bar with the product name, the navigation (a permanent drawer
 * on wide screens, a modal one opened from the menu button on narrow ones) and the main area.
 */
export function AppShell({ modules }: AppShellProps) {
  const theme = useTheme();
  const wide = useMediaQuery(theme.breakpoints.up('md'), { noSsr: true });
  const [navOpen, setNavOpen] = useState(false);
  const viewer = useViewer();
  const closeNav = () => {
    setNavOpen(false);
  };

  return (
    <Box sx={{ display: 'flex', minHeight: '100vh' }}>
      <SessionKeeper />
      <SkipLink targetId={kMainId}>Skip to main content</SkipLink>
      <AppBar position="fixed" sx={{ zIndex: (t) => t.zIndex.drawer + 1 }}>
        <Toolbar>
          {!wide && (
            <IconButton
              color="inherit"
              edge="start"
              aria-label="Open navigation"
              aria-controls={kNavId}
              aria-expanded={navOpen}
              onClick={() => {
                setNavOpen(true);
              }}
              sx={{ mr: 2 }}
            >
              <MenuIcon />
            </IconButton>
          )}
          <Link
            component={RouterLink}
            to="/"
            color="inherit"
            underline="none"
            variant="h6"
            sx={{ fontWeight: 600 }}
          >
            Nimbus
          </Link>
          <Box sx={{ flexGrow: 1 }} />
          {viewer.status === 'signedIn' && <OrgSwitcher />}
          <AccountMenu viewer={viewer} />
        </Toolbar>
      </AppBar>
      <Drawer
        id={kNavId}
        variant={wide ? 'permanent' : 'temporary'}
        open={wide || navOpen}
        onClose={closeNav}
        sx={{
          width: kDrawerWidth,
          flexShrink: 0,
          '& .MuiDrawer-paper': { width: kDrawerWidth, boxSizing: 'border-box' },
        }}
      >
        <Toolbar />
        <Box component="nav" aria-label="Main navigation">
          <NavList modules={modules} viewer={viewer} onNavigate={closeNav} />
        </Box>
      </Drawer>
      <Box
        component="main"
        id={kMainId}
        tabIndex={-1}
        sx={{ flexGrow: 1, minWidth: 0, p: { xs: 2, sm: 3 }, outline: 'none' }}
      >
        <Toolbar />
        <Outlet />
      </Box>
    </Box>
  );
}
