import ApiOutlined from '@mui/icons-material/ApiOutlined';
import { lazy } from 'react';
import type { ConsoleModule } from '../../app/consoleModule';

export const apiReferenceModule: ConsoleModule = {
  id: 'api-reference',
  path: '/api-reference',
  label: 'API reference',
  icon: <ApiOutlined />,
  Page: lazy(() => import('./ApiReferencePage')),
};
