/**
 * Rules applied to one request, pure: which rules' limits a request counts against (its buckets), and, given which
 * of those are over their limit, the reply. The counting itself happens in Redis (`limiter.ts`), atomically for
 * every bucket of a request.
 */
import { createHash } from 'node:crypto';
import type { PolicyAttribute } from '../protocol/index.ts';
import { contains, networkOf, parseIp, parseNetwork, type IpAddress, type Network } from './address.ts';
import { COUNT_STAGE, type PolicyCount, type PolicyExempt, type PolicyKey, type PolicyRules } from './rules-schema.ts';

/** The stages a `stage` metric label takes; anything else is `other`. */
export const POLICY_STAGES: ReadonlySet<string> = new Set(['CONNECT', 'EHLO', 'HELO', 'MAIL', 'RCPT', 'DATA', 'END-OF-MESSAGE', 'VRFY', 'ETRN']);

export interface CompiledWindow {
  /** The Redis hash field of this window: a changed window starts afresh. */
  readonly field: string;
  /** Microseconds one unit (a message, a byte) takes of the allowance: `seconds / limit`. */
  readonly periodUs: number;
  /** Microseconds of allowance the bucket holds: `burst × periodUs`. */
  readonly spanUs: number;
}

export interface CompiledRule {
  readonly name: string;
  readonly key: PolicyKey;
  readonly count: PolicyCount;
  readonly stage: string;
  readonly windows: readonly CompiledWindow[];
  readonly prefix4: number;
  readonly prefix6: number;
  readonly networks: readonly Network[];
  readonly accounts: ReadonlySet<string>;
  /** The `policy_context` values whose requests count; undefined: every request. */
  readonly contexts: ReadonlySet<string> | undefined;
  /** Over the limit means the request is refused (every action but WARN). */
  readonly hard: boolean;
  readonly decision: Decision;
  /** The rule's script arguments after hard flag and cost: window count, then field, period, span of each. */
  readonly args: readonly string[];
}

/** What a request is answered. */
export interface Decision {
  /** The reply's action with its text: `DEFER_IF_PERMIT 4.7.1 rate limit exceeded`. */
  readonly reply: string;
  /** The action alone, for metrics: `DUNNO`, `DEFER_IF_PERMIT`, `450`. */
  readonly verb: string;
  /** The rule that decided, or '' when none did. */
  readonly rule: string;
}

export interface CompiledPolicy {
  readonly rules: readonly CompiledRule[];
  readonly byStage: ReadonlyMap<string, readonly CompiledRule[]>;
  /** The reply when a request cannot be judged in time. */
  readonly failOpen: Decision;
  readonly networks: readonly Network[];
  readonly accounts: ReadonlySet<string>;
}

/** One rule's bucket that a request counts against. */
export interface Bucket {
  readonly rule: CompiledRule;
  /** The bucket's key below the key prefix: `<rule>:<value>`. */
  readonly key: string;
  /** How much the request counts: 1, or the message size in bytes. */
  readonly cost: number;
}

export const PASS: Decision = Object.freeze({ reply: 'DUNNO', verb: 'DUNNO', rule: '' });

/** Values longer than this are keyed by their SHA-1: a key stays small whatever a sender calls itself. */
const MAX_KEY_VALUE_CHARS = 200;
const ENHANCED_CODE = /^[245]\.[0-9]{1,3}\.[0-9]{1,3}( |$)/;

function ruleReply(action: string, text: string): string {
  if (action === 'HOLD' || action === 'WARN' || ENHANCED_CODE.test(text)) return `${action} ${text}`;
  const permanent = action === 'REJECT' || action.startsWith('5');
  return `${action} ${permanent ? '5.7.1' : '4.7.1'} ${text}`;
}

function networks(exempt: PolicyExempt): Network[] {
  return exempt.networks.map((n) => parseNetwork(n)).filter((n): n is Network => typeof n !== 'string');
}

function accounts(exempt: PolicyExempt): Set<string> {
  return new Set(exempt.accounts.map((a) => a.toLowerCase()));
}

/** Rules made ready for requests: stages looked up, networks parsed, rates in microseconds, replies formatted. */
export function compilePolicy(doc: PolicyRules): CompiledPolicy {
  const rules = doc.rules.map((r): CompiledRule => {
    const windows = r.windows.map((w): CompiledWindow => {
      const burst = w.burst ?? w.limit;
      const periodUs = (w.seconds * 1e6) / w.limit;
      return { field: `${w.seconds}:${w.limit}:${burst}`, periodUs, spanUs: burst * periodUs };
    });
    return {
      name: r.name,
      key: r.key,
      count: r.count,
      stage: COUNT_STAGE[r.count],
      windows,
      prefix4: r.ipv4Prefix ?? 32,
      prefix6: r.ipv6Prefix ?? 64,
      networks: networks(r.exempt),
      accounts: accounts(r.exempt),
      contexts: r.contexts === undefined ? undefined : new Set(r.contexts),
      hard: r.action !== 'WARN',
      decision: { reply: ruleReply(r.action, r.text), verb: r.action, rule: r.name },
      args: [String(windows.length), ...windows.flatMap((w) => [w.field, String(w.periodUs), String(w.spanUs)])],
    };
  });
  const byStage = new Map<string, CompiledRule[]>();
  for (const r of rules) byStage.set(r.stage, [...(byStage.get(r.stage) ?? []), r]);
  const verb = doc.defaultAction.split(' ')[0] ?? 'DUNNO';
  return {
    rules,
    byStage,
    failOpen: { reply: doc.defaultAction, verb, rule: '' },
    networks: networks(doc.exempt),
    accounts: accounts(doc.exempt),
  };
}

