import ShieldOutlined from '@mui/icons-material/ShieldOutlined';
import SpeedOutlined from '@mui/icons-material/SpeedOutlined';
import { lazy } from 'react';
import type { ConsoleModule } from '../../app/consoleModule';

/** The gateway's operator pages: firewall rules and rate-limit overrides. */
export const gatewayModules: readonly ConsoleModule[] = [
  {
    id: 'firewall',
    path: '/admin/firewall',
    label: 'Firewall',
    icon: <ShieldOutlined />,
    Page: lazy(() => import('./FirewallPage')),
    access: 'operator',
    section: 'operator',
  },
  {
    id: 'rate-limits',
    path: '/admin/rate-limits',
    label: 'Rate limits',
    icon: <SpeedOutlined />,
    Page: lazy(() => import('./RateLimitsPage')),
    access: 'operator',
    section: 'operator',
  },
];
