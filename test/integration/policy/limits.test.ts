/** One policy server against a real Redis: limits hold, requests are answered in order, counts are all or nothing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { until } from '../../support/poll.ts';
import { metric, openPolicyClient, policyHost, redisCommand, SKIP, startPolicy, startRedis } from './harness.ts';

const TEST = { timeout: 60_000, skip: SKIP };
/** A window so long that nothing drains during a test: its limit is a plain count here. */
const HOUR = 3600;
const rcpt = (client: string, recipient = 'user@example.org'): Record<string, string> => ({ protocol_state: 'RCPT', client_address: client, recipient, sender: 'a@example.net' });
const DEFER = 'DEFER_IF_PERMIT 4.7.1 rate limit exceeded';

test('GIVEN a limit of 5 recipients per client WHEN one client sends 8 THEN 5 pass and 3 are deferred, and another client is untouched', TEST, async (t) => {
  const redis = await startRedis(t);
  const policy = await startPolicy(t, {
    host: policyHost(1),
    redis,
    rules: { rules: [{ name: 'rcpt-per-client', key: 'client_address', count: 'recipients', windows: [{ limit: 5, seconds: HOUR }] }] },
  });
  const client = await openPolicyClient(t, policy.host, policy.port);
  const replies: string[] = [];
  for (let i = 0; i < 8; i++) replies.push(await client.ask(rcpt('192.0.2.10')));
  assert.deepEqual(replies, [...Array<string>(5).fill('DUNNO'), ...Array<string>(3).fill(DEFER)]);
  assert.equal(await client.ask(rcpt('192.0.2.11')), 'DUNNO');
  assert.equal(await metric(policy.registry, 'mailfleet_policy_requests_total', { stage: 'RCPT', action: 'DEFER_IF_PERMIT', rule: 'rcpt-per-client' }), 3);
  assert.equal(await metric(policy.registry, 'mailfleet_policy_requests_total', { stage: 'RCPT', action: 'DUNNO', rule: '' }), 6);
  assert.equal(await metric(policy.registry, 'mailfleet_policy_request_duration_seconds'), 9);
  assert.equal(await metric(policy.registry, 'mailfleet_policy_redis_up'), 1);
});

test('GIVEN pipelined requests in one write WHEN answered THEN the replies come in request order, judged in that order', TEST, async (t) => {
  const redis = await startRedis(t);
  const policy = await startPolicy(t, {
    host: policyHost(2),
    redis,
    rules: { rules: [{ name: 'per-domain', key: 'recipient_domain', count: 'recipients', windows: [{ limit: 3, seconds: HOUR }] }] },
  });
  const client = await openPolicyClient(t, policy.host, policy.port);
  // Two domains interleaved, and requests at a stage no rule counts at.
  const requests = Array.from({ length: 12 }, (_, i) => (i % 3 === 2 ? { protocol_state: 'MAIL', sender: 'a@b.org' } : rcpt('192.0.2.1', `u${i}@${i % 3 === 0 ? 'a' : 'b'}.example`)));
  const replies = await client.askAll(requests);
  assert.deepEqual(replies, [
    'DUNNO', 'DUNNO', 'DUNNO', // a1 b1 mail
    'DUNNO', 'DUNNO', 'DUNNO', // a2 b2 mail
    'DUNNO', 'DUNNO', 'DUNNO', // a3 b3 mail
    DEFER, DEFER, 'DUNNO', // a4 b4 mail
  ]);
});

