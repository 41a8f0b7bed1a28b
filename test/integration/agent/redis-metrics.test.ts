/** The kvs agent's Redis figures (src/agent/redis-metrics.ts) against a real Redis on a unix socket, and hostile answers. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRedisMetricsRelay } from '../../../src/agent/redis-metrics.ts';
import { instanceRegistry } from '../../../src/metrics/index.ts';
import { redisCommand } from '../../../src/protocol/index.ts';
import { capturedLogger } from '../../support/log-lines.ts';
import { findProgram, startDaemon, type Daemon } from '../protocol/daemon.ts';

const REDIS = findProgram('redis-server');
const TEST = { timeout: 20_000, skip: REDIS === undefined ? 'redis-server is not installed' : false };
const PASSWORD = 'kvs-metrics-password-0123456789';
const LABELS = { role: 'kvs', instance: 'kvs-0' };

const dir = mkdtempSync(join(tmpdir(), 'mailfleet-redis-metrics-'));
const socketPath = join(dir, 'redis.sock');
let daemon: Daemon | undefined;

before(async () => {
  if (REDIS === undefined) return;
  daemon = await startDaemon(REDIS, [
    '--port', '0', '--unixsocket', socketPath, '--unixsocketperm', '700', '--requirepass', PASSWORD,
    '--save', '', '--appendonly', 'yes', '--dir', dir, '--maxmemory', '64mb', '--maxmemory-policy', 'volatile-lru', '--daemonize', 'no', '--logfile', '',
  ], /ready to accept connections/i);
});

after(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** One relay with its registry and log. */
function relayOf(opts: { socketPath?: string; password?: string; timeoutMs?: number; maxBytes?: number } = {}) {
  const registry = instanceRegistry(LABELS.role, LABELS.instance);
  const { log, lines } = capturedLogger();
  const relay = createRedisMetricsRelay({ socketPath: opts.socketPath ?? socketPath, password: opts.password ?? PASSWORD, registry, labels: LABELS, log, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}), ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}) });
  const errors = async (reason: string) => {
    const m = new RegExp(`^mailfleet_agent_redis_scrape_errors_total\\{reason="${reason}"[^}]*\\} (\\d+)$`, 'm').exec(await registry.metrics());
    return Number(m?.[1]);
  };
  return { relay, errors, lines };
}

const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series}{`) || l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

test('GIVEN a real Redis with a password WHEN its agent is scraped THEN INFO comes out under redis_exporter\'s names with the agent\'s labels', TEST, async () => {
  for (let i = 0; i < 3; i++) await redisCommand({ socketPath, host: '127.0.0.1', port: 6379, password: PASSWORD, args: ['SET', `key-${i}`, 'v', 'EX', '600'] });
  const { relay, errors } = relayOf();
  const text = await relay();
  assert.match(text, /^# TYPE redis_up gauge$/m);
  assert.match(text, /^redis_up\{role="kvs",instance="kvs-0"\} 1$/m);
  assert.equal(value(text, 'redis_memory_max_bytes'), 64 * 1024 * 1024);
  assert.ok((value(text, 'redis_memory_used_bytes') ?? 0) > 0);
  assert.equal(value(text, 'redis_aof_enabled'), 1);
  assert.equal(value(text, 'redis_aof_last_write_status'), 1);
  assert.match(text, /^# TYPE redis_rejected_connections_total counter$/m);
  assert.match(text, /^redis_db_keys\{role="kvs",instance="kvs-0",db="db0"\} 3$/m);
  assert.match(text, /^redis_db_keys_expiring\{role="kvs",instance="kvs-0",db="db0"\} 3$/m);
  // A primary has no link to a primary: the replica's series is left out, not shown as down.
  assert.equal(value(text, 'redis_master_link_up'), undefined);
  assert.equal(await errors('response'), 0);
});

test('GIVEN the wrong password WHEN scraped THEN redis_up 0, a response error counted and logged without the password', TEST, async () => {
  const wrong = 'not-the-password-0123456789';
  const { relay, errors, lines } = relayOf({ password: wrong });
  const text = await relay();
  assert.match(text, /^redis_up\{role="kvs",instance="kvs-0"\} 0$/m);
  assert.equal(value(text, 'redis_memory_used_bytes'), undefined);
  assert.equal(await errors('response'), 1);
  const logged = lines().map((l) => JSON.stringify(l)).join('\n');
  assert.match(logged, /WRONGPASS/);
  assert.doesNotMatch(logged, new RegExp(wrong));
});

test('GIVEN no Redis behind the socket WHEN scraped THEN redis_up 0 and a connect error', TEST, async () => {
  const { relay, errors } = relayOf({ socketPath: join(dir, 'absent.sock') });
  assert.match(await relay(), /^redis_up\{role="kvs",instance="kvs-0"\} 0$/m);
  assert.equal(await errors('connect'), 1);
});

/** A unix-socket server that answers each connection with `answer` (or nothing). */
async function fakeRedis(name: string, answer: (socket: Socket) => void): Promise<{ path: string; server: Server; sockets: Set<Socket> }> {
  const path = join(dir, name);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    answer(socket);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, server, sockets };
}

async function closeFake(fake: { server: Server; sockets: Set<Socket> }): Promise<void> {
  for (const s of fake.sockets) s.destroy();
  await new Promise((resolve) => fake.server.close(resolve));
}

test('GIVEN a server that never answers, or announces more than the bound WHEN scraped THEN the scrape ends at its deadline or bound with redis_up 0', TEST, async () => {
  const silent = await fakeRedis('silent.sock', () => {});
  const huge = await fakeRedis('huge.sock', (socket) => {
    socket.write('+OK\r\n$999999999\r\n');
    socket.write(Buffer.alloc(64 * 1024, 'x'));
  });
  try {
    const slow = relayOf({ socketPath: silent.path, timeoutMs: 300 });
    const started = Date.now();
    assert.match(await slow.relay(), /^redis_up\{[^}]*\} 0$/m);
    assert.ok(Date.now() - started < 2000, 'the deadline holds');
    assert.equal(await slow.errors('timeout'), 1);
    const big = relayOf({ socketPath: huge.path, maxBytes: 16 * 1024, timeoutMs: 5000 });
    assert.match(await big.relay(), /^redis_up\{[^}]*\} 0$/m);
    assert.equal(await big.errors('oversize'), 1);
  } finally {
    await closeFake(silent);
    await closeFake(huge);
  }
});
