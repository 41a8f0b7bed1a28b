/**
 * Redis's figures, served by the agent of a `kvs` instance beside its own, under redis_exporter's names (what the
 * Redis alert pack and the dashboards read): at each scrape the agent asks its Redis for `INFO` over the unix socket
 * only it and Redis reach, with the password no scraper has. No exporter process in the pod, no password on the wire.
 *
 * `redis_up` is always there: 0 when INFO could not be read (refused, no answer in time, an error reply, an answer
 * too large), counted in `mailfleet_agent_redis_scrape_errors_total` by reason and logged at most once a minute.
 */
import { respCommand } from '../protocol/index.ts';
import { escapeLabel } from '../protocol/scrape.ts';
import { boundedExchange, scrapeFailures, sharedScrape, type Exchanged, type RelayBaseOptions } from './metrics-relay.ts';

/** The whole exchange (connect, AUTH, INFO) must be done within this. */
export const REDIS_SCRAPE_TIMEOUT_MS = 2000;
/** INFO's answer is a few KB; a larger one is dropped. */
export const REDIS_INFO_MAX_BYTES = 256 * 1024;

type RedisScrapeError = 'connect' | 'timeout' | 'oversize' | 'response';
const REASONS: readonly RedisScrapeError[] = ['connect', 'timeout', 'oversize', 'response'];

/** Bounds default to REDIS_SCRAPE_TIMEOUT_MS and REDIS_INFO_MAX_BYTES. */
export interface RedisMetricsOptions extends RelayBaseOptions {
  /** Redis's unix socket (its user and the agent only). */
  socketPath: string;
  /** `requirepass`: it goes over the unix socket only. */
  password: string;
}

/**
 * What has arrived so far, read as AUTH's `+OK` and INFO's bulk string: the INFO text once complete, an error for a
 * reply that is not those (its first line, which never holds the password), undefined while more is to come.
 */
export function readInfoReply(bytes: Buffer): { info: string } | { error: string } | undefined {
  const firstEnd = bytes.indexOf('\r\n');
  if (firstEnd < 0) return undefined;
  const first = bytes.subarray(0, firstEnd).toString('latin1');
  if (first !== '+OK') return { error: `AUTH answered ${first.slice(0, 200)}` };
  const headEnd = bytes.indexOf('\r\n', firstEnd + 2);
  if (headEnd < 0) return undefined;
  const head = bytes.subarray(firstEnd + 2, headEnd).toString('latin1');
  const length = /^\$([0-9]{1,9})$/.exec(head);
  if (!length) return { error: `INFO answered ${head.slice(0, 200)}` };
  const start = headEnd + 2;
  const end = start + Number(length[1]);
  if (bytes.length < end + 2) return undefined;
  return { info: bytes.subarray(start, end).toString('utf8') };
}

function fetchInfo(opts: RedisMetricsOptions, timeoutMs: number, maxBytes: number): Promise<Exchanged<string>> {
  const request = `${respCommand(['AUTH', opts.password])}\r\n${respCommand(['INFO'])}\r\n`;
  return boundedExchange({ path: opts.socketPath }, request, { timeoutMs, maxBytes }, (bytes) => {
    const reply = readInfoReply(bytes);
    return reply === undefined ? undefined : 'info' in reply ? { value: reply.info } : reply;
  });
}

/** INFO's `field:value` lines (sections and blank lines skipped). */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