test('GIVEN a rule of two windows WHEN the tighter one refuses THEN the other counts nothing for the refused requests', TEST, async (t) => {
  const redis = await startRedis(t);
  const policy = await startPolicy(t, {
    host: policyHost(3),
    redis,
    keyPrefix: 'mailfleet:t3:policy:',
    rules: { rules: [{ name: 'two', key: 'sasl_username', count: 'messages', windows: [{ limit: 3, seconds: HOUR }, { limit: 1000, seconds: 2 * HOUR }] }] },
  });
  const client = await openPolicyClient(t, policy.host, policy.port);
  const data = { protocol_state: 'DATA', sasl_username: 'Ann', sender: 'ann@example.org', recipient_count: '1' };
  const replies = await client.askAll(Array<Record<string, string>>(10).fill(data));
  assert.deepEqual(replies.map((r) => r.split(' ')[0]), [...Array<string>(3).fill('DUNNO'), ...Array<string>(7).fill('DEFER_IF_PERMIT')]);
  // The wide window's TAT: 3 messages of 7.2 s each ahead of Redis's clock, not 10.
  const [tat, time] = [await redisCommand(redis, 'HGET', 'mailfleet:t3:policy:two:ann', '7200:1000:1000'), await redisCommand(redis, 'TIME')];
  const tatUs = Number(tat.split('\r\n')[1]);
  const [seconds, micros] = time.split('\r\n').filter((l) => /^\d+$/.test(l)).map(Number);
  const aheadS = (tatUs - ((seconds as number) * 1e6 + (micros as number))) / 1e6;
  assert.ok(aheadS > 3 * 7.2 - 5 && aheadS <= 3 * 7.2, `the wide window is ${aheadS} s ahead, expected about ${3 * 7.2}`);
  const ttl = Number((await redisCommand(redis, 'PTTL', 'mailfleet:t3:policy:two:ann')).slice(1));
  assert.ok(ttl > 0 && ttl <= 3 * 1200 * 1000 + 1000, `the key expires once drained (PTTL ${ttl} ms)`);
});

test('GIVEN two refusing rules WHEN one is over THEN the other is not counted, and a WARN rule over its limit lets the request through', TEST, async (t) => {
  const redis = await startRedis(t);
  const policy = await startPolicy(t, {
    host: policyHost(4),
    redis,
    rules: {
      rules: [
        { name: 'per-sender', key: 'sender', count: 'recipients', windows: [{ limit: 2, seconds: HOUR }], action: '450', text: '4.7.2 sender over its rate' },
        { name: 'per-client', key: 'client_address', count: 'recipients', windows: [{ limit: 3, seconds: HOUR }] },
        { name: 'watch-domain', key: 'recipient_domain', count: 'recipients', windows: [{ limit: 1, seconds: HOUR }], action: 'WARN', text: 'busy domain' },
      ],
    },
  });
  const client = await openPolicyClient(t, policy.host, policy.port);
  const from = (sender: string): Record<string, string> => ({ protocol_state: 'RCPT', client_address: '198.51.100.7', sender, recipient: 'x@example.org' });
  assert.deepEqual(await client.askAll([from('s1@a.org'), from('s1@a.org'), from('s1@a.org'), from('s1@a.org')]), [
    'DUNNO', 'WARN busy domain', '450 4.7.2 sender over its rate', '450 4.7.2 sender over its rate',
  ]);
  // per-client counted 2 (the refused ones did not count), so one more from this client passes, the next does not.
  assert.deepEqual(await client.askAll([from('s2@a.org'), from('s3@a.org')]), ['WARN busy domain', DEFER]);
});

test('GIVEN a byte limit WHEN messages end THEN their sizes count, and one larger than the burst passes only into an empty bucket', TEST, async (t) => {
  const redis = await startRedis(t);
  const policy = await startPolicy(t, {
    host: policyHost(5),
    redis,
    rules: { rules: [{ name: 'bytes', key: 'sasl_username', count: 'bytes', windows: [{ limit: 10_000, seconds: HOUR }] }] },
  });
  const client = await openPolicyClient(t, policy.host, policy.port);
  const eom = (user: string, size: number): Record<string, string> => ({ protocol_state: 'END-OF-MESSAGE', sasl_username: user, size: String(size) });
  const replies = await client.askAll([eom('a', 6000), eom('a', 4000), eom('a', 1), eom('b', 50_000), eom('b', 1)]);
  assert.deepEqual(replies.map((r) => r.split(' ')[0]), ['DUNNO', 'DUNNO', 'DEFER_IF_PERMIT', 'DUNNO', 'DEFER_IF_PERMIT']);
});

