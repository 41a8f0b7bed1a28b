/**
 * The auth rules applied to one Dovecot request, pure: which buckets a login counts against, the script call for
 * a check or a count, and the answer once Redis said which buckets are full. Counting happens in Redis
 * (auth-script.ts).
 *
 * - `allow` (before a login, and after a passdb success): refused or delayed when a bucket is full.
 * - `report` with `success: false`, unless the failure was this server's own refusal (`policy_reject`): counted.
 * - `report` with `success: true`: the client's address becomes known to the account's `login` rules.
 */
import { createHash } from 'node:crypto';
import type { AuthPolicyRequest } from '../protocol/index.ts';
import { contains, networkOf, parseIp, parseNetwork, type IpAddress, type Network } from './address.ts';
import type { AuthScriptMode } from './auth-script.ts';
import { DEFAULT_KNOWN_SECONDS, DEFAULT_TARPIT_SECONDS, type AuthAction, type AuthKey, type AuthRules, type PolicyExempt } from './rules-schema.ts';

export interface CompiledAuthRule {
  readonly name: string;
  readonly key: AuthKey;
  readonly action: AuthAction;
  /** Dovecot's status over the limit: -1, or the tarpit's seconds. */
  readonly status: number;
  readonly text: string;
  readonly prefix4: number;
  readonly prefix6: number;
  readonly distinct: boolean;
  /** Milliseconds a known network stays known; 0: none are. */
  readonly knownMs: number;
  /** Milliseconds the distinct-passwords set lives: the longest window. */
  readonly longestMs: number;
  readonly networks: readonly Network[];
  readonly accounts: ReadonlySet<string>;
  /** Window count, then field, period µs and span µs of each. */
  readonly args: readonly string[];
}

export interface CompiledAuthPolicy {
  readonly rules: readonly CompiledAuthRule[];
  readonly networks: readonly Network[];
  readonly accounts: ReadonlySet<string>;
}

export interface AuthBucket {
  readonly rule: CompiledAuthRule;
  /** Below the key prefix: `auth:<rule>:<value>`. */
  readonly key: string;
  /** `fail`: the password's member of the distinct-passwords set, '' when the rule counts every failure. */
  readonly password: string;
  /** `check`, `success`: the client's member of the known-networks set, '' when the rule keeps none. */
  readonly known: string;
}

/** What Dovecot is answered, and how it is counted. */
export interface AuthVerdict {
  readonly status: number;
  readonly msg: string;
  /** `allow`, `reject`, `tarpit` (allow commands); `reported` (reports). */
  readonly verdict: 'allow' | 'reject' | 'tarpit' | 'reported';
  /** The rule that decided, '' for none. */
  readonly rule: string;
}

export const AUTH_ALLOW: AuthVerdict = Object.freeze({ status: 0, msg: '', verdict: 'allow', rule: '' });
export const AUTH_REPORTED: AuthVerdict = Object.freeze({ status: 0, msg: '', verdict: 'reported', rule: '' });

/** A known network: the client's own address (IPv4) or its /64 (IPv6). */
const KNOWN_PREFIX4 = 32;
const KNOWN_PREFIX6 = 64;
const MAX_KEY_VALUE_CHARS = 200;

function networks(exempt: PolicyExempt): Network[] {
  return exempt.networks.map((n) => parseNetwork(n)).filter((n): n is Network => typeof n !== 'string');
}

function accounts(exempt: PolicyExempt): Set<string> {
  return new Set(exempt.accounts.map((a) => a.toLowerCase()));
}

export function compileAuthPolicy(auth: AuthRules): CompiledAuthPolicy {
  const rules = auth.rules.map((r): CompiledAuthRule => {
    const windows = r.windows.map((w) => {
      const burst = w.burst ?? w.limit;
      const periodUs = (w.seconds * 1e6) / w.limit;
      return { field: `${w.seconds}:${w.limit}:${burst}`, periodUs, spanUs: burst * periodUs };
    });
    const login = r.key === 'login';
    return {
      name: r.name,
      key: r.key,
      action: r.action,
      status: r.action === 'tarpit' ? (r.tarpitSeconds ?? DEFAULT_TARPIT_SECONDS) : -1,
      text: r.text,
      prefix4: r.ipv4Prefix ?? 32,
      prefix6: r.ipv6Prefix ?? 64,
      distinct: login && (r.distinctPasswords ?? true),
      knownMs: login ? (r.knownSeconds ?? DEFAULT_KNOWN_SECONDS) * 1000 : 0,
      longestMs: Math.max(...r.windows.map((w) => ((w.burst ?? w.limit) / w.limit) * w.seconds)) * 1000,
      networks: networks(r.exempt),
      accounts: accounts(r.exempt),
      args: [String(windows.length), ...windows.flatMap((w) => [w.field, String(w.periodUs), String(w.spanUs)])],
    };
  });
  return { rules, networks: networks(auth.exempt), accounts: accounts(auth.exempt) };
}

