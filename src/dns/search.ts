/**
 * Predicts the DNS queries glibc sends for `getaddrinfo(NAME, AF_UNSPEC)` with `hosts: files dns`
 * and NAME not in /etc/hosts. It follows glibc's `__res_context_search` (resolv/res_query.c, 2.36):
 *
 * 1. A name with at least `ndots` dots, or with a trailing dot, is tried as-is first. With a trailing
 *    dot that is also the last try, whatever the answer.
 * 2. Otherwise (or when the as-is try failed), every search-list entry is appended in turn, while
 *    answers are NXDOMAIN or NODATA. Any other failure ends the search list early.
 * 3. Finally the name as-is, unless it was tried already, the search list held the root, or the name
 *    has no dot and `no-tld-query` is set.
 *
 * Each try sends one query per address type: A then AAAA for AF_UNSPEC (in parallel on one socket
 * unless `single-request`), A only with `no-aaaa`. A try whose name cannot be encoded (a label over
 * 63 bytes, a name over 255) is not sent, and like any hard failure it ends the search list.
 */
import { isIP } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';
import { MailfleetError } from '../errors.ts';
import { inetAton, type ResolvConf } from './resolv-conf.ts';
import { encodeName, presentPlainName } from './wire.ts';

export type AddressType = 'A' | 'AAAA';

/** What getaddrinfo(AF_UNSPEC) asks for when AI_ADDRCONFIG does not narrow it. */
export const AF_UNSPEC_TYPES: readonly AddressType[] = Object.freeze(['A', 'AAAA']);

/** glibc's MAXDNAME: the longest name text `__res_context_querydomain` accepts. */
const MAXDNAME = 1025;

export interface PredictedQuery {
  /** Absolute, presentation form as the counting server shows it: `mx.example.co.jp.mail.svc.cluster.local.` */
  readonly name: string;
  readonly type: AddressType;
}

export interface Candidate {
  readonly name: string;
  /** `resolved` and `nxdomain` were sent; `unsendable` could not be encoded and ended the search list. */
  readonly outcome: 'resolved' | 'nxdomain' | 'unsendable';
}

export interface Prediction {
  readonly name: string;
  readonly types: readonly AddressType[];
  /** Every name tried, in order. */
  readonly candidates: readonly Candidate[];
  /** Every query sent, in order. */
  readonly queries: readonly PredictedQuery[];
  /** The name that answered with addresses, or `undefined` if none did. */
  readonly resolvedAs: string | undefined;
  /** True when A and AAAA of one try go out together (no `single-request`). */
  readonly parallel: boolean;
}

export interface PredictOptions {
  /**
   * Names that exist (answer with addresses); everything else answers NXDOMAIN. Compared without case,
   * trailing dot optional. Default: NAME itself, so every search-list candidate is NXDOMAIN.
   */
  readonly existing?: Iterable<string>;
  /** Address types asked for. Default {@link AF_UNSPEC_TYPES}; see {@link addrconfigTypes}. */
  readonly types?: readonly AddressType[];
}

/** `name` absolute, in presentation form, lower-cased: the key the existing set is matched on. */
export function absoluteName(name: string): string {
  return presentPlainName(name).toLowerCase();
}

const LABEL = /^[A-Za-z0-9_-]{1,63}$/;

/** Why `name` is not a host name to audit, or `undefined` if it is one. */
export function hostNameProblem(name: string): string | undefined {
  // getaddrinfo takes these as addresses (inet_aton forms included) and sends no query.
  if (isIP(name) !== 0 || inetAton(name) !== undefined) return 'it is an address literal, which getaddrinfo answers without DNS';
  const text = name.endsWith('.') ? name.slice(0, -1) : name;
  if (text === '') return 'it is empty';
  if (text.length > 253) return `it is ${text.length} characters long; at most 253 fit in a DNS name`;
  const bad = text.split('.').find((label) => !LABEL.test(label));
  if (bad !== undefined) {
    return bad === '' ? 'it has an empty label (two dots in a row, or a leading dot)' : `label ${JSON.stringify(bad.slice(0, 70))} is not 1 to 63 letters, digits, '-' or '_'`;
  }
  return undefined;
}