type Attributes = Readonly<Partial<Record<PolicyAttribute, string>>>;

function domainOf(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  return at === -1 || at === address.length - 1 ? undefined : address.slice(at + 1);
}

function bounded(value: string): string {
  return value.length <= MAX_KEY_VALUE_CHARS ? value : `sha1:${createHash('sha1').update(value).digest('hex')}`;
}

/** The value a rule keeps its count per, for this request; undefined when the request has none (no SASL login, `<>`). */
function keyValue(rule: CompiledRule, attributes: Attributes, ip: IpAddress | undefined): string | undefined {
  let value: string | undefined;
  switch (rule.key) {
    case 'client_address':
      return ip ? networkOf(ip, rule.prefix4, rule.prefix6) : undefined;
    case 'sasl_username':
      value = attributes.sasl_username;
      break;
    case 'sender':
      value = attributes.sender;
      break;
    case 'recipient':
      value = attributes.recipient;
      break;
    case 'sender_domain':
      value = attributes.sender === undefined ? undefined : domainOf(attributes.sender);
      break;
    case 'recipient_domain':
      value = attributes.recipient === undefined ? undefined : domainOf(attributes.recipient);
      break;
  }
  return value === undefined || value === '' ? undefined : bounded(value.toLowerCase());
}

function exempted(nets: readonly Network[], names: ReadonlySet<string>, ip: IpAddress | undefined, sasl: string | undefined): boolean {
  if (ip && nets.some((n) => contains(n, ip))) return true;
  return sasl !== undefined && sasl !== '' && names.has(sasl.toLowerCase());
}

/** The buckets `attributes` counts against, in rule order; none when no rule counts at its stage or it is exempt. */
export function planRequest(policy: CompiledPolicy, attributes: Attributes): Bucket[] {
  const candidates = policy.byStage.get(attributes.protocol_state ?? '');
  if (candidates === undefined) return [];
  const ip = attributes.client_address === undefined ? undefined : parseIp(attributes.client_address);
  const sasl = attributes.sasl_username;
  if (exempted(policy.networks, policy.accounts, ip, sasl)) return [];
  const buckets: Bucket[] = [];
  for (const rule of candidates) {
    if (rule.contexts !== undefined && !rule.contexts.has(attributes.policy_context ?? '')) continue;
    if (exempted(rule.networks, rule.accounts, ip, sasl)) continue;
    const value = keyValue(rule, attributes, ip);
    if (value === undefined) continue;
    const cost = rule.count === 'bytes' ? Number(attributes.size ?? 0) : 1;
    if (!(cost > 0)) continue;
    buckets.push({ rule, key: `${rule.name}:${value}`, cost });
  }
  return buckets;
}

/** Whether a bucket's allowance may be lent ahead (leases.ts): it counts one unit a request. */
export function lendable(bucket: Bucket): boolean {
  return bucket.rule.count !== 'bytes' && bucket.cost === 1;
}

/**
 * The Redis script's KEYS and ARGV for `buckets` (see limiter-script.ts), each lendable one asking for up to
 * `leaseUnits(key)` more (none without it).
 */
export function scriptCall(keyPrefix: string, buckets: readonly Bucket[], leaseUnits?: (key: string) => number): { keys: string[]; args: string[] } {
  const keys: string[] = [];
  const args: string[] = [];
  for (const b of buckets) {
    const key = keyPrefix + b.key;
    keys.push(key);
    args.push(b.rule.hard ? '1' : '0', String(b.cost), String(lendable(b) && leaseUnits ? leaseUnits(key) : 0), ...b.rule.args);
  }
  return { keys, args };
}

/**
 * The reply once Redis said which buckets are over (their indexes in `buckets`): the first refusing rule's action,
 * else the first WARN rule's, else DUNNO (never OK: the restrictions after the policy check still apply).
 */
export function decide(buckets: readonly Bucket[], over: readonly number[]): Decision {
  if (over.length === 0) return PASS;
  let warn: Decision | undefined;
  for (const index of [...over].sort((a, b) => a - b)) {
    const rule = buckets[index]?.rule;
    if (!rule) continue;
    if (rule.hard) return rule.decision;
    warn ??= rule.decision;
  }
  return warn ?? PASS;
}
