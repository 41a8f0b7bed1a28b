export { loadSpecFile, parseSpec, validateSpec } from './load.ts';
export { demoAccounts, quotaBytes } from './accounts.ts';
export { PLATFORM_SCHEMA } from './schema.ts';
export { quantityValue } from './quantity.ts';
export { NAME_PATTERN, QUOTA_PATTERN } from './patterns.ts';
export { ROLES } from './types.ts';
export type { Account, ContainerResources, MailPlatform, PlatformSpec, Ports, Role, RoleSpec } from './types.ts';
