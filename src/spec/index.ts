export { loadSpecFile, parseSpec, validateSpec } from './load.ts';
export { demoAccounts, PASSWORD_MAX_LENGTH, passwordProblem, quotaBytes, seedingBudgetMs } from './accounts.ts';
export { EXAMPLE_ALERT_WEBHOOK_URL, PLATFORM_SCHEMA } from './schema.ts';
export { quantityValue } from './quantity.ts';
export { addressProblem, networkProblem, type NetworkForm } from './networks.ts';
export { NAME_PATTERN, QUOTA_PATTERN } from './patterns.ts';
export { FILTER_ROLES, INSTANCE_ROLES, PROCESS_ROLES, roleRefusal, ROLES } from './types.ts';
export type { MtaSpec } from './mta-spec.ts';
export type { Account, AgentRole, AlertingSpec, ContainerResources, FilterRole, FilterSpec, InstanceRole, MailPlatform, PlatformSpec, PolicySpec, Ports, ProbeSpec, ProcessRole, QuotaSpec, Role, RoleSpec } from './types.ts';
export { instanceReplicas, PROBE_PATHS, probePaths, probeRuns, type ProbePath } from './probe.ts';
export { antivirusRuns, filterRuns } from './filter.ts';
export { authPolicyRuns, authPolicyTimeoutMs, DEFAULT_POLICY_RULES, POLICY_CONTEXTS, policyCounts, policyRuns, type PolicyContext } from './policy.ts';
export {
  authRelayRuns, backendTlsRuns, generateSecret, KNOWN_SECRETS, MIN_SECRET_LENGTH, missingSecrets, PLATFORM_SECRETS, platformSecrets, requireSecret, secretValue, withSecrets,
  type PlatformSecret, type PlatformSecretName, type PlatformSecretValues,
} from './secrets.ts';
