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
  /** Limits on failed logins, which Dovecot's proxies ask about. Default {@link DEFAULT_AUTH_RULES}. */
  readonly auth: AuthRules;
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

/**
 * The `auth` section: limits on failed logins (IMAP, POP3, SMTP AUTH), which Dovecot's proxies ask the policy
 * server about (`auth_policy_server_url`). Failures are counted per client address (aggregated to a prefix) or per
 * account (`login`); over a limit a login is refused (`reject`, Dovecot's status -1) or delayed (`tarpit`, status =
 * seconds).
 */
/** What failures are counted per: the client's address (or its network), or the account a client tried. */
export const AUTH_KEYS = ['remote', 'login'] as const;
export type AuthKey = (typeof AUTH_KEYS)[number];
export const AUTH_ACTIONS = ['reject', 'tarpit'] as const;
export type AuthAction = (typeof AUTH_ACTIONS)[number];

export interface AuthRule {
  /** Names the rule in Redis keys, metrics and logs: lower-case letters, digits and '-'. */
  readonly name: string;
  readonly key: AuthKey;
  /** One to eight rates of failed logins; over any one of them, the rule's action. */
  readonly windows: readonly PolicyWindow[];
  /** With key `remote`: IPv4 clients share a count per network of this prefix length. Default 32. */
  readonly ipv4Prefix?: number;
  /** With key `remote`: IPv6 clients share a count per network of this prefix length. Default 64. */
  readonly ipv6Prefix?: number;
  /**
   * With key `login`: count a failure only when its password (Dovecot's truncated, salted hash of it) was not
   * already tried against the account within the longest window. A phone retrying one stale password counts once;
   * an attacker guessing counts every guess. Default true.
   */
  readonly distinctPasswords?: boolean;
  /**
   * With key `login`: a client address (/32, IPv6 /64) that logged in to the account successfully within this many
   * seconds is not held to this rule, so an attack on an account does not lock its owner out from where they
   * usually are. 0: no exception. Default 2592000 (30 days).
   */
  readonly knownSeconds?: number;
  /** Who this rule leaves alone (client networks, logins), besides the section's own `exempt`. */
  readonly exempt: PolicyExempt;
  /** Over the limit: `reject` the login (default), or `tarpit` it by `tarpitSeconds`. */
  readonly action: AuthAction;
  /** With `tarpit`: seconds Dovecot waits before it goes on with the login, 1 to 60. Default 15. */
  readonly tarpitSeconds?: number;
  /** What Dovecot tells the client with a refusal. Default {@link DEFAULT_AUTH_TEXT}. */
  readonly text: string;
}

export interface AuthRules {
  /** Who no auth rule counts or refuses (client networks, logins). Default none. */
  readonly exempt: PolicyExempt;
  /** Checked in order; a login over several limits gets the first refusing rule's answer. */
  readonly rules: readonly AuthRule[];
}

export const DEFAULT_AUTH_TEXT = 'too many failed logins, try again later';
export const DEFAULT_TARPIT_SECONDS = 15;
export const MAX_TARPIT_SECONDS = 60;
export const DEFAULT_KNOWN_SECONDS = 30 * 86_400;
export const MAX_AUTH_RULES = 32;
export const AUTH_TEXT_PATTERN = '^[ -~]{1,200}$';

/**
 * What an ISP wants on from the start (see the README for the reasoning):
 * - `auth-address`: one client address (IPv4, or an IPv6 /64) gets 10 failed logins in 5 minutes, 30 an hour and
 *   100 a day, then is refused whatever password it sends. Counted per address, not per /24: CGNAT and campus
 *   networks put many honest users behind one network.
 * - `auth-network`: an IPv4 /24 or IPv6 /48 gets 300 failures an hour: a botnet spread over one hosting network.
 * - `auth-account`: one account gets 20 distinct wrong passwords an hour and 50 a day, from anywhere; then it is
 *   refused, except from addresses it logged in from successfully within 30 days. Distinct passwords only: a client
 *   retrying a stale saved password (every few minutes, for days) is one guess, not hundreds.
 */
export const DEFAULT_AUTH_RULES: readonly AuthRule[] = [
  {
    name: 'auth-address',
    key: 'remote',
    ipv4Prefix: 32,
    ipv6Prefix: 64,
    windows: [{ limit: 10, seconds: 300 }, { limit: 30, seconds: 3600 }, { limit: 100, seconds: 86_400 }],
    exempt: { networks: [], accounts: [] },
    action: 'reject',
    text: DEFAULT_AUTH_TEXT,
  },
  {
    name: 'auth-network',
    key: 'remote',
    ipv4Prefix: 24,
    ipv6Prefix: 48,
    windows: [{ limit: 300, seconds: 3600 }],
    exempt: { networks: [], accounts: [] },
    action: 'reject',
    text: DEFAULT_AUTH_TEXT,
  },
  {
    name: 'auth-account',
    key: 'login',
    distinctPasswords: true,
    knownSeconds: DEFAULT_KNOWN_SECONDS,
    windows: [{ limit: 20, seconds: 3600 }, { limit: 50, seconds: 86_400 }],
    exempt: { networks: [], accounts: [] },
    action: 'reject',
    text: DEFAULT_AUTH_TEXT,
  },
];

const AUTH_RULE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'key', 'windows'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN },
    key: { enum: AUTH_KEYS },
    windows: {
      type: 'array', minItems: 1, maxItems: MAX_WINDOWS,
      items: {
        type: 'object', additionalProperties: false, required: ['limit', 'seconds'],
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT },
          seconds: { type: 'integer', minimum: 1, maximum: MAX_WINDOW_SECONDS },
          burst: { type: 'integer', minimum: 1, maximum: MAX_LIMIT },
        },
      },
    },
    ipv4Prefix: { type: 'integer', minimum: 0, maximum: 32 },
    ipv6Prefix: { type: 'integer', minimum: 0, maximum: 128 },
    distinctPasswords: { type: 'boolean' },
    knownSeconds: { type: 'integer', minimum: 0, maximum: MAX_WINDOW_SECONDS },
    exempt: EXEMPT_SCHEMA,
    action: { enum: AUTH_ACTIONS, default: 'reject' },
    tarpitSeconds: { type: 'integer', minimum: 1, maximum: MAX_TARPIT_SECONDS },
    text: { type: 'string', pattern: AUTH_TEXT_PATTERN, default: DEFAULT_AUTH_TEXT },
  },
} as const;

/** The JSON schema of the `auth` section, defaults included. */
export const AUTH_RULES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    exempt: EXEMPT_SCHEMA,
    rules: { type: 'array', maxItems: MAX_AUTH_RULES, default: DEFAULT_AUTH_RULES, items: AUTH_RULE_SCHEMA },
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
    auth: AUTH_RULES_SCHEMA,
  },
} as const;
