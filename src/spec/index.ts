export { loadSpecFile, parseSpec, validateSpec } from './load.ts';
export { demoAccounts, PASSWORD_MAX_LENGTH, passwordProblem, quotaBytes, seedingBudgetMs } from './accounts.ts';
export { PLATFORM_SCHEMA } from './schema.ts';
export { quantityValue } from './quantity.ts';
export { NAME_PATTERN, QUOTA_PATTERN } from './patterns.ts';
export { ROLES } from './types.ts';
export type { Account, AlertingSpec, ContainerResources, MailPlatform, PlatformSpec, Ports, Role, RoleSpec } from './types.ts';
export {
  generateSecret, KNOWN_SECRETS, MIN_SECRET_LENGTH, missingSecrets, PLATFORM_SECRETS, requireSecret, secretValue, withSecrets,
  type PlatformSecret, type PlatformSecretName, type PlatformSecretValues,
} from './secrets.ts';
