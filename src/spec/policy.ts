/**
 * `spec.policy`: the flow-control policy server of the platform, whether and how it runs, and its rules document
 * (the same one `mailfleet policy --rules FILE` reads, embedded). Its schema, defaults and the checks past ajv.
 */
import { AUTH_RULES_SCHEMA, POLICY_RULES_SCHEMA, policyRulesProblems, type PolicyCount, type PolicyRule } from '../policy/document.ts';
import { MIN_SECRET_LENGTH } from './patterns.ts';
import type { PlatformSpec } from './types.ts';

/** The `policy_context` each Postfix role sends with its checks: what `rules[].contexts` names. */
export const POLICY_CONTEXTS = ['mta', 'msa'] as const;
export type PolicyContext = (typeof POLICY_CONTEXTS)[number];

/**
 * Rules for an ISP's inbound MX and submission when the spec names none, a starting point to tune from the
 * `mailfleet_policy_requests_total{action,rule}` figures:
 * - `mx-recipients-per-network` (mta): one client network (an IPv4 /24, an IPv6 /48) hands over at most 600
 *   recipients a minute (600 at once after a quiet spell) and 10,000 an hour. Large senders spread over many
 *   networks; a flood from one is deferred (4.7.1), and it retries later.
 * - `submission-messages-per-account` (msa): an account sends at most 100 messages an hour and 500 a day, what a
 *   person sends and a hijacked account exceeds within minutes.
 */
export const DEFAULT_POLICY_RULES: readonly PolicyRule[] = [
  {
    name: 'mx-recipients-per-network',
    contexts: ['mta'],
    key: 'client_address',
    count: 'recipients',
    ipv4Prefix: 24,
    ipv6Prefix: 48,
    windows: [{ limit: 600, seconds: 60 }, { limit: 10_000, seconds: 3600 }],
    exempt: { networks: [], accounts: [] },
    action: 'DEFER_IF_PERMIT',
    text: 'rate limit exceeded',
  },
  {
    name: 'submission-messages-per-account',
    contexts: ['msa'],
    key: 'sasl_username',
    count: 'messages',
    windows: [{ limit: 100, seconds: 3600 }, { limit: 500, seconds: 86_400 }],
    exempt: { networks: [], accounts: [] },
    action: 'DEFER_IF_PERMIT',
    text: 'sending limit reached, try again later',
  },
];

/** Default deadline of a request, as `mailfleet policy --deadline-ms`. */
export const DEFAULT_POLICY_DEADLINE_MS = 100;

/** Dovecot's wait for the policy server's answer to a login, from the server's own deadline: room for the round trip on a loaded node. */
export function authPolicyTimeoutMs(deadlineMs: number): number {
  return Math.min(10_000, Math.max(500, deadlineMs * 3));
}

/** A secret of the auth policy: one token of dovecot.conf and of an HTTP header (no whitespace, quotes, backslash, `#`, `<`). */
const AUTH_SECRET = { type: 'string', minLength: MIN_SECRET_LENGTH, maxLength: 256, pattern: '^[^\\s"\'\\\\#<]+$' };

/** `spec.policy`: the settings of the role, then the rules document's own fields (see PolicySpec). */
export const POLICY_SPEC_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    replicas: { type: 'integer', minimum: 0, maximum: 16, default: 2 },
    deadlineMs: { type: 'integer', minimum: 5, maximum: 10_000, default: DEFAULT_POLICY_DEADLINE_MS },
    ...POLICY_RULES_SCHEMA.properties,
    rules: { ...POLICY_RULES_SCHEMA.properties.rules, default: DEFAULT_POLICY_RULES },
    auth: {
      ...AUTH_RULES_SCHEMA,
      properties: {
        enabled: { type: 'boolean', default: true },
        // No defaults: what the spec leaves out is generated (see secrets.ts).
        apiKey: AUTH_SECRET,
        hashNonce: AUTH_SECRET,
        ...AUTH_RULES_SCHEMA.properties,
      },
    },
  },
} as const;

/** Whether the proxies ask the policy server about logins: `spec.policy.auth.enabled`, with a proxy to ask and replicas to answer. */
export function authPolicyRuns(spec: Pick<PlatformSpec, 'roles' | 'policy'>): boolean {
  return spec.policy.enabled && spec.policy.auth.enabled && spec.policy.replicas > 0 && spec.roles.proxy.replicas > 0;
}

/** Whether Postfix asks the policy server: enabled, with replicas, and an `mta` or `msa`. */
function postfixAsks(spec: Pick<PlatformSpec, 'roles' | 'policy'>): boolean {
  return spec.policy.enabled && spec.policy.replicas > 0 && (spec.roles.mta.replicas > 0 || spec.roles.msa.replicas > 0);
}

/** Whether the policy server runs: enabled, with replicas, and a Postfix role or the proxies' logins to ask it. */
export function policyRuns(spec: Pick<PlatformSpec, 'roles' | 'policy'>): boolean {
  return postfixAsks(spec) || authPolicyRuns(spec);
}

/** The stages at which a role asks the policy server: those at which one of the rules counts its requests. */
export function policyCounts(spec: Pick<PlatformSpec, 'roles' | 'policy'>, context: PolicyContext): Set<PolicyCount> {
  if (!postfixAsks(spec)) return new Set();
  return new Set(spec.policy.rules.filter((r) => r.contexts === undefined || r.contexts.includes(context)).map((r) => r.count));
}

/** Problems of `spec.policy` past the schema: the rules document's own checks, and what the platform needs. */
export function policyProblems(spec: PlatformSpec): string[] {
  const problems = policyRulesProblems(spec.policy, 'spec.policy');
  spec.policy.rules.forEach((r, i) => {
    if (r.contexts !== undefined && !r.contexts.some((c) => (POLICY_CONTEXTS as readonly string[]).includes(c))) {
      problems.push(`spec.policy.rules[${i}].contexts: the platform's checks send ${POLICY_CONTEXTS.join(' or ')}; a rule for neither never counts`);
    }
  });
  if (policyRuns(spec) && spec.roles.kvs.replicas === 0) {
    problems.push('spec.roles.kvs.replicas: expected 1 while the policy server runs (its counts live in Redis); or set spec.policy.enabled: false');
  }
  return problems;
}
