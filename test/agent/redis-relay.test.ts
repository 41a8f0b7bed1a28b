/**
 * The `as` agent's Redis relay against in-process stand-ins: what rspamd's plain connection becomes (TLS 1.3 to a
 * certificate of the Redis CA), and what a wrong, missing or silent Redis gives.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createServer, type TLSSocket } from 'node:tls';
import { startRedisRelay } from '../../src/agent/redis-relay.ts';
import { deriveInternalCa, issueInternalCertificate, redisCa } from '../../src/internal-tls/index.ts';
import { createLogger } from '../../src/log.ts';
import { instanceRegistry } from '../../src/metrics/index.ts';

const PASSWORD = 'relay-test-redis-password-0123';
const log = createLogger('test', { level: 'silent' });

/** A TLS server standing in for Redis: echoes what it gets, prefixed; records the TLS version of each session. */
async function tlsRedis(t: TestContext, ca = redisCa(PASSWORD), hosts = ['127.0.0.1']): Promise<{ port: number; versions: string[] }> {
  const served = issueInternalCertificate(ca, { hosts, validityDays: 1 });
  const versions: string[] = [];
  const server = createServer({ key: served.pem, cert: served.pem }, (socket: TLSSocket) => {
    versions.push(socket.getProtocol() ?? '');
    socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
    socket.on('error', () => undefined);
  });
  // A client that refuses the certificate resets the connection.
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return { port: (server.address() as AddressInfo).port, versions };
}

async function relay(t: TestContext, target: () => { host: string; port: number } | undefined, connectTimeoutMs = 2000) {
  const registry = instanceRegistry('as', 'as-0');
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-redis-relay-'));
  const path = join(dir, 'redis-relay.sock');
  const started = await startRedisRelay({ path, target, ca: redisCa(PASSWORD).certPem, log, registry, connectTimeoutMs });
  t.after(async () => {
    await started.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, registry };
}

/** What the relay gives a plain client that sends `line`: the reply, or '' when the connection is closed first. */
async function exchange(path: string, line: string): Promise<string> {
  const socket: Socket = connect(path);
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(line);
  let got = '';
  socket.on('data', (d: Buffer) => {
    got += d.toString();
    if (got.length >= line.length + 5) socket.end();
  });
  // A reset is how the relay closes a connection it cannot carry: not an error here (events.once would throw it).
  await new Promise((resolve) => socket.once('close', resolve));
  return got;
}

const counted = async (registry: ReturnType<typeof instanceRegistry>, result: string): Promise<number> =>
  Number(new RegExp(`^mailfleet_redis_relay_connections_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)$`, 'm').exec(await registry.metrics())?.[1] ?? -1);

test('GIVEN Redis with a certificate of the Redis CA WHEN rspamd connects in plain THEN its bytes cross in TLS 1.3 and come back; the socket is the owner\'s only', async (t) => {
  const redis = await tlsRedis(t);
  const r = await relay(t, () => ({ host: '127.0.0.1', port: redis.port }));
  assert.equal(statSync(r.path).mode & 0o777, 0o600, 'no group given: root (the owner) only');
  assert.equal(await exchange(r.path, '*1\r\n$4\r\nPING\r\n'), 'echo:*1\r\n$4\r\nPING\r\n');
  assert.deepEqual(redis.versions, ['TLSv1.3']);
  assert.equal(await counted(r.registry, 'relayed'), 1);
});

test('GIVEN a Redis with a certificate of another CA, or for another address WHEN rspamd connects THEN its connection is closed with nothing sent', async (t) => {
  const stranger = await tlsRedis(t, deriveInternalCa(PASSWORD, 'backend'));
  const r = await relay(t, () => ({ host: '127.0.0.1', port: stranger.port }));
  assert.equal(await exchange(r.path, 'AUTH secret\r\n'), '');
  const elsewhere = await tlsRedis(t, redisCa(PASSWORD), ['127.0.0.2']);
  const r2 = await relay(t, () => ({ host: '127.0.0.1', port: elsewhere.port }));
  assert.equal(await exchange(r2.path, 'AUTH secret\r\n'), '');
  assert.equal(await counted(r.registry, 'failed'), 1);
  assert.equal(await counted(r2.registry, 'failed'), 1);
});

test('GIVEN no kvs known WHEN rspamd connects THEN the connection is closed and counted', async (t) => {
  const r = await relay(t, () => undefined);
  assert.equal(await exchange(r.path, 'PING\r\n'), '');
  assert.equal(await counted(r.registry, 'no_target'), 1);
});

test('GIVEN a Redis that takes the connection but never shakes hands WHEN rspamd connects THEN it is closed at the deadline', async (t) => {
  const held = new Set<Socket>();
  const silent = createTcpServer((s) => {
    held.add(s);
    s.on('error', () => undefined);
  });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => {
    for (const s of held) s.destroy();
    silent.close();
  });
  const r = await relay(t, () => ({ host: '127.0.0.1', port: (silent.address() as AddressInfo).port }), 300);
  const started = Date.now();
  assert.equal(await exchange(r.path, 'PING\r\n'), '');
  assert.ok(Date.now() - started < 2000, 'closed near the 300 ms deadline');
  assert.equal(await counted(r.registry, 'failed'), 1);
});
