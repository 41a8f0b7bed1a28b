/** redisPing against a real Redis started for this file (no persistence, loopback only). */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { redisPing } from '../../../src/protocol/index.ts';
import { findProgram, startDaemon, type Daemon } from './daemon.ts';
import { closedPort } from './fake-server.ts';

const REDIS = findProgram('redis-server');
const TEST = { timeout: 10_000, skip: REDIS === undefined ? 'redis-server is not installed' : false };
const HOST = '127.0.0.1';

const PASSWORD = 'real-redis-password-0123456789';

let port = 0;
let authPort = 0;
let daemon: Daemon | undefined;
let authDaemon: Daemon | undefined;

before(async () => {
  if (REDIS === undefined) return;
  port = await closedPort();
  const args = ['--bind', HOST, '--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', ''];
  daemon = await startDaemon(REDIS, args, /Ready to accept connections/);
  authPort = await closedPort();
  authDaemon = await startDaemon(REDIS, [...args.slice(0, 2), '--port', String(authPort), ...args.slice(4), '--requirepass', PASSWORD], /Ready to accept connections/);
});

after(async () => {
  await daemon?.stop();
  await authDaemon?.stop();
});

test('GIVEN a real Redis WHEN redisPing runs THEN it resolves with +PONG', TEST, async () => {
  const result = await redisPing({ host: HOST, port });
  assert.equal(result.detail.reply, '+PONG');
});

test('GIVEN a real Redis with requirepass WHEN redisPing runs with its password THEN +PONG; without it, NOAUTH; with another, WRONGPASS', TEST, async () => {
  assert.equal((await redisPing({ host: HOST, port: authPort, password: PASSWORD })).detail.reply, '+PONG');
  await assert.rejects(redisPing({ host: HOST, port: authPort }), { code: 'PROTOCOL_UNEXPECTED_REPLY', step: 'ping', reply: /^-NOAUTH/ });
  await assert.rejects(redisPing({ host: HOST, port: authPort, password: 'another-password-0123456789' }), { code: 'PROTOCOL_UNEXPECTED_REPLY', step: 'auth', reply: /^-WRONGPASS/ });
});
