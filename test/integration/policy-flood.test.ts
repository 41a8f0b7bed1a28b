/**
 * Flow control on the single host, with real Postfix, Redis and the policy server the runtime starts: a flood
 * from one client network through the mta's balancer port (PROXY protocol names the client) is deferred with 4xx
 * past its limit while another client keeps delivering, and what was accepted arrives. With Redis silent, mail
 * flows unchecked and the fail-open counter says so; with Redis answering again, and after kvs restarted on
 * another address, the limit holds again.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { instanceContext } from '../../src/agent/index.ts';
import { dashboardFiles } from '../../src/dashboards/index.ts';
import { controlRequest, type StatusReport } from '../../src/runtime/local/index.ts';
import { dashboardQueries, emptyQueries, metricNames } from '../support/dashboard-queries.ts';
import { imapMessageIds } from '../support/mail.ts';
import { DOMAIN, startPlatform, type InstanceStatus, type Platform } from '../support/platform.ts';
import { until } from '../support/poll.ts';
import { openRawDialog, proxyV1 } from '../support/raw-dialog.ts';

const POOL = '127.119.0.0/16';
/** The load balancer: outside what the pool hands out first. */
const BALANCER = '127.119.200.1';
const LB_SMTP = 10025;
/** Client networks as the balancer reports them: the flood's /24, and somebody else. */
const FLOODER = '198.51.100.7';
const FLOODER_NEIGHBOUR = '198.51.100.200';
const OTHER = '203.0.113.9';
const PASSWORD = 'flood-test-password';
const LIMIT = 5;
const RULES = [{ name: 'mx-flood', contexts: ['mta'], key: 'client_address', count: 'recipients', ipv4Prefix: 24, windows: [{ limit: LIMIT, seconds: 3600 }] }];

interface Transaction {
  rcpt: number[];
  /** The whole replies to RCPT, in order. */
  rcptReplies: string[];
  /** The reply to the end of DATA, when any recipient was accepted. */
  data?: number;
}

const code = (reply: string | undefined): number => Number(/^(\d{3})/.exec(reply ?? '')?.[1] ?? 0);

let sourcePort = 40_000;

/** One SMTP transaction through the mta's balancer port, as the balancer forwards `client`. */
async function send(mta: InstanceStatus, client: string, recipients: readonly string[], id: string): Promise<Transaction> {
  const dialog = await openRawDialog({ host: mta.address, port: LB_SMTP, localAddress: BALANCER, preamble: proxyV1(client, mta.address, sourcePort++, LB_SMTP) });
  try {
    assert.equal(code(await dialog.greeting()), 220);
    assert.equal(code(await dialog.command('EHLO client.test')), 250);
    assert.equal(code(await dialog.command('MAIL FROM:<sender@remote.test>')), 250);
    const rcptReplies: string[] = [];
    for (const r of recipients) rcptReplies.push((await dialog.command(`RCPT TO:<${r}>`)) ?? '');
    const rcpt = rcptReplies.map(code);
    if (!rcpt.includes(250)) return { rcpt, rcptReplies };
    assert.equal(code(await dialog.command('DATA')), 354);
    const data = code(await dialog.command(`Message-ID: <${id}>\r\nFrom: <sender@remote.test>\r\nSubject: flood ${id}\r\n\r\nbody\r\n.`));
    await dialog.command('QUIT');
    return { rcpt, rcptReplies, data };
  } finally {
    dialog.close();
  }
}