/** `name` if it is a host name to audit; DNS_NAME_INVALID otherwise. */
export function parseHostName(name: string): string {
  const problem = hostNameProblem(name);
  if (problem !== undefined) throw new MailfleetError('DNS_NAME_INVALID', `${JSON.stringify(name)} is not a host name to audit: ${problem}`);
  return name;
}

/**
 * The address types `getaddrinfo` asks for with AI_ADDRCONFIG (as `getent ahosts` sets it), given the
 * host's interfaces (`os.networkInterfaces()`). glibc ignores only 127.0.0.1 and ::1; when exactly one
 * family has another address, AF_UNSPEC narrows to that family (and to A or AAAA queries only).
 */
export function addrconfigTypes(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): readonly AddressType[] {
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  const seenV4 = all.some((i) => i.family === 'IPv4' && i.address !== '127.0.0.1');
  const seenV6 = all.some((i) => i.family === 'IPv6' && i.address !== '::1');
  if (seenV4 === seenV6) return AF_UNSPEC_TYPES;
  return Object.freeze([seenV4 ? 'A' : 'AAAA']);
}

function countDots(name: string): number {
  let dots = 0;
  for (const ch of name) if (ch === '.') dots += 1;
  return dots;
}

export function predictQueries(conf: ResolvConf, name: string, options: PredictOptions = {}): Prediction {
  const existing = new Set([...(options.existing ?? [name])].map(absoluteName));
  const types = (options.types ?? AF_UNSPEC_TYPES).filter((type) => type === 'A' || !conf.flags.noAaaa);
  const candidates: Candidate[] = [];
  const queries: PredictedQuery[] = [];
  let resolvedAs: string | undefined;

  /** One try of `tried`; `tooLong` is glibc's MAXDNAME check on the name text. */
  function attempt(tried: string, tooLong: boolean): Candidate['outcome'] {
    const absolute = presentPlainName(tried);
    if (tooLong || encodeName(tried) === undefined) {
      candidates.push({ name: absolute, outcome: 'unsendable' });
      return 'unsendable';
    }
    for (const type of types) queries.push({ name: absolute, type });
    const outcome = existing.has(absolute.toLowerCase()) ? 'resolved' : 'nxdomain';
    candidates.push({ name: absolute, outcome });
    if (outcome === 'resolved') resolvedAs = absolute;
    return outcome;
  }

  const result = (): Prediction =>
    Object.freeze({ name, types, candidates, queries, resolvedAs, parallel: !conf.flags.singleRequest && !conf.flags.singleRequestReopen });

  // attempts <= 0: res_send makes no round at all, fails with ECONNREFUSED, and the search gives up.
  if (conf.attempts <= 0 || types.length === 0) return result();

  const dots = countDots(name);
  const trailingDot = name.endsWith('.');
  const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');
  const asIsTooLong = bytes(name) - 1 >= MAXDNAME - 1;
  let triedAsIs = false;
  if (dots >= conf.ndots || trailingDot) {
    if (attempt(name, asIsTooLong) === 'resolved' || trailingDot) return result();
    triedAsIs = true;
  }

  // RES_DEFNAMES and RES_DNSRCH are always on (resolv.conf cannot clear them).
  let searched = false;
  let rootOnList = false;
  for (const entry of conf.search) {
    searched = true;
    const domain = entry.startsWith('.') ? entry.slice(1) : entry;
    if (domain === '') rootOnList = true;
    const outcome = attempt(`${name}.${domain}`, bytes(name) + bytes(domain) + 1 >= MAXDNAME);
    if (outcome === 'resolved') return result();
    if (outcome === 'unsendable') break;
  }

  if ((dots > 0 || !searched || !conf.flags.noTldQuery) && !(triedAsIs || rootOnList)) attempt(name, asIsTooLong);
  return result();
}
