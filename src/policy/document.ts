/**
 * The rules document alone: its types, JSON-schema fragment and validation, without the server (node-redis,
 * prom-client, sockets). A second door of the policy room, for the platform spec, which every agent loads.
 */
export {
  AUTH_RULES_SCHEMA, DEFAULT_AUTH_RULES, type AuthRule, type AuthRules,
  COUNT_KEYS, COUNT_STAGE, DEFAULT_FAIL_ACTION, POLICY_RULES_SCHEMA,
  type PolicyCount, type PolicyExempt, type PolicyKey, type PolicyRule, type PolicyRules, type PolicyWindow,
} from './rules-schema.ts';
export { policyRulesProblems } from './rules.ts';
// The spec's address and network fields are read as the rules' exemptions are.
export { parseIp, parseNetwork, type NetworkForm } from './address.ts';
