/** redisPing against scripted fake servers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisPing } from '../../../src/protocol/index.ts';
import { startFakeServer, type Script } from './fake-server.ts';

const TEST = { timeout: 10_000 };

/** Reads the three lines of `*1\r\n$4\r\nPING\r\n`, then sends `reply`. */
function replyingToPing(reply: string): Script {
  return async (peer) => {
    for (let line = 0; line < 3; line += 1) await peer.nextLine();
    peer.send(reply);
  };
}

test('GIVEN a Redis server WHEN redisPing runs THEN it resolves with +PONG', TEST, async (t) => {
  const server = await startFakeServer(t, replyingToPing('+PONG\r\n'));
  const result = await redisPing({ host: server.host, port: server.port });
  assert.deepEqual(result.detail, { reply: '+PONG' });
});

test('GIVEN a Redis server WHEN redisPing runs THEN it sends PING as a RESP array', TEST, async (t) => {
  const server = await startFakeServer(t, replyingToPing('+PONG\r\n'));
  await redisPing({ host: server.host, port: server.port });
  assert.deepEqual(server.received, ['*1', '$4', 'PING']);
});

test('GIVEN a Redis server that wants a password WHEN redisPing runs THEN it rejects with PROTOCOL_UNEXPECTED_REPLY', TEST, async (t) => {
  const server = await startFakeServer(t, replyingToPing('-NOAUTH Authentication required.\r\n'));
  await assert.rejects(redisPing({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_UNEXPECTED_REPLY',
    step: 'ping',
    reply: '-NOAUTH Authentication required.',
  });
});

test('GIVEN a silent Redis server WHEN redisPing runs THEN it rejects with PROTOCOL_TIMEOUT', TEST, async (t) => {
  const server = await startFakeServer(t, () => {});
  await assert.rejects(redisPing({ host: server.host, port: server.port, timeoutMs: 50 }), { code: 'PROTOCOL_TIMEOUT', step: 'ping' });
});

test('GIVEN a password WHEN redisPing runs THEN it sends AUTH as a RESP array (length in bytes) before PING', TEST, async (t) => {
  const server = await startFakeServer(t, async (peer) => {
    for (let line = 0; line < 5; line += 1) await peer.nextLine();
    peer.send('+OK\r\n');
    for (let line = 0; line < 3; line += 1) await peer.nextLine();
    peer.send('+PONG\r\n');
  });
  const result = await redisPing({ host: server.host, port: server.port, password: 'pässwörd-0123456789' });
  assert.deepEqual(result.detail, { reply: '+PONG' });
  assert.deepEqual(server.received, ['*2', '$4', 'AUTH', '$21', 'pässwörd-0123456789', '*1', '$4', 'PING']);
});

test('GIVEN a wrong password WHEN redisPing runs THEN it rejects at auth with the reply, never the password', TEST, async (t) => {
  const server = await startFakeServer(t, async (peer) => {
    for (let line = 0; line < 5; line += 1) await peer.nextLine();
    peer.send('-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  });
  const err = await redisPing({ host: server.host, port: server.port, password: 'not-the-password-0123' }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof Error);
  assert.equal((err as Error & { code?: string }).code, 'PROTOCOL_UNEXPECTED_REPLY');
  assert.equal((err as Error & { step?: string }).step, 'auth');
  assert.doesNotMatch(JSON.stringify({ ...err, message: err.message }), /not-the-password/);
});

test('GIVEN a password with a line break WHEN redisPing runs THEN it is refused before any connection', TEST, async () => {
  await assert.rejects(redisPing({ host: '127.0.0.1', port: 9, password: 'a\r\nFLUSHALL' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'PROTOCOL_INVALID_OPTION');
    assert.doesNotMatch(err.message, /FLUSHALL/);
    return true;
  });
});