/** The policy server's own exposition, summed over the series of `metric` whose labels include `match`. */
async function policyMetric(policy: InstanceStatus, metric: string, match = ''): Promise<number> {
  const res = await fetch(`http://${policy.address}:${policy.ports.http}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${metric}{`) && line.includes(match)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const user = (n: number): string => `user${n}@${DOMAIN}`;

test('flow control: a flood from one network is deferred, others deliver, Redis down fails open', { timeout: 300_000 }, async (t) => {
  const platform: Platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: 8,
    password: PASSWORD,
    roles: { mailbox: 1, proxy: 1, mta: 1, msa: 0, kvs: 1 },
    policy: { rules: RULES },
    local: { scrapeIntervalSeconds: 2 },
    extra: { loadBalancer: { sourceRanges: [`${BALANCER}/32`], ports: { smtp: LB_SMTP } } },
  });
  const mta = await platform.instance('mta-0');
  const proxy = await platform.instance('proxy-0');
  let policy = await platform.instance('policy-0');
  const run = Date.now().toString(36);
  const tls = platform.clientTls('implicit');
  const inbox = (n: number) => imapMessageIds(proxy.address, proxy.ports.imaps as number, user(n), PASSWORD, tls);

  await t.test('GIVEN the platform WHEN up THEN the runtime runs policy-0 on its own address and the mta asks it at RCPT', () => {
    assert.equal(policy.state, 'running');
    // authPolicy: the proxies ask it about logins.
    assert.deepEqual(policy.ports, { policy: 10040, authPolicy: 10041, http: 8081 });
    const main = readFileSync(join(platform.stateDir, 'instances', 'mta-0', 'config', 'main.cf'), 'utf8');
    // Flow control right after the recipient checks; the quota check at RCPT may follow it.
    assert.match(main, new RegExp(`^smtpd_recipient_restrictions = .*reject_unlisted_recipient, check_policy_service \\{ inet:${policy.address.replace(/\./g, '\\.')}:10040, timeout=2s, default_action=DUNNO, try_limit=1, policy_context=mta \\}(, |$)`, 'm'));
  });

  const flood = `flood-${run}@client.test`;
  const other = `other-${run}@client.test`;
  await t.test(`GIVEN a limit of ${LIMIT} recipients per client /24 WHEN one client sends 8 THEN the first ${LIMIT} are accepted and the rest deferred with 450 4.7.1`, async () => {
    const r = await send(mta, FLOODER, [1, 2, 3, 4, 5, 6, 7, 8].map(user), flood);
    assert.deepEqual(r.rcpt, [250, 250, 250, 250, 250, 450, 450, 450]);
    assert.match(r.rcptReplies[5] ?? '', /^450 4\.7\.1 <user6@example\.com>: Recipient address rejected: rate limit exceeded\r\n$/);
    assert.equal(r.data, 250);
    const again = await send(mta, FLOODER_NEIGHBOUR, [user(6)], `neighbour-${run}@client.test`);
    assert.deepEqual(again.rcpt, [450], 'another address of the same /24 shares the limit');
  });

  await t.test('THEN another client keeps delivering', async () => {
    const r = await send(mta, OTHER, [user(6), user(7)], other);
    assert.deepEqual(r.rcpt, [250, 250]);
    assert.equal(r.data, 250);
  });

  await t.test('THEN every accepted message arrives, and nothing deferred does', async () => {
    for (const n of [1, 2, 3, 4, 5]) await until(`${user(n)} has the flood's message`, async () => ((await inbox(n)).includes(flood) ? true : undefined), 60_000, 500);
    await until('user6 and user7 have the other client\'s message', async () => ((await inbox(6)).includes(other) && (await inbox(7)).includes(other) ? true : undefined), 60_000, 500);
    assert.deepEqual(await inbox(6), [other]);
    assert.deepEqual(await inbox(8), []);
    assert.equal(await policyMetric(policy, 'mailfleet_policy_requests_total', 'action="DEFER_IF_PERMIT"'), 4);
    assert.equal(await policyMetric(policy, 'mailfleet_policy_requests_total', 'action="DUNNO"'), LIMIT + 2);
  });

  await t.test('THEN VictoriaMetrics scrapes the policy server as role policy', async () => {
    const { body } = await controlRequest(join(platform.stateDir, 'control.sock'), 'GET', '/v1/status');
    const vm = (body as StatusReport).monitoring?.victoriametrics.url;
    assert.ok(vm, 'status names VictoriaMetrics');
    const promql = encodeURIComponent('sum(mailfleet_policy_requests_total{role="policy",instance="policy-0",action="DEFER_IF_PERMIT"})');
    await until('the deferrals in VictoriaMetrics', async () => {
      const answer = (await (await fetch(`${vm}/api/v1/query?query=${promql}`, { signal: AbortSignal.timeout(5000) })).json()) as { data: { result: { value: [number, string] }[] } };
      return answer.data.result[0]?.value[1] === '4' ? true : undefined;
    }, 30_000, 500);
    const policyQueries = dashboardQueries(dashboardFiles()).filter((q) => metricNames(q.expr).some((m) => m.startsWith('mailfleet_policy_')));
    assert.ok(policyQueries.length >= 5, `${policyQueries.length} dashboard queries read the policy metrics`);
    // A rate needs two samples of a series: the counters the flood created appear at its next scrape.
    let empty: string[] = [];
    await until('every dashboard panel of the policy server finding series', async () => {
      empty = await emptyQueries(vm, policyQueries);
      return empty.length === 0 ? true : undefined;
    }, 30_000, 1000).catch(() => assert.deepEqual(empty, [], 'every dashboard panel of the policy server finds series'));
  });

  const kvs = await platform.instance('kvs-0');
  const redisPid = Number(readFileSync(join(instanceContext(platform.stateDir, 'kvs', 'kvs-0', kvs.address).runDir, 'redis.pid'), 'utf8').trim());
  const failedOpen = await policyMetric(policy, 'mailfleet_policy_fail_open_total');
  await t.test('GIVEN Redis silent (SIGSTOP) WHEN the flooding client sends again THEN its mail is accepted unchecked and the fail-open counter counts it', async (tt) => {
    process.kill(redisPid, 'SIGSTOP');
    tt.after(() => process.kill(redisPid, 'SIGCONT'));
    const unchecked = `unchecked-${run}@client.test`;
    const r = await send(mta, FLOODER, [user(8)], unchecked);
    assert.deepEqual(r.rcpt, [250]);
    assert.equal(r.data, 250);
    assert.equal(await policyMetric(policy, 'mailfleet_policy_fail_open_total'), failedOpen + 1);
    await until('user8 has the unchecked message', async () => ((await inbox(8)).includes(unchecked) ? true : undefined), 60_000, 500);
  });

  await t.test('WHEN Redis answers again THEN the flooding client is deferred again; the other client still delivers', async () => {
    process.kill(redisPid, 'SIGCONT');
    await until('the policy server connected to Redis again', async () => ((await policyMetric(policy, 'mailfleet_policy_redis_up')) === 1 ? true : undefined), 30_000, 200);
    const failedBefore = await policyMetric(policy, 'mailfleet_policy_fail_open_total');
    assert.deepEqual((await send(mta, FLOODER, [user(7)], `again-${run}@client.test`)).rcpt, [450]);
    assert.deepEqual((await send(mta, OTHER, [user(8)], `other-again-${run}@client.test`)).rcpt, [250]);
    assert.equal(await policyMetric(policy, 'mailfleet_policy_fail_open_total'), failedBefore, 'both were judged');
  });

  await t.test('WHEN kvs restarts (a new address) THEN the policy server follows it without restarting, and the counts it kept still limit the flood', async () => {
    const restarted = platform.cli(['restart', 'kvs']);
    assert.equal(restarted.code, 0, restarted.stderr);
    const moved = await platform.instance('kvs-0');
    assert.notEqual(moved.address, kvs.address, 'the restarted kvs came back elsewhere');
    await until('the policy server on the new kvs', async () => {
      const log = readFileSync(join(platform.stateDir, 'logs', 'policy-0.log'), 'utf8');
      return log.includes(`"redis":"${moved.address}:6379"`) && (await policyMetric(policy, 'mailfleet_policy_redis_up')) === 1 ? true : undefined;
    }, 30_000, 200);
    policy = await platform.instance('policy-0');
    assert.equal(policy.restarts, 0);
    assert.deepEqual((await send(mta, FLOODER, [user(7)], `moved-${run}@client.test`)).rcpt, [450]);
  });

  await t.test('WHEN the policy server is killed THEN the runtime starts it again on another address, and the mta asks it there', async () => {
    const before = await platform.instance('policy-0');
    assert.ok(before.pid);
    process.kill(before.pid, 'SIGKILL');
    const back = await until('policy-0 running again', async () => {
      const now = await platform.instance('policy-0');
      return now.state === 'running' && now.restarts === 1 ? now : undefined;
    }, 60_000, 200);
    assert.notEqual(back.address, before.address);
    const mainCf = join(platform.stateDir, 'instances', 'mta-0', 'config', 'main.cf');
    await until('the mta\'s config naming the new address', async () => (readFileSync(mainCf, 'utf8').includes(`inet:${back.address}:10040`) ? true : undefined), 30_000, 200);
    // Until Postfix has reloaded, a new session may still go to the old address (refused: DUNNO, accepted).
    await until('the flood deferred by the restarted policy server', async () => ((await send(mta, FLOODER, [user(7)], `restarted-${Date.now()}@client.test`)).rcpt[0] === 450 ? true : undefined), 30_000, 500);
  });
});
