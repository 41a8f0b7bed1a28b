/**
 * The policy server never stalls mail: Redis killed or silent, every request still gets the default action within
 * its deadline, counted and logged (not once per request); Redis back, limits hold again without a restart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capturedLogger } from '../../support/log-lines.ts';
import { until } from '../../support/poll.ts';
import { metric, openPolicyClient, policyHost, SKIP, startPolicy, startRedis, type PolicyClient } from './harness.ts';

const TEST = { timeout: 60_000, skip: SKIP };
const DEADLINE_MS = 100;
/**
 * Scheduling slack on top of the deadline on a loaded 2-core machine. The property checked is that an answer
 * comes at the deadline and not at Postfix's own timeout (seconds), not how fast this machine is.
 */
const SLACK_MS = 400;
const RULES = { rules: [{ name: 'rcpt', key: 'client_address', count: 'recipients', windows: [{ limit: 3, seconds: 3600 }] }] };
const REQUEST = { protocol_state: 'RCPT', client_address: '192.0.2.50', recipient: 'r@example.org' };
const NOT_JUDGED = 'policy request not judged, default action';

async function timed(client: PolicyClient): Promise<{ action: string; ms: number }> {
  const started = performance.now();
  const action = await client.ask(REQUEST);
  return { action, ms: performance.now() - started };
}

/** Asks until a request is deferred: the limit is enforced again. */
async function enforcedAgain(client: PolicyClient): Promise<string[]> {
  const seen: string[] = [];
  await until('the limit enforced again', async () => {
    const action = await client.ask(REQUEST);
    seen.push(action);
    return action.startsWith('DEFER_IF_PERMIT 4.7.1') ? true : undefined;
  }, 20_000, 20);
  return seen;
}

test('GIVEN Redis killed WHEN requests come THEN each gets the default action at once, counted, logged once; Redis back THEN limits hold again', TEST, async (t) => {
  const redis = await startRedis(t);
  const { log, lines } = capturedLogger();
  const policy = await startPolicy(t, { host: policyHost(21), redis, rules: RULES, log, deadlineMs: DEADLINE_MS });
  const other = await startPolicy(t, { host: policyHost(22), redis, rules: { ...RULES, defaultAction: 'DEFER_IF_PERMIT 4.3.0 try again later' } });
  const client = await openPolicyClient(t, policy.host, policy.port);
  const otherClient = await openPolicyClient(t, other.host, other.port);

  await redis.kill();
  await until('redis seen down', async () => ((await metric(policy.registry, 'mailfleet_policy_redis_up')) === 0 ? true : undefined), 5000, 10);
  const answers = [];
  for (let i = 0; i < 200; i++) answers.push(await timed(client));
  assert.deepEqual([...new Set(answers.map((a) => a.action))], ['DUNNO']);
  const slowest = Math.max(...answers.map((a) => a.ms));
  assert.ok(slowest < DEADLINE_MS + SLACK_MS, `slowest answer ${slowest.toFixed(1)} ms`);
  assert.equal(await otherClient.ask(REQUEST), 'DEFER_IF_PERMIT 4.3.0 try again later', 'the configured default action');
  assert.equal(await metric(policy.registry, 'mailfleet_policy_fail_open_total', { reason: 'redis_down' }), 200);
  assert.equal(await metric(policy.registry, 'mailfleet_policy_requests_total', { stage: 'RCPT', action: 'DUNNO', rule: '' }), 200);
  const logged = lines().filter((l) => l.msg === NOT_JUDGED);
  assert.equal(logged.length, 1, `${logged.length} log lines for 200 requests not judged`);
  assert.equal(logged[0]?.reason, 'redis_down');

  await redis.start();
  const seen = await enforcedAgain(client);
  assert.equal(seen.filter((a) => a === 'DUNNO').length >= 3, true, `the allowance of the new, empty Redis was used first: ${seen.join(' | ')}`);
  assert.equal(await metric(policy.registry, 'mailfleet_policy_redis_up'), 1);
  assert.equal(client.socket.destroyed, false, 'the same client connection throughout');
});

test('GIVEN Redis stopped (connected but silent) WHEN requests come THEN each gets DUNNO at its deadline; the connection is replaced; Redis resumed THEN limits hold again', TEST, async (t) => {
  const redis = await startRedis(t);
  const policy = await startPolicy(t, { host: policyHost(23), redis, rules: RULES, deadlineMs: DEADLINE_MS, tuning: { stallMs: 1000 } });
  const client = await openPolicyClient(t, policy.host, policy.port);
  assert.equal(await client.ask(REQUEST), 'DUNNO');

  redis.pause();
  t.after(() => redis.resume());
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await timed(client));
  assert.deepEqual(answers.map((a) => a.action), Array<string>(5).fill('DUNNO'));
  for (const a of answers) assert.ok(a.ms >= DEADLINE_MS - 5 && a.ms < DEADLINE_MS + SLACK_MS, `answered after ${a.ms.toFixed(1)} ms`);
  assert.equal(await metric(policy.registry, 'mailfleet_policy_fail_open_total', { reason: 'timeout' }), 5);

  // Silent past stallMs with checks waiting: the connection is given up; the new one cannot finish its handshake.
  await until('the stalled connection given up', async () => ((await metric(policy.registry, 'mailfleet_policy_redis_up')) === 0 ? true : undefined), 10_000, 20);
  const fast = await timed(client);
  assert.equal(fast.action, 'DUNNO');
  assert.ok(fast.ms < DEADLINE_MS, `with no ready connection the answer does not wait for the deadline (${fast.ms.toFixed(1)} ms)`);

  redis.resume();
  await until('redis ready again', async () => ((await metric(policy.registry, 'mailfleet_policy_redis_up')) === 1 ? true : undefined), 10_000, 20);
  await enforcedAgain(client);
});
