/**
 * What a policy rules document says, as types and as a JSON-schema fragment (ajv, strict mode, `useDefaults`)
 * that the platform spec can embed as `spec.policy`. `rules.ts` validates the same shape without ajv, naming the
 * field path of every problem, and adds the checks a schema cannot express.
 */
import { NAME_PATTERN } from '../spec/patterns.ts';

/** What a rule's limit is kept per: a Postfix attribute, or the domain part of an address attribute. */
export const POLICY_KEYS = ['client_address', 'sasl_username', 'sender', 'sender_domain', 'recipient', 'recipient_domain'] as const;
export type PolicyKey = (typeof POLICY_KEYS)[number];

/** What a rule counts. */
export const POLICY_COUNTS = ['connections', 'messages', 'recipients', 'bytes'] as const;
export type PolicyCount = (typeof POLICY_COUNTS)[number];

/**
 * The protocol stage (`protocol_state`) at which each count is taken; requests of other stages pass a rule by.
 * - connections: at CONNECT (the check in `smtpd_client_restrictions` with `smtpd_delay_reject = no`);
 * - recipients: at RCPT, one per request, so recipients past the limit are deferred one by one;
 * - messages: at DATA (`smtpd_data_restrictions`), one per message, before its body is sent;
 * - bytes: at END-OF-MESSAGE (`smtpd_end_of_data_restrictions`), the message's `size`, the only stage that has it.
 */
export const COUNT_STAGE = {
  connections: 'CONNECT',
  recipients: 'RCPT',
  messages: 'DATA',
  bytes: 'END-OF-MESSAGE',
} as const satisfies Record<PolicyCount, string>;

/** Keys a count can be kept per: at CONNECT only the client is known, and DATA and END-OF-MESSAGE have no single recipient. */
export const COUNT_KEYS: Record<PolicyCount, readonly PolicyKey[]> = {
  connections: ['client_address'],
  recipients: POLICY_KEYS,
  messages: ['client_address', 'sasl_username', 'sender', 'sender_domain'],
  bytes: ['client_address', 'sasl_username', 'sender', 'sender_domain'],
};

/** One rate: `limit` per `seconds` on average, with up to `burst` at once (GCRA). */
export interface PolicyWindow {
  /** How many (connections, messages, recipients or bytes) per `seconds`, on average. */
  readonly limit: number;
  /** The window's length in seconds. */
  readonly seconds: number;
  /**
   * How many may come at once after a quiet spell. Default `limit`: a client may use a whole window's allowance
   * in one go, and then gets `limit / seconds` per second. A message larger than `burst` bytes counts as `burst`.
   */
  readonly burst?: number;
}

/** Who a rule (or every rule) leaves alone. */
export interface PolicyExempt {
  /** Client networks (CIDR, or single addresses). Default none. */
  readonly networks: readonly string[];
  /** SASL user names (`sasl_username`), compared without case. Default none. */
  readonly accounts: readonly string[];
}

export interface PolicyRule {
  /** Names the rule in Redis keys, metrics and logs: lower-case letters, digits and '-'. Renaming one starts it afresh. */
  readonly name: string;
  /** What the limit is kept per. */
  readonly key: PolicyKey;
  /** What is counted, at the stage {@link COUNT_STAGE} names. */
  readonly count: PolicyCount;
  /** One to eight rates; a request must fit every one of them, and counts in all of them or in none. */
  readonly windows: readonly PolicyWindow[];
  /** With key `client_address`: IPv4 clients share a limit per network of this prefix length. Default 32 (each address). */
  readonly ipv4Prefix?: number;
  /** With key `client_address`: IPv6 clients share a limit per network of this prefix length. Default 64. */
  readonly ipv6Prefix?: number;
  /**
   * Only requests whose Postfix `policy_context` is one of these count against this rule (the platform's `mta`
   * and `msa` send `mta` and `msa`; elsewhere, what `check_policy_service { ..., policy_context=NAME }` sets).
   * Default: every request, whatever its context.
   */
  readonly contexts?: readonly string[];
  /** Who this rule leaves alone, besides the document's own `exempt`. */
  readonly exempt: PolicyExempt;
  /**
   * The access(5) action over the limit: `DEFER_IF_PERMIT` (default), `DEFER`, `REJECT`, `HOLD`, `WARN` (log and let
   * it through) or a `4NN`/`5NN` code.
   */
  readonly action: string;
  /** Text for the client. Default `rate limit exceeded`; an enhanced status code (4.7.1 or 5.7.1) is put before it unless it has one. */
  readonly text: string;
}

