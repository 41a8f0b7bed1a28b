/**
 * resolv.conf as glibc (2.26 and later; checked against 2.36) reads it, quirks included, so that the
 * prediction in `search.ts` matches what the real resolver does with the same file:
 *
 * - A line counts only if its keyword starts the line and is followed by a space or tab; comment lines
 *   start with `#` or `;`. Everything else is ignored, and nothing here ever throws.
 * - The last `search` or `domain` line wins; `domain X` is a search list of one. Search entries are
 *   split on spaces and tabs only, so a trailing `# comment` on a search line becomes search entries,
 *   exactly as in glibc. With neither line, the search list is the host name after its first dot.
 * - `nameserver`: IPv4 in `inet_aton` form, or IPv6 with an optional `%scope`; the first 3 are used
 *   (MAXNS); with none, 127.0.0.1.
 * - `options`: `ndots:N` (0..15), `timeout:N` (at most 30), `attempts:N` (at most 5), read with C `atoi`;
 *   flags matched by prefix as glibc does (`rotatefoo` sets rotate).
 *
 * The LOCALDOMAIN and RES_OPTIONS environment variables are deliberately not applied: the audit is
 * about the file (and `--observe` runs getent with them removed).
 */
import { isIPv6 } from 'node:net';

/** glibc's limits: RES_MAXNDOTS, RES_MAXRETRANS (seconds), RES_MAXRETRY, MAXNS. */
export const RES_MAXNDOTS = 15;
export const RES_MAXRETRANS_SECONDS = 30;
export const RES_MAXRETRY = 5;
export const MAXNS = 3;
/** glibc's defaults: ndots 1, timeout RES_TIMEOUT (5 s), attempts RES_DFLRETRY (2), name server 127.0.0.1. */
export const DEFAULT_NDOTS = 1;
export const DEFAULT_TIMEOUT_SECONDS = 5;
export const DEFAULT_ATTEMPTS = 2;
export const DEFAULT_NAMESERVER = '127.0.0.1';

/** Option flags glibc 2.36 knows, in glibc's matching order (first prefix match wins). */
const FLAG_OPTIONS = [
  ['rotate', 'rotate'],
  ['edns0', 'edns0'],
  ['single-request-reopen', 'singleRequestReopen'],
  ['single-request', 'singleRequest'],
  ['no_tld_query', 'noTldQuery'],
  ['no-tld-query', 'noTldQuery'],
  ['no-reload', 'noReload'],
  ['use-vc', 'useVc'],
  ['trust-ad', 'trustAd'],
  ['no-aaaa', 'noAaaa'],
] as const;

export type ResolverFlag = (typeof FLAG_OPTIONS)[number][1];
export type ResolverFlags = Readonly<Record<ResolverFlag, boolean>>;

export interface ResolvConf {
  /** The name servers glibc uses: the first {@link MAXNS} parsed, or {@link DEFAULT_NAMESERVER}. */
  readonly nameservers: readonly string[];
  /** The search list as written, in order (`.` or a leading dot is stripped only when querying). */
  readonly search: readonly string[];
  /** Where the search list came from. */
  readonly searchSource: 'search' | 'domain' | 'hostname' | 'none';
  /** Dots a name needs to be tried as-is before the search list. Default {@link DEFAULT_NDOTS}. */
  readonly ndots: number;
  /** Seconds to wait for a reply. Default {@link DEFAULT_TIMEOUT_SECONDS}. */
  readonly timeoutSeconds: number;
  /** Rounds over the name servers; 0 or less means no query is ever sent. Default {@link DEFAULT_ATTEMPTS}. */
  readonly attempts: number;
  readonly flags: ResolverFlags;
}

export interface ResolvConfContext {
  /** The host name, for the search list when the file has neither `search` nor `domain`. */
  readonly hostname?: string;
}

const NO_FLAGS: ResolverFlags = Object.freeze(Object.fromEntries(FLAG_OPTIONS.map(([, flag]) => [flag, false])) as Record<ResolverFlag, boolean>);

function isBlank(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t';
}

function keywordRest(line: string, keyword: string): string | undefined {
  return line.startsWith(keyword) && isBlank(line[keyword.length]) ? line.slice(keyword.length) : undefined;
}

function skipBlanks(text: string): string {
  let i = 0;
  while (isBlank(text[i])) i += 1;
  return text.slice(i);
}

/** C `atoi` as glibc has it: `(int) strtol(s, NULL, 10)`, leading white space skipped, clamped then truncated. */
export function atoi(text: string): number {
  const match = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  if (!match?.[1]) return 0;
  const LONG_MAX = (1n << 63n) - 1n;
  let value = BigInt(match[1]);
  if (value > LONG_MAX) value = LONG_MAX;
  if (value < -LONG_MAX - 1n) value = -LONG_MAX - 1n;
  return Number(BigInt.asIntN(32, value));
}

