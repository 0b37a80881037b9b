import MailOutlined from '@mui/icons-material/MailOutlined';
import { lazy } from 'react';
import type { ConsoleModule } from '../../app/consoleModule';

export const mailModule: ConsoleModule = {
  id: 'dev-mailbox',
  path: '/dev/mailbox',
  label: 'Dev mailbox',
  icon: <MailOutlined />,
  Page: lazy(() => import('./DevMailboxPage')),
  access: 'devMailbox',
  section: 'operator',
};
