/**
 * Dovecot's auth policy on the policy server, with a real Redis: the credential, the bounds on what a client sends,
 * failed logins counted per address and per account across two servers, and allow within the deadline while Redis
 * is down. Dovecot itself is the client in test/integration/auth-policy-dovecot.test.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { until } from '../../support/poll.ts';
import { metric, SKIP, startPolicy, startRedis, type RunningPolicy } from './harness.ts';

const TEST = { timeout: 60_000, skip: SKIP };
const REDIS_HOST = '127.134.0.1';
const host = (n: number): string => `127.134.1.${n}`;
const API_KEY = 'auth-policy-test-key-0123456789';
const DEADLINE_MS = 100;
/** Scheduling slack on a loaded 2-core machine: an answer comes at the deadline, not at Dovecot's timeout. */
const SLACK_MS = 400;
const RULES = {
  rules: [],
  auth: {
    rules: [
      { name: 'addr', key: 'remote', windows: [{ limit: 5, seconds: 300 }] },
      { name: 'acct', key: 'login', windows: [{ limit: 4, seconds: 3600 }] },
    ],
  },
};

interface Reply { status: number; body: string; ms: number }

function post(policy: { host: string; port: number }, path: string, body: string | Buffer, headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` }): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: policy.host, port: policy.port, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body: text, ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const attrs = (login: string, remote: string, pwhash: string): Record<string, string> => ({ login, remote, pwhash, protocol: 'imap', device_id: '', session_id: 's' });
const allow = async (policy: { host: string; port: number }, login: string, remote: string, pwhash = 'aaa'): Promise<number> => {
  const reply = await post(policy, '/?command=allow', JSON.stringify(attrs(login, remote, pwhash)));
  assert.equal(reply.status, 200, reply.body);
  return (JSON.parse(reply.body) as { status: number }).status;
};
const report = async (policy: { host: string; port: number }, login: string, remote: string, success: boolean, pwhash = 'aaa'): Promise<void> => {
  const reply = await post(policy, '/?command=report', JSON.stringify({ ...attrs(login, remote, pwhash), success, policy_reject: false }));
  assert.equal(reply.status, 200, reply.body);
};

async function servers(t: TestContext, n: number, redisHost = REDIS_HOST): Promise<{ policies: { host: string; port: number; running: RunningPolicy }[]; redis: Awaited<ReturnType<typeof startRedis>> }> {
  const redis = await startRedis(t, redisHost);
  const policies = [];
  for (let i = 0; i < n; i++) {
    const running = await startPolicy(t, { host: host(10 + i + n * 10), redis, rules: RULES, deadlineMs: DEADLINE_MS, auth: { listen: { host: host(10 + i + n * 10), port: 0 }, apiKey: API_KEY } });
    const address = await running.server.authListening;
    policies.push({ host: address.host, port: address.port, running });
  }
  return { policies, redis };
}

test('GIVEN the auth policy listener WHEN a request has no credential or a wrong one THEN 401, counted', TEST, async (t) => {
  const { policies: [policy] } = await servers(t, 1, '127.134.0.2');
  if (!policy) throw new Error('no server');
  const body = JSON.stringify(attrs('u@example.org', '192.0.2.1', 'a'));
  assert.equal((await post(policy, '/?command=allow', body, {})).status, 401);
  assert.equal((await post(policy, '/?command=allow', body, { authorization: 'Bearer wrong' })).status, 401);
  assert.equal((await post(policy, '/?command=allow', body, { authorization: API_KEY })).status, 401);
  assert.equal((await post(policy, '/', body, {})).status, 401, 'the credential comes before anything else');
  assert.equal(await metric(policy.running.registry, 'mailfleet_policy_auth_refused_requests_total', { reason: 'unauthorized' }), 4);
  assert.equal((await post(policy, '/?command=allow', body)).status, 200);
});

test('GIVEN the auth policy listener WHEN a client sends garbage, too much or the wrong thing THEN 400, 413, 404, and it serves on', TEST, async (t) => {
  const { policies: [policy] } = await servers(t, 1, '127.134.0.3');
  if (!policy) throw new Error('no server');
  assert.equal((await post(policy, '/?command=allow', '{"login":')).status, 400);
  assert.equal((await post(policy, '/?command=allow', Buffer.from([0xff, 0xfe, 0x00]))).status, 400);
  assert.equal((await post(policy, '/?command=report', '{"login":"u"}')).status, 400, 'a report without success');
  assert.equal((await post(policy, '/?command=allow', JSON.stringify({ login: 'x'.repeat(64 * 1024) }))).status, 413);
  assert.equal((await post(policy, '/?command=drop', '{}')).status, 404);
  assert.equal((await post(policy, '/other?command=allow', '{}')).status, 404);
  assert.equal(await metric(policy.running.registry, 'mailfleet_policy_auth_refused_requests_total', { reason: 'malformed' }), 3);
  assert.equal(await metric(policy.running.registry, 'mailfleet_policy_auth_refused_requests_total', { reason: 'too_large' }), 1);
  assert.equal(await allow(policy, 'u@example.org', '192.0.2.1'), 0);
});

test('GIVEN two policy servers on one Redis WHEN one address fails 5 logins across both THEN both refuse it, and another address is allowed', TEST, async (t) => {
  const { policies: [a, b] } = await servers(t, 2, '127.134.0.4');
  if (!a || !b) throw new Error('no servers');
  for (let i = 0; i < 5; i++) {
    assert.equal(await allow(i % 2 ? a : b, `user${i}@example.org`, '198.51.100.9'), 0, `attempt ${i + 1} is allowed`);
    await report(i % 2 ? b : a, `user${i}@example.org`, '198.51.100.9', false, `h${i}`);
  }
  assert.equal(await allow(a, 'user9@example.org', '198.51.100.9'), -1);
  assert.equal(await allow(b, 'user9@example.org', '198.51.100.9'), -1);
  assert.equal(await allow(a, 'user9@example.org', '198.51.100.10'), 0);
  const counted = (await metric(a.running.registry, 'mailfleet_policy_auth_failures_counted_total', { rule: 'addr' })) + (await metric(b.running.registry, 'mailfleet_policy_auth_failures_counted_total', { rule: 'addr' }));
  assert.equal(counted, 5);
  assert.equal(await metric(a.running.registry, 'mailfleet_policy_auth_requests_total', { command: 'allow', verdict: 'reject', rule: 'addr' }), 1);
});

test('GIVEN an account WHEN one stale password fails again and again THEN it counts once; WHEN distinct passwords fail from many addresses THEN the account is refused except where it logged in before', TEST, async (t) => {
  const { policies: [policy] } = await servers(t, 1, '127.134.0.5');
  if (!policy) throw new Error('no server');
  const login = 'victim@example.org';
  await report(policy, login, '203.0.113.1', true, 'good');
  for (let i = 0; i < 10; i++) await report(policy, login, '203.0.113.2', false, 'stale');
  assert.equal(await allow(policy, login, '203.0.113.3'), 0, 'one stale password is one guess');
  for (let i = 0; i < 3; i++) await report(policy, login, `192.0.2.${100 + i}`, false, `guess${i}`);
  assert.equal(await allow(policy, login, '192.0.2.200'), -1, 'four distinct passwords from four addresses');
  assert.equal(await allow(policy, login, '203.0.113.1'), 0, 'the address it logged in from before');
  assert.equal(await allow(policy, 'other@example.org', '192.0.2.200'), 0, 'another account');
  assert.equal(await metric(policy.running.registry, 'mailfleet_policy_auth_failures_counted_total', { rule: 'acct' }), 4);
});

test('GIVEN a failure the policy itself refused WHEN reported THEN it is not counted', TEST, async (t) => {
  const { policies: [policy] } = await servers(t, 1, '127.134.0.6');
  if (!policy) throw new Error('no server');
  for (let i = 0; i < 10; i++) {
    const reply = await post(policy, '/?command=report', JSON.stringify({ ...attrs('a@example.org', '198.51.100.20', `p${i}`), success: false, policy_reject: true }));
    assert.equal(reply.status, 200);
  }
  assert.equal(await allow(policy, 'a@example.org', '198.51.100.20'), 0);
});

test('GIVEN Redis killed WHEN Dovecot asks THEN every login is allowed within the deadline and the fail-open metric moves', TEST, async (t) => {
  const { policies: [policy], redis } = await servers(t, 1, '127.134.0.7');
  if (!policy) throw new Error('no server');
  for (let i = 0; i < 5; i++) await report(policy, `u${i}@example.org`, '198.51.100.30', false, `x${i}`);
  assert.equal(await allow(policy, 'u@example.org', '198.51.100.30'), -1);
  await redis.kill();
  await until('redis seen down', async () => ((await metric(policy.running.registry, 'mailfleet_policy_redis_up')) === 0 ? true : undefined), 5000, 10);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const reply = await post(policy, '/?command=allow', JSON.stringify(attrs('u@example.org', '198.51.100.30', 'a')));
    assert.deepEqual(JSON.parse(reply.body), { status: 0, msg: '' });
    times.push(reply.ms);
  }
  assert.ok(Math.max(...times) < DEADLINE_MS + SLACK_MS, `slowest ${Math.max(...times).toFixed(1)} ms`);
  assert.equal(await metric(policy.running.registry, 'mailfleet_policy_auth_fail_open_total', { reason: 'redis_down' }), 20);
});

test('GIVEN Redis silent (stopped) WHEN Dovecot asks THEN the answer is allow at the deadline, counted as a timeout', TEST, async (t) => {
  const { policies: [policy], redis } = await servers(t, 1, '127.134.0.8');
  if (!policy) throw new Error('no server');
  redis.pause();
  t.after(() => redis.resume());
  const reply = await post(policy, '/?command=allow', JSON.stringify(attrs('u@example.org', '198.51.100.40', 'a')));
  assert.deepEqual(JSON.parse(reply.body), { status: 0, msg: '' });
  assert.ok(reply.ms < DEADLINE_MS + SLACK_MS, `${reply.ms.toFixed(1)} ms`);
  assert.equal(await metric(policy.running.registry, 'mailfleet_policy_auth_fail_open_total', { reason: 'timeout' }), 1);
});

test('GIVEN the auth policy listener WHEN clients hold connections open silent, or start a request and never finish it THEN the cap turns newcomers away, the silent ones are closed once idle and the slow ones at the deadline', TEST, async (t) => {
  const redis = await startRedis(t, '127.134.0.9');
  const running = await startPolicy(t, { host: host(90), redis, rules: RULES, auth: { listen: { host: host(90), port: 0 }, apiKey: API_KEY, tuning: { maxConnections: 2, requestTimeoutMs: 500, keepAliveMs: 800 } } });
  const policy = await running.server.authListening;
  const sockets: Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  const open = async (): Promise<{ socket: Socket; closed: Promise<number> }> => {
    const socket = createConnection({ host: policy.host, port: policy.port });
    socket.on('error', () => {});
    sockets.push(socket);
    const started = performance.now();
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)));
    await once(socket, 'connect');
    return { socket, closed };
  };
  const slow = await open();
  slow.socket.write('POST /?command=allow HTTP/1.1\r\nHost: x\r\n');
  const idle = await open();
  const third = await open();
  assert.ok((await third.closed) < 400, 'past the cap, a newcomer is closed at once, not when idle');
  const slowMs = await slow.closed;
  assert.ok(slowMs >= 400 && slowMs < 3000, `an unfinished request is cut at its deadline (${slowMs.toFixed(0)} ms)`);
  const idleMs = await idle.closed;
  assert.ok(idleMs >= 600 && idleMs < 3000, `a connection that sends nothing is closed once idle (${idleMs.toFixed(0)} ms)`);
  assert.equal((await post(policy, '/?command=allow', JSON.stringify(attrs('u@example.org', '192.0.2.1', 'a')))).status, 200, 'and it serves on');
});

test('GIVEN the auth policy listener WHEN a client trickles a request a byte at a time, faster than the idle timeout THEN it is still cut at the request deadline, not kept alive by each byte', TEST, async (t) => {
  const redis = await startRedis(t, '127.134.0.10');
  const running = await startPolicy(t, { host: host(91), redis, rules: RULES, auth: { listen: { host: host(91), port: 0 }, apiKey: API_KEY, tuning: { requestTimeoutMs: 500, keepAliveMs: 800 } } });
  const policy = await running.server.authListening;
  const socket = createConnection({ host: policy.host, port: policy.port });
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  const started = performance.now();
  const request = 'POST /?command=allow HTTP/1.1\r\nHost: x\r\nX-Padding: ' + 'a'.repeat(200);
  let sent = 0;
  const trickle = setInterval(() => {
    if (sent < request.length) socket.write(request[sent++] ?? '');
  }, 100);
  t.after(() => clearInterval(trickle));
  await new Promise((resolve) => socket.once('close', resolve));
  clearInterval(trickle);
  const lasted = performance.now() - started;
  assert.ok(lasted < 3000, `a trickled request is cut at its deadline (${lasted.toFixed(0)} ms, ${sent} bytes sent)`);
  assert.ok(sent < request.length, 'it was cut before the request could end');
  assert.equal((await post(policy, '/?command=allow', JSON.stringify(attrs('u@example.org', '192.0.2.1', 'a')))).status, 200, 'and it serves on');
});
