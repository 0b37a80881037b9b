import AppsOutlined from '@mui/icons-material/AppsOutlined';
import LockOutlined from '@mui/icons-material/LockOutlined';
import { lazy } from 'react';
import type { ConsoleModule } from '../../app/consoleModule';

/** OAuth 2.0 / OpenID Connect: an organization's clients, and the consent page. */
export const oauthModules: readonly ConsoleModule[] = [
  {
    id: 'oauth-clients',
    path: '/org/oauth-clients',
    label: 'OAuth clients',
    icon: <AppsOutlined />,
    Page: lazy(() => import('./OAuthClientsPage')),
    access: 'signedIn',
    permission: 'oauth.clients.manage',
    section: 'organization',
  },
  {
    id: 'consent',
    path: '/consent',
    label: 'Authorize an application',
    icon: <LockOutlined />,
    Page: lazy(() => import('./ConsentPage')),
    access: 'signedIn',
    inNavigation: false,
  },
  {
    id: 'signed-out',
    path: '/signed-out',
    label: 'Signed out',
    icon: <LockOutlined />,
    Page: lazy(() => import('./SignedOutPage')),
    inNavigation: false,
  },
];
