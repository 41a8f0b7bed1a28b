/**
 * unbound: the cluster's recursive resolver, the upstream node-local-dns forwards `.` to. A mail
 * platform is one of DNS's heaviest clients (MX, A/AAAA, TLSA, PTR and DNSBL lookups for every
 * message), and node-local-dns talks to it over TCP (see node-local-dns.ts), so the TCP limits are
 * raised well past unbound's defaults (10 connections per thread each way) and an idle connection
 * outlives node-local-dns's connection reuse.
 */
import { isIP } from 'node:net';
import { networkProblem, type PlatformSpec } from '../spec/index.ts';
import type { ConfigFiles } from './context.ts';

export const UNBOUND_CONF = 'unbound.conf';

/** Idle TCP connections are closed after this; must exceed node-local-dns's `expire` (NODE_LOCAL_DNS_TCP_EXPIRE_S). */
export const UNBOUND_TCP_IDLE_TIMEOUT_MS = 30_000;
/** Incoming TCP connections per thread: one per node-local-dns worker and node, with room to spare. */
export const UNBOUND_INCOMING_TCP_PER_THREAD = 1024;
/** Outgoing TCP connections per thread: truncated answers (large TXT/DNSKEY/TLSA sets) retried over TCP. */
export const UNBOUND_OUTGOING_TCP_PER_THREAD = 256;
/** How long past its TTL an answer may still be served while it is refreshed (RFC 8767, kept short). */
export const UNBOUND_SERVE_EXPIRED_TTL_S = 300;

export interface UnboundOptions {
  /** Address unbound listens on: `0.0.0.0` in a pod. */
  listen: string;
  /** Port for UDP and TCP. */
  port: number;
  /**
   * Resolvers every query is forwarded to, as `ADDRESS` or `ADDRESS@PORT` (the ISP's own resolvers).
   * Absent or empty: unbound recurses from the root itself.
   */
  upstreams?: string[];
  /**
   * Client ranges allowed to query (CIDRs). Default `spec.kubernetes.podNetworks`. node-local-dns runs
   * on the host network, so add the node network here. Loopback is always allowed (health checks);
   * everyone else is refused.
   */
  allow?: string[];
  /** Worker threads. Default 2. */
  threads?: number;
  /** Message cache in MiB; the RRset cache gets twice this. Default 64 (192 MiB in all). */
  msgCacheMiB?: number;
  /**
   * A DNSSEC trust anchor file (e.g. `/usr/share/dns/root.key`). Set: answers are validated, which
   * DANE (TLSA) for outbound mail needs. Default: no validation.
   */
  trustAnchorFile?: string;
}

const DEFAULT_THREADS = 2;
const DEFAULT_MSG_CACHE_MIB = 64;
const MAX_THREADS = 64;
/** An upstream: IPv4 or IPv6 address, optionally `@port`. */
const UPSTREAM = /^([0-9A-Fa-f.:]+)(?:@([0-9]{1,5}))?$/;

function upstreamAddress(upstream: string): string {
  const m = UPSTREAM.exec(upstream);
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || isIP(m[1] as string) === 0 || port < 1 || port > 65535) {
    throw new RangeError(`unbound upstream ${JSON.stringify(upstream)} is not ADDRESS or ADDRESS@PORT`);
  }
  return m[1] as string;
}

function checkCidr(cidr: string): string {
  const problem = networkProblem(cidr, { bare: true });
  if (problem !== undefined) throw new RangeError(`unbound access-control range ${JSON.stringify(cidr)} ${problem}`);
  return cidr;
}

function positiveInteger(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`unbound ${name} must be an integer from 1 to ${max}, not ${value}`);
  return value;
}

/** Smallest power of two ≥ n: cache slab counts must be powers of two, about one per thread. */
function slabs(n: number): number {
  let s = 1;
  while (s < n) s *= 2;
  return s;
}

