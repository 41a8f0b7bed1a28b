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
