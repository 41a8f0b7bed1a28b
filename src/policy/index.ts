/**
 * The flow-control policy server: Postfix asks it over the policy delegation protocol whether a connection,
 * recipient, message or message size is within the platform's limits; the counts live in Redis, shared by every
 * instance. `createPolicyServer` is the one assembly; the rules module validates a rules document on its own, so
 * the platform spec can embed it as `spec.policy`.
 */
export { networkOf, parseIp, parseNetwork, type IpAddress, type Network } from './address.ts';
export { compilePolicy, decide, planRequest, type Bucket, type CompiledPolicy, type Decision } from './evaluate.ts';
export { AUTH_ALLOW, authMode, authScriptCall, authVerdict, compileAuthPolicy, planAuth, type AuthBucket, type AuthVerdict, type CompiledAuthPolicy } from './auth-evaluate.ts';
export { AUTH_SCRIPT_SHA1 } from './auth-script.ts';
export { LIMITER_SCRIPT_SHA1, type RedisOptions } from './limiter.ts';
export type { FailOpenReason, PolicyMetrics } from './metrics.ts';
export { loadPolicyRulesFile } from './rules-file.ts';
export {
  AUTH_ACTIONS, AUTH_KEYS, AUTH_RULES_SCHEMA, DEFAULT_AUTH_RULES, type AuthRule, type AuthRules,
  COUNT_KEYS, COUNT_STAGE, DEFAULT_FAIL_ACTION, DEFAULT_RULE_ACTION, DEFAULT_RULE_TEXT, POLICY_COUNTS, POLICY_KEYS, POLICY_RULES_SCHEMA,
  type PolicyCount, type PolicyExempt, type PolicyKey, type PolicyRule, type PolicyRules, type PolicyWindow,
} from './rules-schema.ts';
export { policyRulesProblems, validatePolicyRules } from './rules.ts';
export { createPolicyServer, DEADLINE_MS, DEFAULT_KEY_PREFIX, type PolicyServer, type PolicyServerOptions, type PolicyTuning } from './server.ts';