test('GIVEN Redis loses its scripts (SCRIPT FLUSH, as after a restart) WHEN requests come THEN the script is sent again and counting goes on', TEST, async (t) => {
  const redis = await startRedis(t);
  const policy = await startPolicy(t, {
    host: policyHost(6),
    redis,
    rules: { rules: [{ name: 'rcpt', key: 'client_address', count: 'recipients', windows: [{ limit: 4, seconds: HOUR }] }] },
  });
  const client = await openPolicyClient(t, policy.host, policy.port);
  assert.deepEqual(await client.askAll([rcpt('192.0.2.60'), rcpt('192.0.2.60')]), ['DUNNO', 'DUNNO']);
  assert.equal(await redisCommand(redis, 'SCRIPT', 'FLUSH'), '+OK\r\n');
  assert.deepEqual(await client.askAll([rcpt('192.0.2.60'), rcpt('192.0.2.60'), rcpt('192.0.2.60')]), ['DUNNO', 'DUNNO', DEFER]);
  assert.equal(await metric(policy.registry, 'mailfleet_policy_fail_open_total', { reason: 'error' }), 0);
});

test('GIVEN a Redis with a password WHEN the server has it THEN requests are judged; WHEN it has a wrong one THEN they fail open', TEST, async (t) => {
  const redis = await startRedis(t, '127.117.0.2', ['--requirepass', 'policy-test-secret-0123456789']);
  const rules = { rules: [{ name: 'rcpt', key: 'client_address', count: 'recipients', windows: [{ limit: 1, seconds: HOUR }] }] };
  const right = await startPolicy(t, { host: policyHost(7), redis: { ...redis, password: 'policy-test-secret-0123456789' }, rules });
  const client = await openPolicyClient(t, right.host, right.port);
  assert.deepEqual(await client.askAll([rcpt('192.0.2.70'), rcpt('192.0.2.70')]), ['DUNNO', DEFER]);
  const wrong = await startPolicy(t, { host: policyHost(8), redis: { ...redis, password: 'not-the-password-0123456789' }, rules, awaitRedis: false });
  const other = await openPolicyClient(t, wrong.host, wrong.port);
  assert.deepEqual(await other.askAll([rcpt('192.0.2.70'), rcpt('192.0.2.70')]), ['DUNNO', 'DUNNO']);
  assert.equal(await metric(wrong.registry, 'mailfleet_policy_fail_open_total', { reason: 'redis_down' }), 2);
  assert.equal(await metric(wrong.registry, 'mailfleet_policy_redis_up'), 0);
});

test('GIVEN the connection cap held by connections that send nothing WHEN an smtpd connects THEN the one idle longest makes room and the newcomer is answered', TEST, async (t) => {
  const redis = await startRedis(t);
  const policy = await startPolicy(t, {
    host: policyHost(1),
    redis,
    rules: { rules: [{ name: 'rcpt-per-client', key: 'client_address', count: 'recipients', windows: [{ limit: 5, seconds: HOUR }] }] },
    tuning: { maxConnections: 20 },
  });
  const hoarders = await Promise.all(Array.from({ length: 20 }, () => openPolicyClient(t, policy.host, policy.port)));
  const closed = hoarders.map((h) => { let gone = false; h.socket.once('close', () => { gone = true; }); return () => gone; });
  // Past the second a connection must have been idle to make room.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const smtpd = await openPolicyClient(t, policy.host, policy.port);
  assert.equal(await smtpd.ask(rcpt('192.0.2.20')), 'DUNNO');
  await until('a hoarder closed', async () => (closed.some((gone) => gone()) ? true : undefined), 5000, 20);
  assert.equal(closed.filter((gone) => gone()).length, 1, 'one hoarder closed, no more');
  assert.equal(await metric(policy.registry, 'mailfleet_policy_connections'), 20);
  assert.equal(await metric(policy.registry, 'mailfleet_policy_connections_shed_total', { reason: 'idle_at_cap' }), 1);
  assert.equal(await metric(policy.registry, 'mailfleet_policy_connections_shed_total', { reason: 'refused_at_cap' }), 0);
});
