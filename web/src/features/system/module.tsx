import DnsOutlined from '@mui/icons-material/DnsOutlined';
import { lazy } from 'react';
import type { ConsoleModule } from '../../app/consoleModule';

export const systemModule: ConsoleModule = {
  id: 'system',
  path: '/system',
  label: 'System',
  icon: <DnsOutlined />,
  Page: lazy(() => import('./SystemPage')),
};
