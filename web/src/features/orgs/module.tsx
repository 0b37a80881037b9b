import BusinessOutlined from '@mui/icons-material/BusinessOutlined';
import GroupOutlined from '@mui/icons-material/GroupOutlined';
import KeyOutlined from '@mui/icons-material/KeyOutlined';
import BadgeOutlined from '@mui/icons-material/BadgeOutlined';
import { lazy } from 'react';
import type { ConsoleModule } from '../../app/consoleModule';

/** Organizations: the current one, its members and invitations, roles and API keys. */
export const orgModules: readonly ConsoleModule[] = [
  {
    id: 'organization',
    path: '/org',
    label: 'Overview',
    icon: <BusinessOutlined />,
    Page: lazy(() => import('./OrganizationPage')),
    access: 'signedIn',
    section: 'organization',
  },
  {
    id: 'members',
    path: '/org/members',
    label: 'Members',
    icon: <GroupOutlined />,
    Page: lazy(() => import('./MembersPage')),
    access: 'signedIn',
    section: 'organization',
  },
  {
    id: 'roles',
    path: '/org/roles',
    label: 'Roles',
    icon: <BadgeOutlined />,
    Page: lazy(() => import('./RolesPage')),
    access: 'signedIn',
    section: 'organization',
  },
  {
    id: 'api-keys',
    path: '/org/api-keys',
    label: 'API keys',
    icon: <KeyOutlined />,
    Page: lazy(() => import('./ApiKeysPage')),
    access: 'signedIn',
    permission: 'api_keys.manage',
    section: 'organization',
  },
  {
    id: 'accept-invitation',
    path: '/accept-invitation',
    label: 'Accept invitation',
    icon: <GroupOutlined />,
    Page: lazy(() => import('./AcceptInvitationPage')),
    access: 'signedIn',
    inNavigation: false,
  },
];
