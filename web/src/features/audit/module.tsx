import HistoryOutlined from '@mui/icons-material/HistoryOutlined';
import { lazy } from 'react';
import type { ConsoleModule } from '../../app/consoleModule';

export const auditModule: ConsoleModule = {
  id: 'audit',
  path: '/org/audit',
  label: 'Audit log',
  icon: <HistoryOutlined />,
  Page: lazy(() => import('./AuditPage')),
  access: 'signedIn',
  permission: 'audit.read',
  section: 'organization',
};
