/**
 * The filters' way to Redis. rspamd (Debian's 3.4) speaks no TLS to Redis, and the kvs serves TLS only, so an `as`
 * agent takes rspamd's Redis connections on a unix socket in its run dir (root and rspamd's group only) and carries
 * each over TLS 1.3 to the kvs, checking its certificate against the Redis hop's CA for the name it dials. rspamd
 * sends AUTH itself: the password crosses the network inside TLS only, and no TCP listener offers the relay to others.
 *
 * Where to is asked for each connection (`target()`), so a kvs that moved is reached at its new address. Bounded: at
 * most `maxConnections` at once; Redis must take the handshake within `connectTimeoutMs`, or rspamd's connection is
 * closed (rspamd reconnects by itself). Data waits until the handshake is done, then flows both ways with
 * backpressure; TCP keepalive finds peers that vanished.
 */
import { chmodSync, chownSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Counter, Gauge, type Registry } from '../metrics/index.ts';
import { createLogThrottle } from '../policy/log-throttle.ts';
import { closeServer, joinSockets } from '../sockets.ts';
import { listenOwnerOnly } from '../sockets.ts';

export const REDIS_RELAY_MAX_CONNECTIONS = 256;
const HANDSHAKE_TIMEOUT_MS = 5000;
const KEEPALIVE_MS = 60_000;
const LOG_INTERVAL_MS = 60_000;

export interface RedisRelayTarget {
  host: string;
  port: number;
}

export interface RedisRelayOptions {
  /** The unix socket rspamd connects to; a stale one is replaced. */
  path: string;
  /** The group that may connect besides root (rspamd's); none: root only. */
  gid?: number;
  /** The Redis to carry a new connection to, or undefined when none runs. */
  target: () => RedisRelayTarget | undefined;
  /** The CA certificates trusted for Redis's certificate (PEM). */
  ca: string;
  /** Outgoing connections leave from this address (one host: the instance's own). */
  localAddress?: string;
  log: Logger;
  registry: Registry;
  maxConnections?: number;
  connectTimeoutMs?: number;
}

export interface RedisRelay {
  close(): Promise<void>;
}

type Result = 'relayed' | 'no_target' | 'failed';

export async function startRedisRelay(opts: RedisRelayOptions): Promise<RedisRelay> {
  const { connect } = await import('node:tls');
  const open = new Set<Socket>();
  const total = new Counter<'result'>({
    name: 'mailfleet_redis_relay_connections_total',
    help: 'rspamd\'s connections to Redis carried over TLS: relayed, no Redis known, or Redis not reached with a certificate of the Redis CA in time.',
    labelNames: ['result'],
    registers: [opts.registry],
  });
  for (const result of ['relayed', 'no_target', 'failed'] satisfies Result[]) total.inc({ result }, 0);
  new Gauge({
    name: 'mailfleet_redis_relay_connections',
    help: 'rspamd\'s connections to Redis carried now.',
    registers: [opts.registry],
    collect() {
      this.set(open.size);
    },
  });
  const throttle = createLogThrottle(opts.log, LOG_INTERVAL_MS);
  const connectMs = opts.connectTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;

  const carry = (local: Socket): void => {
    open.add(local);
    local.on('close', () => open.delete(local));
    local.on('error', () => undefined);
    let target: RedisRelayTarget | undefined;
    try {
      target = opts.target();
    } catch (err) {
      opts.log.error({ err: errorMessage(err) }, 'Redis relay: cannot tell where Redis is');
    }
    if (target === undefined) {
      total.inc({ result: 'no_target' });
      throttle.warn('no-target', {}, 'Redis relay: no Redis to carry rspamd\'s connection to');
      local.destroy();
      return;
    }
    const redis = `${target.host}:${target.port}`;
    const remote: TLSSocket = connect({
      host: target.host,
      port: target.port,
      ca: opts.ca,
      minVersion: 'TLSv1.3',
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
    });
    // Errors after the verdict (a reset as it is destroyed) are the join's or nobody's.
    remote.on('error', () => undefined);
    let settled = false;
    const failed = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      remote.destroy();
      local.destroy();
      total.inc({ result: 'failed' });
      throttle.warn('failed', { redis, err: err ? errorMessage(err) : 'closed' }, 'Redis relay: Redis was not reached over TLS');
    };
    const deadline = setTimeout(() => failed(new Error(`no TLS handshake within ${connectMs} ms`)), connectMs);
    // rspamd gave up first: nothing to carry.
    const gone = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      remote.destroy();
    };
    local.once('close', gone);
    const closed = (): void => failed();
    remote.once('error', failed).once('close', closed);
    remote.once('secureConnect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      local.off('close', gone);
      remote.off('error', failed).off('close', closed);
      remote.setKeepAlive(true, KEEPALIVE_MS);
      local.setKeepAlive(true, KEEPALIVE_MS);
      total.inc({ result: 'relayed' });
      joinSockets(local, remote, () => open.delete(local));
    });
  };

  const server = createServer({ pauseOnConnect: true }, carry);
  server.maxConnections = opts.maxConnections ?? REDIS_RELAY_MAX_CONNECTIONS;
  // Root's only from the moment it exists; then rspamd's group is let in.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).once('listening', () => {
      server.off('error', reject);
      resolve();
    });
    listenOwnerOnly(server, opts.path);
  });
  if (opts.gid !== undefined) {
    chownSync(opts.path, process.getuid?.() ?? 0, opts.gid);
    chmodSync(opts.path, 0o660);
  }
  server.on('error', (err) => opts.log.error({ err: errorMessage(err) }, 'Redis relay error'));
  return { close: () => closeServer(server, open) };
}
