/**
 * Four policy servers against one Redis hold a limit globally. The script counts atomically in Redis, on Redis's
 * clock, so the tolerance is zero for a burst: exactly the limit passes, allowance lent ahead to a server
 * (leases.ts) included, as long as each server goes on getting requests of the bucket until its loan is spent. Over time the allowance refills at
 * `limit / seconds`, so a sustained flood passes `burst + elapsed × rate`, give or take the one refill in progress
 * at each end of the measurement.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metric, openPolicyClient, policyHost, SKIP, startPolicy, startRedis, type PolicyClient, type RunningPolicy } from './harness.ts';

const TEST = { timeout: 120_000, skip: SKIP };
const INSTANCES = 4;
const CONNECTIONS_PER_INSTANCE = 8;
const BURST = 1000;
const LIMIT = 100;

const RULES = {
  rules: [
    // Per /24: the burst comes from 250 addresses of one network.
    { name: 'rcpt-per-net', key: 'client_address', count: 'recipients', windows: [{ limit: LIMIT, seconds: 3600 }], ipv4Prefix: 24 },
    // 20 at once, then one every 100 ms.
    { name: 'rcpt-per-sender', key: 'sender', count: 'recipients', windows: [{ limit: 10, seconds: 1 , burst: 20 }] },
  ],
};

async function cluster(t: Parameters<typeof startRedis>[0]): Promise<RunningPolicy[]> {
  const redis = await startRedis(t);
  return Promise.all(Array.from({ length: INSTANCES }, (_, i) => startPolicy(t, { host: policyHost(11 + i), redis, rules: RULES })));
}

async function connections(t: Parameters<typeof startRedis>[0], servers: readonly RunningPolicy[], perServer: number): Promise<PolicyClient[]> {
  const open = servers.flatMap((s) => Array.from({ length: perServer }, () => openPolicyClient(t, s.host, s.port)));
  return Promise.all(open);
}

test(`GIVEN ${INSTANCES} policy servers and a limit of ${LIMIT} per /24 WHEN ${BURST} requests are fired at once across them THEN exactly ${LIMIT} pass`, TEST, async (t) => {
  const servers = await cluster(t);
  const clients = await connections(t, servers, CONNECTIONS_PER_INSTANCE);
  const requests = Array.from({ length: BURST }, (_, i) => ({ protocol_state: 'RCPT', client_address: `192.0.2.${(i % 250) + 1}`, sender: `s${i}@example.org`, recipient: 'r@example.net' }));
  // Every connection's share in one write, all written in the same tick.
  const shares = clients.map((_, c) => requests.filter((_, i) => i % clients.length === c));
  const replies = (await Promise.all(clients.map((client, c) => client.askAll(shares[c] ?? [])))).flat();
  assert.equal(replies.length, BURST);
  assert.equal(replies.filter((r) => r === 'DUNNO').length, LIMIT);
  assert.equal(replies.filter((r) => r === 'DEFER_IF_PERMIT 4.7.1 rate limit exceeded').length, BURST - LIMIT);
  const deferred = await Promise.all(servers.map((s) => metric(s.registry, 'mailfleet_policy_requests_total', { stage: 'RCPT', action: 'DEFER_IF_PERMIT', rule: 'rcpt-per-net' })));
  assert.equal(deferred.reduce((a, b) => a + b, 0), BURST - LIMIT);
  assert.ok(deferred.every((d) => d > 0), `every instance refused some: ${deferred.join(', ')}`);
  const failOpen = await Promise.all(servers.map((s) => metric(s.registry, 'mailfleet_policy_fail_open_total', { reason: 'timeout' })));
  assert.deepEqual(failOpen, [0, 0, 0, 0], 'every request was judged, none answered by its deadline');
});

test(`GIVEN ${INSTANCES} policy servers WHEN ${BURST} requests of one /24 alone come one after another across them THEN most pass on lent allowance and exactly ${LIMIT} pass`, TEST, async (t) => {
  const servers = await cluster(t);
  const clients = await connections(t, servers, 1);
  // No sender: the per-net rule alone counts, a bucket whose allowance Redis lends ahead.
  const replies: string[] = [];
  for (let i = 0; i < BURST; i++) replies.push(await (clients[i % clients.length] as PolicyClient).ask({ protocol_state: 'RCPT', client_address: `192.0.2.${(i % 250) + 1}`, recipient: 'r@example.net' }));
  assert.equal(replies.filter((r) => r === 'DUNNO').length, LIMIT);
  assert.deepEqual(replies.slice(0, LIMIT), Array<string>(LIMIT).fill('DUNNO'), 'the first ones pass: nothing was refused early');
  const leased = await Promise.all(servers.map((s) => metric(s.registry, 'mailfleet_policy_leased_total')));
  assert.ok(leased.reduce((a, b) => a + b, 0) >= LIMIT / 2, `most passes without a round trip: ${leased.join(', ')}`);
  assert.ok(leased.every((n) => n > 0), `every server was lent some: ${leased.join(', ')}`);
});

test(`GIVEN ${INSTANCES} policy servers and 20 at once then 10/s per sender WHEN a sender floods them for 1.5 s THEN the passes match burst + elapsed × rate`, TEST, async (t) => {
  const servers = await cluster(t);
  const clients = await connections(t, servers, 2);
  const request = { protocol_state: 'RCPT', client_address: '203.0.113.9', sender: 'flood@example.org', recipient: 'r@example.net' };
  let passed = 0;
  let sent = 0;
  const started = performance.now();
  const until = started + 1500;
  // Closed loop: each connection sends its next request as soon as its last is answered.
  await Promise.all(clients.map(async (client) => {
    while (performance.now() < until) {
      sent++;
      if ((await client.ask(request)) === 'DUNNO') passed++;
    }
  }));
  const elapsedS = (performance.now() - started) / 1000;
  const expected = 20 + elapsedS * 10;
  assert.ok(sent > 10 * passed, `the flood was a flood: ${sent} requests for ${passed} passes`);
  // At most one refill more than the time allows (the one under way when the last request came); at least the
  // refills of the time minus the first and last round trips.
  assert.ok(passed <= Math.ceil(expected) + 1, `${passed} passed in ${elapsedS.toFixed(3)} s, at most ${Math.ceil(expected) + 1} allowed`);
  assert.ok(passed >= Math.floor(expected) - 3, `${passed} passed in ${elapsedS.toFixed(3)} s, expected about ${expected.toFixed(1)}`);
});