/** glibc `inet_aton`: 1 to 4 parts, decimal, octal (`0` prefix) or hex (`0x`), then optional white space and anything. */
export function inetAton(text: string): string | undefined {
  const match = /^((?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3})(?:[ \t\n\v\f\r].*)?$/is.exec(text);
  if (!match?.[1]) return undefined;
  const parts = match[1].split('.').map((part) => {
    if (/^0x/i.test(part)) return part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    if (/^0[0-7]*$/.test(part)) return parseInt(part, 8);
    return /^0/.test(part) ? NaN : parseInt(part, 10);
  });
  if (parts.some((p) => !Number.isFinite(p))) return undefined;
  const last = parts.pop() ?? 0;
  const maxLast = [0xffffffff, 0xffffff, 0xffff, 0xff][parts.length] ?? 0;
  if (last > maxLast || parts.some((p) => p > 0xff)) return undefined;
  const value = parts.reduce((acc, p, i) => acc + p * 2 ** (24 - 8 * i), 0) + last;
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function parseNameserver(rest: string): string | undefined {
  const text = skipBlanks(rest);
  if (text === '') return undefined;
  const v4 = inetAton(text);
  if (v4 !== undefined) return v4;
  const token = text.split(/[ \t\n]/, 1)[0] ?? '';
  const [address = '', scope] = token.split('%', 2);
  if (!isIPv6(address)) return undefined;
  return scope === undefined ? address : `${address}%${scope}`;
}

interface OptionState {
  ndots: number;
  timeoutSeconds: number;
  attempts: number;
  flags: Record<ResolverFlag, boolean>;
}

/** glibc `res_setoptions`: words separated by spaces or tabs, each matched by prefix. */
function applyOptions(state: OptionState, text: string): void {
  let i = 0;
  while (i < text.length) {
    while (isBlank(text[i])) i += 1;
    const word = text.slice(i);
    if (word.startsWith('ndots:')) {
      const n = atoi(word.slice('ndots:'.length));
      // Kept in an unsigned int, then in the 4-bit `ndots` field of struct __res_state.
      state.ndots = n <= RES_MAXNDOTS ? (n >>> 0) & 0x0f : RES_MAXNDOTS;
    } else if (word.startsWith('timeout:')) {
      state.timeoutSeconds = Math.min(atoi(word.slice('timeout:'.length)), RES_MAXRETRANS_SECONDS);
    } else if (word.startsWith('attempts:')) {
      state.attempts = Math.min(atoi(word.slice('attempts:'.length)), RES_MAXRETRY);
    } else {
      const known = FLAG_OPTIONS.find(([prefix]) => word.startsWith(prefix));
      if (known) state.flags[known[1]] = true;
    }
    while (i < text.length && !isBlank(text[i])) i += 1;
  }
}

function splitSearch(rest: string): string[] {
  return rest.split(/[ \t]+/).filter((entry) => entry !== '');
}

export function parseResolvConf(text: string, context: ResolvConfContext = {}): ResolvConf {
  const nameservers: string[] = [];
  let search: string[] = [];
  let searchSource: ResolvConf['searchSource'] = 'none';
  const options: OptionState = { ndots: DEFAULT_NDOTS, timeoutSeconds: DEFAULT_TIMEOUT_SECONDS, attempts: DEFAULT_ATTEMPTS, flags: { ...NO_FLAGS } };

  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.startsWith(';')) continue;
    let rest: string | undefined;
    if ((rest = keywordRest(line, 'domain')) !== undefined) {
      const domain = skipBlanks(rest).split(/[ \t]/, 1)[0] ?? '';
      if (domain === '') continue;
      search = [domain];
      searchSource = 'domain';
    } else if ((rest = keywordRest(line, 'search')) !== undefined) {
      const entries = splitSearch(rest);
      if (entries.length === 0) continue;
      search = entries;
      searchSource = 'search';
    } else if ((rest = keywordRest(line, 'nameserver')) !== undefined) {
      const address = parseNameserver(rest);
      if (address !== undefined) nameservers.push(address);
    } else if ((rest = keywordRest(line, 'options')) !== undefined) {
      applyOptions(options, rest);
    }
  }
  if (search.length === 0 && context.hostname !== undefined) {
    const dot = context.hostname.indexOf('.');
    if (dot >= 0) {
      search = [context.hostname.slice(dot + 1)];
      searchSource = 'hostname';
    }
  }
  return Object.freeze({
    nameservers: Object.freeze(nameservers.length === 0 ? [DEFAULT_NAMESERVER] : nameservers.slice(0, MAXNS)),
    search: Object.freeze(search),
    searchSource,
    ndots: options.ndots,
    timeoutSeconds: options.timeoutSeconds,
    attempts: options.attempts,
    flags: Object.freeze(options.flags),
  });
}

/** The option words of `conf` that differ from glibc's defaults, ndots always first. */
export function optionWords(conf: ResolvConf): string[] {
  const words = [`ndots:${conf.ndots}`];
  if (conf.timeoutSeconds !== DEFAULT_TIMEOUT_SECONDS) words.push(`timeout:${conf.timeoutSeconds}`);
  if (conf.attempts !== DEFAULT_ATTEMPTS) words.push(`attempts:${conf.attempts}`);
  const written = new Set<ResolverFlag>();
  for (const [word, flag] of FLAG_OPTIONS) {
    if (conf.flags[flag] && !written.has(flag)) {
      words.push(word);
      written.add(flag);
    }
  }
  return words;
}

/**
 * A resolv.conf that glibc reads back into `conf`, with `nameservers` in place of conf's own (the
 * observer points the resolver at its counting server this way).
 */
export function renderResolvConf(conf: ResolvConf, nameservers: readonly string[] = conf.nameservers): string {
  const lines = nameservers.map((address) => `nameserver ${address}`);
  if (conf.search.length > 0) lines.push(`search ${conf.search.map((entry) => (entry === '' ? '.' : entry)).join(' ')}`);
  lines.push(`options ${optionWords(conf).join(' ')}`);
  return `${lines.join('\n')}\n`;
}
