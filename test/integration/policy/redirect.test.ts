/**
 * A policy server told that Redis moved (the single host's kvs restarted on another address) counts in the new
 * one without dropping its clients; told the same address, it keeps its connection. Addresses of 127.152.0.0/16.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { until } from '../../support/poll.ts';
import { metric, openPolicyClient, redisCommand, SKIP, startPolicy, startRedis } from './harness.ts';

const RULES = { rules: [{ name: 'per-client', key: 'client_address', count: 'recipients', windows: [{ limit: 2, seconds: 3600 }] }] };
const RCPT = { protocol_state: 'RCPT', client_address: '192.0.2.9', recipient: 'a@example.org' };
const PASSWORD = 'redirect-test-password-0123';

test('GIVEN a policy server counting in one Redis WHEN redirected to another THEN the same client connection is judged by the new one', { skip: SKIP, timeout: 30_000 }, async (t) => {
  const first = await startRedis(t, '127.152.1.1', ['--requirepass', PASSWORD]);
  const second = await startRedis(t, '127.152.1.2', ['--requirepass', PASSWORD]);
  const policy = await startPolicy(t, { host: '127.152.1.10', rules: RULES, redis: { host: first.host, port: first.port, password: PASSWORD } });
  const client = await openPolicyClient(t, policy.host, policy.port);

  assert.deepEqual(await client.askAll([RCPT, RCPT, RCPT]), ['DUNNO', 'DUNNO', 'DEFER_IF_PERMIT 4.7.1 rate limit exceeded'], 'the limit holds in the first Redis');

  policy.server.redirect({ host: second.host, port: second.port, password: PASSWORD });
  await until('the new connection is ready', async () => ((await metric(policy.registry, 'mailfleet_policy_redis_up')) === 1 && (await client.ask(RCPT)) === 'DUNNO' ? true : undefined), 10_000, 20);
  assert.equal(await client.ask(RCPT), 'DUNNO', 'the second Redis has one count, so a second request passes');
  assert.equal(await client.ask(RCPT), 'DEFER_IF_PERMIT 4.7.1 rate limit exceeded');
  assert.equal(await metric(policy.registry, 'mailfleet_policy_connections'), 1, 'the client connection stayed open');

  await first.kill();
  assert.equal(await client.ask(RCPT), 'DEFER_IF_PERMIT 4.7.1 rate limit exceeded', 'the old Redis going away changes nothing');
  assert.equal(await metric(policy.registry, 'mailfleet_policy_fail_open_total', { reason: 'redis_down' }), 0);
});

test('GIVEN a policy server WHEN redirected to the address it has THEN its connection stays', { skip: SKIP, timeout: 30_000 }, async (t) => {
  const redis = await startRedis(t, '127.152.1.3');
  const policy = await startPolicy(t, { host: '127.152.1.11', rules: RULES, redis: { host: redis.host, port: redis.port } });
  const before = await redisCommand(redis, 'CLIENT', 'LIST');
  policy.server.redirect({ host: redis.host, port: redis.port });
  const client = await openPolicyClient(t, policy.host, policy.port);
  assert.equal(await client.ask(RCPT), 'DUNNO');
  const after = await redisCommand(redis, 'CLIENT', 'LIST');
  const ids = (list: string) => [...list.matchAll(/id=(\d+) .*name=mailfleet-policy/g)].map((m) => m[1]);
  assert.deepEqual(ids(after), ids(before), 'the same Redis connection');
  assert.equal(ids(before).length, 1);
});
