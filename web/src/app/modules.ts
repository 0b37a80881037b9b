import { apiReferenceModule } from '../features/api-reference/module';
import { auditModule } from '../features/audit/module';
import { gatewayModules } from '../features/gateway/module';
import { identityModules } from '../features/identity/module';
import { mailModule } from '../features/mail/module';
import { oauthModules } from '../features/oauth/module';
import { orgModules } from '../features/orgs/module';
import { systemModule } from '../features/system/module';
import type { ConsoleModule } from './consoleModule';

/** Every module of the console, in navigation order. The first one is the start page. */
export const consoleModules: readonly ConsoleModule[] = [
  systemModule,
  apiReferenceModule,
  ...orgModules,
  ...oauthModules,
  auditModule,
  ...identityModules,
  ...gatewayModules,
  mailModule,
];