function bounded(value: string): string {
  return value.length <= MAX_KEY_VALUE_CHARS ? value : `sha1:${createHash('sha1').update(value).digest('hex')}`;
}

function exempted(nets: readonly Network[], names: ReadonlySet<string>, ip: IpAddress | undefined, login: string): boolean {
  if (ip && nets.some((n) => contains(n, ip))) return true;
  return login !== '' && names.has(login);
}

/** What a request does with the counters: check them, count a failure, remember a success, or nothing. */
export function authMode(request: AuthPolicyRequest): AuthScriptMode | undefined {
  if (request.command === 'allow') return 'check';
  if (request.success === true) return 'success';
  return request.policyReject === true ? undefined : 'fail';
}

/** The buckets `request` is checked or counted against, in rule order; none when exempt or `mode` needs none. */
export function planAuth(policy: CompiledAuthPolicy, request: AuthPolicyRequest, mode: AuthScriptMode): AuthBucket[] {
  const ip = request.remote === '' ? undefined : parseIp(request.remote);
  const login = request.login.toLowerCase();
  if (exempted(policy.networks, policy.accounts, ip, login)) return [];
  const known = ip ? networkOf(ip, KNOWN_PREFIX4, KNOWN_PREFIX6) : '';
  const buckets: AuthBucket[] = [];
  for (const rule of policy.rules) {
    if (exempted(rule.networks, rule.accounts, ip, login)) continue;
    if (rule.key === 'remote') {
      if (!ip || mode === 'success') continue;
      buckets.push({ rule, key: `auth:${rule.name}:${networkOf(ip, rule.prefix4, rule.prefix6)}`, password: '', known: '' });
      continue;
    }
    if (login === '') continue;
    const member = rule.knownMs > 0 ? known : '';
    if (mode === 'success' && member === '') continue;
    // A failure without a password hash (none tried) counts as one password of its own.
    const password = rule.distinct ? (request.pwhash === '' ? '-' : request.pwhash.slice(0, 64)) : '';
    buckets.push({ rule, key: `auth:${rule.name}:${bounded(login)}`, password, known: member });
  }
  return buckets;
}

/** The script's KEYS and ARGV for `buckets` in `mode` (see auth-script.ts). */
export function authScriptCall(keyPrefix: string, mode: AuthScriptMode, buckets: readonly AuthBucket[]): { keys: string[]; args: string[] } {
  const keys: string[] = [];
  const args: string[] = [mode];
  for (const b of buckets) {
    const base = keyPrefix + b.key;
    keys.push(base, `${base}:pw`, `${base}:known`);
    const ttl = mode === 'success' ? b.rule.knownMs : b.rule.longestMs + 1000;
    args.push(...b.rule.args, mode === 'fail' ? b.password : '', mode === 'fail' ? '' : b.known, String(Math.ceil(ttl)));
  }
  return { keys, args };
}

/** The answer to an `allow` once Redis said which buckets are full: the first rejecting rule's, else the first tarpit's (longest delay), else allow. */
export function authVerdict(buckets: readonly AuthBucket[], full: readonly number[]): AuthVerdict {
  let tarpit: CompiledAuthRule | undefined;
  for (const index of [...full].sort((a, b) => a - b)) {
    const rule = buckets[index]?.rule;
    if (!rule) continue;
    if (rule.action === 'reject') return { status: -1, msg: rule.text, verdict: 'reject', rule: rule.name };
    if (tarpit === undefined || rule.status > tarpit.status) tarpit = rule;
  }
  return tarpit === undefined ? AUTH_ALLOW : { status: tarpit.status, msg: '', verdict: 'tarpit', rule: tarpit.name };
}