/** `unbound.conf` for `unbound -d -c FILE`: foreground, logs on stderr, no pid file, no control socket. */
export function unboundFiles(spec: PlatformSpec, opts: UnboundOptions): ConfigFiles {
  if (isIP(opts.listen) === 0) throw new RangeError(`unbound listen address ${JSON.stringify(opts.listen)} is not an IP address`);
  const port = positiveInteger('port', opts.port, 65535);
  const threads = positiveInteger('threads', opts.threads ?? DEFAULT_THREADS, MAX_THREADS);
  const msgCache = positiveInteger('msgCacheMiB', opts.msgCacheMiB ?? DEFAULT_MSG_CACHE_MIB, 65536);
  const upstreams = opts.upstreams ?? [];
  const upstreamHosts = upstreams.map(upstreamAddress);
  const allow = (opts.allow ?? spec.kubernetes.podNetworks).map(checkCidr);
  const validating = opts.trustAnchorFile !== undefined;
  if (validating && /["\n]/.test(opts.trustAnchorFile as string)) throw new RangeError('unbound trustAnchorFile must not contain quotes or newlines');
  const slab = slabs(threads);

  const server: string[] = [
    // Foreground under the container runtime; logs to stderr. The pod's securityContext picks the user.
    'do-daemonize: no',
    'use-syslog: no',
    'logfile: ""',
    'log-time-ascii: yes',
    'verbosity: 1',
    'pidfile: ""',
    'username: ""',
    'chroot: ""',
    'directory: "/"',
    `interface: ${opts.listen}`,
    `port: ${port}`,
    'so-reuseport: yes',
    `num-threads: ${threads}`,
    'num-queries-per-thread: 4096',
    'outgoing-range: 8192',
    // node-local-dns keeps TCP connections to us; raise the limits and keep idle ones longer than it does.
    `incoming-num-tcp: ${UNBOUND_INCOMING_TCP_PER_THREAD}`,
    `outgoing-num-tcp: ${UNBOUND_OUTGOING_TCP_PER_THREAD}`,
    `tcp-idle-timeout: ${UNBOUND_TCP_IDLE_TIMEOUT_MS}`,
    // Caches: mail looks up the same MX hosts and DNSBL zones over and over.
    `msg-cache-size: ${msgCache}m`,
    `rrset-cache-size: ${msgCache * 2}m`,
    `msg-cache-slabs: ${slab}`,
    `rrset-cache-slabs: ${slab}`,
    `infra-cache-slabs: ${slab}`,
    `key-cache-slabs: ${slab}`,
    'infra-cache-numhosts: 100000',
    'prefetch: yes',
    // Serve a just-expired answer while refreshing it, but only briefly and only after trying upstream.
    'serve-expired: yes',
    `serve-expired-ttl: ${UNBOUND_SERVE_EXPIRED_TTL_S}`,
    'serve-expired-reply-ttl: 30',
    'serve-expired-client-timeout: 1800',
    'hide-identity: yes',
    'hide-version: yes',
    // Only the cluster may query.
    'access-control: 0.0.0.0/0 refuse',
    'access-control: ::0/0 refuse',
    'access-control: 127.0.0.0/8 allow',
    'access-control: ::1/128 allow',
    ...allow.map((cidr) => `access-control: ${cidr} allow`),
  ];
  if (validating) {
    server.push('module-config: "validator iterator"', `trust-anchor-file: "${opts.trustAnchorFile}"`, 'prefetch-key: yes', 'aggressive-nsec: yes');
  } else {
    server.push('module-config: "iterator"');
  }
  // unbound refuses to send queries to loopback unless told to: allow it when an upstream is there.
  if (upstreamHosts.some((h) => h.startsWith('127.') || h === '::1')) server.push('do-not-query-localhost: no');

  const lines = ['server:', ...server.map((l) => `    ${l}`), 'remote-control:', '    control-enable: no'];
  if (upstreams.length > 0) {
    lines.push('forward-zone:', '    name: "."', ...upstreams.map((u) => `    forward-addr: ${u}`), '    forward-first: no');
  }
  return { [UNBOUND_CONF]: `${lines.join('\n')}\n` };
}
