/**
 * Every query of every dashboard against a real VictoriaMetrics (Debian's victoria-metrics), with
 * Grafana's variables substituted as "All" and a fixed window:
 * - now: a throwaway VictoriaMetrics with an empty data directory parses each one (a malformed
 *   expression or an unknown function is an error there);
 * - on a live platform (`mailfleet up` with the prober, its VictoriaMetrics scraping every 2 s), after
 *   both probe paths succeeded (mail through msa and mta, read back over IMAPS and POP3S: Postfix's and
 *   Dovecot's series move) and mailbox was scaled (a director change for the controller's series): each
 *   one returns at least one series, except the queries of EVENT_ONLY_METRICS, series that exist only
 *   after an event such a run does not cause. A misspelt metric name returns nothing, so it fails here.
 * Addresses: 127.115.0.0/16.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { dashboardFiles } from '../../src/dashboards/index.ts';
import { dashboardQueries, emptyQueries, EVENT_ONLY_METRICS, FILTER_ROLES_ONLY, metricNames, unparsedQueries, vmQuery, type DashboardQuery } from '../support/dashboard-queries.ts';
import { controlRequest, type StatusReport } from '../../src/runtime/local/index.ts';
import { startPlatform } from '../support/platform.ts';
import { until } from '../support/poll.ts';

const VM_PROGRAM = '/usr/bin/victoria-metrics';
const VM_HOST = '127.115.0.1';
const START_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 10_000;
/** The live platform's pool: the throwaway VictoriaMetrics on VM_HOST are stopped before it comes up. */
const LIVE_POOL = '127.115.0.0/16';
const SCRAPE_S = 2;
const PROBE_INTERVAL_S = 5;
const PROBE_TIMEOUT_S = 4;
const SUCCESS_DEADLINE_MS = 60_000;
const LIVE_TIMEOUT_MS = 300_000;

async function freePort(host: string): Promise<number> {
  const server = createServer().listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A VictoriaMetrics on its own empty data directory; stopped (and the directory removed) after the test. */
async function startVictoriaMetrics(t: TestContext): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mailfleet-dashboards-vm-'));
  const port = await freePort(VM_HOST);
  const child = spawn(VM_PROGRAM, [
    `-httpListenAddr=${VM_HOST}:${port}`,
    `-storageDataPath=${dataDir}`,
    '-search.latencyOffset=0s',
    '-search.disableCache',
    '-loggerLevel=ERROR',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096);
  });
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  const url = `http://${VM_HOST}:${port}`;
  await until('VictoriaMetrics /health', async () => {
    if (child.exitCode !== null) throw new Error(`victoria-metrics exited with ${child.exitCode}: ${stderr}`);
    return (await fetch(`${url}/health`)).ok ? true : undefined;
  }, START_DEADLINE_MS);
  return url;
}

const queries: DashboardQuery[] = dashboardQueries(dashboardFiles());

test('GIVEN every dashboard query WHEN VictoriaMetrics parses it THEN none is refused', async (t) => {
  const url = await startVictoriaMetrics(t);
  assert.ok(queries.length > 100, `${queries.length} queries`);
  assert.deepEqual(await unparsedQueries(url, queries), []);
});

test('GIVEN malformed queries WHEN VictoriaMetrics parses them THEN each is refused (the parse check can fail)', async (t) => {
  const url = await startVictoriaMetrics(t);
  const bad: DashboardQuery[] = [
    { file: 'bad', where: 'unbalanced', expr: 'sum by (queue (mailfleet_postfix_queue_messages)' },
    { file: 'bad', where: 'unknown function', expr: 'histogram_quantil(0.95, rate(mailfleet_probe_duration_seconds_bucket[$__rate_interval]))' },
    { file: 'bad', where: 'unsubstituted range', expr: 'rate(mailfleet_postfix_smtpd_connects_total[$window])' },
  ];
  const failures = await unparsedQueries(url, bad);
  assert.equal(failures.length, bad.length, failures.join('\n'));
});