export interface PolicyRules {
  /** Reply when a request cannot be judged in time (Redis down or slow): `DUNNO` (default) or a temporary refusal. */
  readonly defaultAction: string;
  /** Who every rule leaves alone. */
  readonly exempt: PolicyExempt;
  /** Checked in order; a request over several limits gets the first one's action. Default none. */
  readonly rules: readonly PolicyRule[];
}

export const DEFAULT_RULE_ACTION = 'DEFER_IF_PERMIT';
export const DEFAULT_RULE_TEXT = 'rate limit exceeded';
export const DEFAULT_FAIL_ACTION = 'DUNNO';
export const MAX_RULES = 100;
export const MAX_WINDOWS = 8;
/** Longest window: 31 days. */
export const MAX_WINDOW_SECONDS = 31 * 24 * 3600;
/** Largest limit or burst: a petabyte, for byte counts. */
export const MAX_LIMIT = 1e15;
export const MAX_EXEMPTIONS = 1000;
export const MAX_CONTEXTS = 16;

export const ACTION_PATTERN = '^(DEFER_IF_PERMIT|DEFER|REJECT|HOLD|WARN|[45][0-9][0-9])$';
export const TEXT_PATTERN = '^[ -~]{1,200}$';
export const FAIL_ACTION_PATTERN = '^(DUNNO|(DEFER_IF_PERMIT|DEFER|4[0-9][0-9])( [ -~]{1,200})?)$';
export const ACCOUNT_PATTERN = '^[!-~\\u0080-\\uffff]{1,320}$';
/** A `policy_context` value: what Postfix sends, one token. */
export const CONTEXT_PATTERN = '^[A-Za-z0-9._-]{1,63}$';

const EXEMPT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    networks: { type: 'array', maxItems: MAX_EXEMPTIONS, default: [], items: { type: 'string', minLength: 1, maxLength: 64 } },
    accounts: { type: 'array', maxItems: MAX_EXEMPTIONS, default: [], items: { type: 'string', pattern: ACCOUNT_PATTERN } },
  },
} as const;

const WINDOW_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['limit', 'seconds'],
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT },
    seconds: { type: 'integer', minimum: 1, maximum: MAX_WINDOW_SECONDS },
    burst: { type: 'integer', minimum: 1, maximum: MAX_LIMIT },
  },
} as const;

const RULE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'key', 'count', 'windows'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN },
    key: { enum: POLICY_KEYS },
    count: { enum: POLICY_COUNTS },
    windows: { type: 'array', minItems: 1, maxItems: MAX_WINDOWS, items: WINDOW_SCHEMA },
    ipv4Prefix: { type: 'integer', minimum: 0, maximum: 32 },
    ipv6Prefix: { type: 'integer', minimum: 0, maximum: 128 },
    contexts: { type: 'array', minItems: 1, maxItems: MAX_CONTEXTS, items: { type: 'string', pattern: CONTEXT_PATTERN } },
    exempt: EXEMPT_SCHEMA,
    action: { type: 'string', pattern: ACTION_PATTERN, default: DEFAULT_RULE_ACTION },
    text: { type: 'string', pattern: TEXT_PATTERN, default: DEFAULT_RULE_TEXT },
  },
} as const;

/** The JSON schema of a {@link PolicyRules} document, defaults included (for `spec.policy`). */
export const POLICY_RULES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    defaultAction: { type: 'string', pattern: FAIL_ACTION_PATTERN, default: DEFAULT_FAIL_ACTION },
    exempt: EXEMPT_SCHEMA,
    rules: { type: 'array', maxItems: MAX_RULES, default: [], items: RULE_SCHEMA },
  },
} as const;
