/** redisPing against a real Redis started for this file (no persistence, loopback only). */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { redisPing } from '../../../src/protocol/index.ts';
import { findProgram, startDaemon, type Daemon } from './daemon.ts';
import { closedPort } from './fake-server.ts';

const REDIS = findProgram('redis-server');
const TEST = { timeout: 10_000, skip: REDIS === undefined ? 'redis-server is not installed' : false };
const HOST = '127.0.0.1';

let port = 0;
let daemon: Daemon | undefined;

before(async () => {
  if (REDIS === undefined) return;
  port = await closedPort();
  const args = ['--bind', HOST, '--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', ''];
  daemon = await startDaemon(REDIS, args, /Ready to accept connections/);
});

after(async () => {
  await daemon?.stop();
});

test('GIVEN a real Redis WHEN redisPing runs THEN it resolves with +PONG', TEST, async () => {
  const result = await redisPing({ host: HOST, port });
  assert.equal(result.detail.reply, '+PONG');
});