type Kind = 'gauge' | 'counter';
/** redis_exporter's name, its type, its help, the INFO field and how to read it. */
const FIELDS: readonly [name: string, kind: Kind, help: string, field: string, read?: (value: string) => number | undefined][] = [
  ['redis_uptime_in_seconds', 'gauge', 'Seconds since Redis started.', 'uptime_in_seconds'],
  ['redis_connected_clients', 'gauge', 'Client connections (replicas excluded).', 'connected_clients'],
  ['redis_blocked_clients', 'gauge', 'Clients waiting in a blocking call.', 'blocked_clients'],
  ['redis_config_maxclients', 'gauge', 'The maxclients setting.', 'maxclients'],
  ['redis_memory_used_bytes', 'gauge', 'Memory Redis has allocated.', 'used_memory'],
  ['redis_memory_used_rss_bytes', 'gauge', 'Resident memory of the Redis process.', 'used_memory_rss'],
  ['redis_memory_max_bytes', 'gauge', 'The maxmemory setting (0: none).', 'maxmemory'],
  ['redis_connections_received_total', 'counter', 'Connections accepted.', 'total_connections_received'],
  ['redis_rejected_connections_total', 'counter', 'Connections refused at maxclients.', 'rejected_connections'],
  ['redis_commands_processed_total', 'counter', 'Commands processed.', 'total_commands_processed'],
  ['redis_expired_keys_total', 'counter', 'Keys removed when their TTL ran out.', 'expired_keys'],
  ['redis_evicted_keys_total', 'counter', 'Keys evicted at maxmemory.', 'evicted_keys'],
  ['redis_keyspace_hits_total', 'counter', 'Lookups that found their key.', 'keyspace_hits'],
  ['redis_keyspace_misses_total', 'counter', 'Lookups that did not find their key.', 'keyspace_misses'],
  ['redis_aof_enabled', 'gauge', 'Whether the append-only file is on.', 'aof_enabled'],
  ['redis_aof_last_write_status', 'gauge', 'Whether the last write to the append-only file succeeded (1) or failed (0).', 'aof_last_write_status', okStatus],
  ['redis_aof_last_bgrewrite_status', 'gauge', 'Whether the last rewrite of the append-only file succeeded.', 'aof_last_bgrewrite_status', okStatus],
  ['redis_rdb_last_bgsave_status', 'gauge', 'Whether the last snapshot succeeded.', 'rdb_last_bgsave_status', okStatus],
  ['redis_connected_slaves', 'gauge', 'Replicas connected to this primary.', 'connected_slaves'],
  ['redis_master_link_up', 'gauge', 'On a replica: whether its link to the primary is up.', 'master_link_status', (v) => (v === 'up' ? 1 : 0)],
];

function okStatus(value: string): number {
  return value === 'ok' ? 1 : 0;
}

function numeric(value: string): number | undefined {
  const n = Number(value);
  return value !== '' && Number.isFinite(n) ? n : undefined;
}

/** INFO as Prometheus text under redis_exporter's names, with `labels` on every series; `up` false: `redis_up 0` alone. */
export function infoToPrometheus(info: Map<string, string> | undefined, labels: Readonly<Record<string, string>>): string {
  const base = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  const series = (name: string, value: number, extra: string[] = []) => `${name}{${[...base, ...extra].join(',')}} ${value}\n`;
  let out = `# HELP redis_up Whether the agent could read Redis's INFO.\n# TYPE redis_up gauge\n${series('redis_up', info ? 1 : 0)}`;
  if (!info) return out;
  for (const [name, kind, help, field, read] of FIELDS) {
    const raw = info.get(field);
    const value = raw === undefined ? undefined : (read ?? numeric)(raw);
    if (value === undefined) continue;
    out += `# HELP ${name} ${help}\n# TYPE ${name} ${kind}\n${series(name, value)}`;
  }
  // db0:keys=12,expires=3,avg_ttl=0
  const dbs = [...info.entries()].filter(([k]) => /^db[0-9]+$/.test(k));
  for (const [name, help, key] of [['redis_db_keys', 'Keys in the database.', 'keys'], ['redis_db_keys_expiring', 'Keys with a TTL in the database.', 'expires']] as const) {
    const rows = dbs.flatMap(([db, value]) => {
      const n = numeric(new URLSearchParams(value.replace(/,/g, '&')).get(key) ?? '');
      return n === undefined ? [] : [series(name, n, [`db="${db}"`])];
    });
    if (rows.length > 0) out += `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${rows.join('')}`;
  }
  return out;
}

/** What `startHealth` appends to /metrics: Redis's figures, or `redis_up 0` when INFO could not be read. */
export function createRedisMetricsRelay(opts: RedisMetricsOptions): () => Promise<string> {
  const failed = scrapeFailures({ daemon: 'redis', displayName: 'Redis', reasons: REASONS, registry: opts.registry, log: opts.log });
  const timeoutMs = opts.timeoutMs ?? REDIS_SCRAPE_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? REDIS_INFO_MAX_BYTES;
  return sharedScrape(async () => {
    const fetched = await fetchInfo(opts, timeoutMs, maxBytes);
    if (!fetched.ok) failed(fetched.reason, fetched.detail);
    return infoToPrometheus(fetched.ok ? parseInfo(fetched.value) : undefined, opts.labels);
  });
}