test('GIVEN the series check WHEN run on an empty VictoriaMetrics and then with one metric imported THEN it reports the empty queries and passes the one that now finds series', async (t) => {
  const url = await startVictoriaMetrics(t);
  const ready = queries.filter((q) => q.where.startsWith('Ready instances by role'));
  assert.ok(ready.length > 0);
  const checked = queries.filter((q) => !metricNames(q.expr).some((m) => m in EVENT_ONLY_METRICS) && !FILTER_ROLES_ONLY.test(q.expr));
  assert.equal((await emptyQueries(url, queries)).length, checked.length, 'every checked query is empty on an empty store');

  const body = ['mailfleet_agent_ready{role="mta",instance="mta-0"} 1', 'mailfleet_agent_daemon_up{role="mta",instance="mta-0"} 1', ''].join('\n');
  const res = await fetch(`${url}/api/v1/import/prometheus`, { method: 'POST', body });
  assert.equal(res.status, 204);
  // Make the imported samples searchable now rather than at the next flush of in-memory parts.
  assert.equal((await fetch(`${url}/internal/force_flush`)).status, 200);
  await until('imported series searchable', async () => ((await vmQuery(url, 'mailfleet_agent_ready')).data?.result.length ? true : undefined), START_DEADLINE_MS);
  assert.deepEqual(await emptyQueries(url, ready), []);
});

test('GIVEN a live platform whose prober has run WHEN every dashboard query runs on its VictoriaMetrics THEN each finds series (or reads an event-only metric)', { timeout: LIVE_TIMEOUT_MS }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: LIVE_POOL,
    accounts: 1,
    roles: { ldap: 1, kvs: 1, mailbox: 1, proxy: 1, mta: 1, msa: 1 },
    probe: { intervalSeconds: PROBE_INTERVAL_S, timeoutSeconds: PROBE_TIMEOUT_S },
    // The overview's flow-control row reads the policy server, which the prober's mail passes through.
    policy: {},
    local: { scrapeIntervalSeconds: SCRAPE_S },
  });
  const { body } = await controlRequest(join(platform.stateDir, 'control.sock'), 'GET', '/v1/status');
  const url = (body as StatusReport).monitoring?.victoriametrics.url;
  assert.ok(url, 'the platform runs VictoriaMetrics');
  // The probe's cycles send through msa and mta, deliver over LMTP and log in over IMAPS and POP3S:
  // Postfix's and Dovecot's series move with them.
  await until('mailfleet_probe_success 1 for msa and mta', async () => {
    const answer = await vmQuery(url, 'mailfleet_probe_success == 1');
    const paths = new Set((answer.data?.result ?? []).map((r) => (r as { metric: Record<string, string> }).metric.path));
    return paths.has('msa') && paths.has('mta') ? true : undefined;
  }, SUCCESS_DEADLINE_MS, 500);
  // A change of the director ring, which the backend-sync controller applies and times (its steps and sync latency).
  const scaled = platform.cli(['scale', 'mailbox', '2']);
  assert.equal(scaled.code, 0, scaled.stderr);
  await until('the controller applied a director step', async () => ((await vmQuery(url, 'mailfleet_backends_steps_total')).data?.result.length ? true : undefined), SUCCESS_DEADLINE_MS, 500);
  // A couple more scrapes of every target, so that the last cycle's counters are in with a sample before them.
  const after = Date.now() / 1000 + SCRAPE_S;
  await until('every target scraped twice more', async () => {
    const oldest = (await vmQuery(url, 'min(timestamp(up))')).data?.result[0] as { value: [number, string] } | undefined;
    return oldest && Number(oldest.value[1]) > after ? true : undefined;
  }, SUCCESS_DEADLINE_MS, 500);
  const empty = await emptyQueries(url, queries);
  // Should a query find nothing, what the platform and its scrapes looked like then says why.
  const context = empty.length === 0 ? '' : JSON.stringify({
    instances: (await platform.status()).map((i) => `${i.name} ${i.address} ready=${i.ready} restarts=${i.restarts}`),
    up: (await vmQuery(url, 'up')).data?.result,
    runtime: platform.output().split('\n').slice(-40),
  });
  assert.deepEqual(empty, [], context);
});
