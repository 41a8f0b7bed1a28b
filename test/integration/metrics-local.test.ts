/**
 * VictoriaMetrics on the single host: `mailfleet up` starts it (and vmalert, here without a webhook), it scrapes every instance and the runtime's own
 * metrics (as the controller), follows scaling and restarts (new addresses) from the targets file without being
 * restarted itself, comes back with its data after a crash, and `down` leaves nothing running.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlRequest, type MonitoringStatus, type StatusReport } from '../../src/runtime/local/index.ts';
import { processesMentioning, startPlatform, type Platform } from '../support/platform.ts';
import { until } from '../support/poll.ts';

const POOL = '127.146.0.0/16';
const SCRAPE_S = 2;
const SCRAPED_DEADLINE_MS = 60_000;

type Labels = Record<string, string>;
interface Target {
  labels: Labels;
  scrapeUrl: string;
  health: string;
}

async function vmGet<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200, `${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

async function query(vm: string, promql: string, time?: number): Promise<{ metric: Labels; value: [number, string] }[]> {
  const at = time === undefined ? '' : `&time=${time}`;
  const body = await vmGet<{ status: string; data: { result: { metric: Labels; value: [number, string] }[] } }>(`${vm}/api/v1/query?query=${encodeURIComponent(promql)}${at}`);
  assert.equal(body.status, 'success');
  return body.data.result;
}

async function targets(vm: string): Promise<Target[]> {
  return (await vmGet<{ data: { activeTargets: Target[] } }>(`${vm}/api/v1/targets`)).data.activeTargets;
}

/** The runtime's status from its control socket (no CLI process per poll). */
async function report(platform: Platform, figures = false): Promise<StatusReport> {
  const { status, body } = await controlRequest(join(platform.stateDir, 'control.sock'), 'GET', `/v1/status${figures ? '?figures=1' : ''}`);
  assert.equal(status, 200);
  return body as StatusReport;
}

async function monitoring(platform: Platform): Promise<MonitoringStatus> {
  const m = (await report(platform)).monitoring;
  assert.ok(m, 'status names the metrics processes');
  return m;
}

/** `up` by instance label, only the series whose value is 1. */
async function upInstances(vm: string): Promise<Map<string, Labels>> {
  const series = await query(vm, 'up == 1');
  return new Map(series.map((s) => [s.metric.instance ?? '', s.metric]));
}

test('VictoriaMetrics on the single host follows the instances', { timeout: 600_000 }, async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 3, roles: { mailbox: 2, proxy: 1, mta: 1, msa: 0 }, local: { scrapeIntervalSeconds: SCRAPE_S } });
  const first = await monitoring(platform);
  const vm = first.victoriametrics.url;
  const vmPid = first.victoriametrics.pid;

  await t.test('GIVEN mailfleet up WHEN it is ready THEN it printed the VictoriaMetrics UI, which listens on an address of the pool', async () => {
    // /vmui/ where the build ships the UI; Debian's does not, and its start page is shown instead.
    assert.match(first.victoriametrics.ui, /^http:\/\/127\.146\.\d+\.\d+:8428\/(vmui\/)?$/);
    assert.ok(platform.output().includes(`metrics: ${first.victoriametrics.ui}`), platform.output());
    assert.equal((await fetch(first.victoriametrics.ui, { signal: AbortSignal.timeout(5000) })).status, 200);
    assert.equal(typeof vmPid, 'number');
  });

  await t.test('GIVEN mailfleet up WHEN it is ready THEN it printed where the runtime serves its own metrics, which answer there with the backend-sync series', async () => {
    assert.match(first.runtimeMetrics, /^http:\/\/127\.146\.\d+\.\d+:\d+\/metrics$/);
    assert.ok(platform.output().includes(`the runtime's own: ${first.runtimeMetrics}`), platform.output());
    const res = await fetch(first.runtimeMetrics, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^mailfleet_backends\{/m);
  });

  await t.test('GIVEN no webhook in the spec WHEN up is ready THEN vmalert evaluates the rule packs, no Alertmanager runs, and up says alerts go nowhere', async () => {
    assert.equal(first.alertmanager, undefined);
    assert.ok(first.vmalert, 'vmalert runs');
    assert.ok(platform.output().includes('alerts are evaluated but sent nowhere: set spec.local.alertWebhookUrl'), platform.output());
    const rules = await vmGet<{ data: { groups: { name: string; rules: { name: string }[] }[] } }>(`${first.vmalert.url}/api/v1/rules`);
    const names = rules.data.groups.flatMap((g) => g.rules.map((r) => r.name));
    assert.ok(names.includes('MailfleetBackendDown'), names.join(', '));
    assert.equal(processesMentioning('prometheus-alertmanager').filter((pid) => platform.leftovers().includes(pid)).length, 0);
  });

  await t.test('WHEN VictoriaMetrics has scraped THEN every instance and the controller are up, labelled by role and instance', async () => {
    const instances = await platform.status();
    const expected = new Map([...instances.map((i) => [i.name, i.role] as const), ['controller', 'controller'] as const]);
    const up = await until('up == 1 for every instance and the controller', async () => {
      const found = await upInstances(vm);
      return [...expected.keys()].every((name) => found.has(name)) ? found : undefined;
    }, SCRAPED_DEADLINE_MS, 500);
    for (const [name, role] of expected) assert.deepEqual(up.get(name), { __name__: 'up', instance: name, job: 'mailfleet', role }, name);
    // Agent series keep their own labels: no exported_role/exported_instance copies.
    const ready = await query(vm, 'mailfleet_agent_ready{instance="mta-0"}');
    assert.deepEqual(ready.map((s) => Object.keys(s.metric).sort()), [['__name__', 'instance', 'job', 'role']]);
  });

  await t.test('GIVEN a series in VictoriaMetrics WHEN anyone asks its admin endpoints without the metrics admin key THEN they refuse, and with the key they act', async () => {
    const key = (JSON.parse(readFileSync(join(platform.stateDir, 'secrets.json'), 'utf8')) as Record<string, string>)['metrics-admin-key'];
    assert.ok(key, 'the runtime generated the metrics admin key');
    const series = 'mailfleet_test_admin_probe';
    const match = `match[]=${encodeURIComponent(`${series}{}`)}`;
    // Writes stay open (scrapes, vmalert's state): the series to delete.
    const imported = await fetch(`${vm}/api/v1/import/prometheus`, { method: 'POST', body: `${series} 1\n`, signal: AbortSignal.timeout(5000) });
    assert.equal(imported.status, 204);
    const present = async () => (await query(vm, series)).length === 1;
    await until(`${series} queryable`, async () => ((await present()) ? true : undefined), SCRAPED_DEADLINE_MS, 250);

    const ask = async (path: string, authKey?: string) =>
      (await fetch(`${path}${path.includes('?') ? '&' : '?'}${authKey === undefined ? '' : `authKey=${encodeURIComponent(authKey)}`}`, { signal: AbortSignal.timeout(5000) })).status;
    for (const path of [`${vm}/api/v1/admin/tsdb/delete_series?${match}`, `${vm}/snapshot/create`, `${vm}/internal/force_merge`, `${vm}/flags`, `${first.vmalert?.url ?? ''}/flags`]) {
      for (const wrong of [undefined, 'not-the-key']) {
        const status = await ask(path, wrong);
        assert.ok(status >= 400 && status < 500, `${path} with ${wrong ?? 'no key'}: HTTP ${status}`);
      }
    }
    assert.ok(await present(), 'the refused delete deleted nothing');
    assert.equal(await ask(`${vm}/flags`, key), 200);
    assert.equal(await ask(`${first.vmalert?.url ?? ''}/flags`, key), 200);
    assert.equal(await ask(`${vm}/api/v1/admin/tsdb/delete_series?${match}`, key), 204);
    await until(`${series} deleted`, async () => ((await present()) ? undefined : true), SCRAPED_DEADLINE_MS, 250);
  });

  await t.test('WHEN the controller is scraped THEN the backend-sync metrics are in VictoriaMetrics as role controller', async () => {
    const backends = await until('mailfleet_backends{state="up"}', async () => {
      const r = await query(vm, 'mailfleet_backends{state="up"}');
      return r.length > 0 && r[0]?.value[1] === '2' ? r : undefined;
    }, SCRAPED_DEADLINE_MS, 500);
    assert.equal(backends[0]?.metric.role, 'controller');
  });

  await t.test('WHEN the kvs is scraped THEN Redis\'s figures are in VictoriaMetrics under redis_exporter\'s names, and the Redis pack is evaluated', async () => {
    const up = await until('redis_up 1', async () => {
      const r = await query(vm, 'redis_up');
      return r.length > 0 && r[0]?.value[1] === '1' ? r : undefined;
    }, SCRAPED_DEADLINE_MS, 500);
    assert.deepEqual(up[0]?.metric, { __name__: 'redis_up', instance: 'kvs-0', job: 'mailfleet', role: 'kvs' });
    // maxmemory from the kvs's memory limit, and the append-only file writing.
    const max = await query(vm, 'redis_memory_max_bytes{instance="kvs-0"}');
    assert.ok(Number(max[0]?.value[1]) > 0, JSON.stringify(max));
    assert.equal((await query(vm, 'redis_aof_last_write_status{instance="kvs-0"}'))[0]?.value[1], '1');
    const rules = await vmGet<{ data: { groups: { name: string; rules: { name: string }[] }[] } }>(`${first.vmalert?.url ?? ''}/api/v1/rules`);
    const names = rules.data.groups.flatMap((g) => g.rules.map((r) => r.name));
    for (const rule of ['MailfleetRedisDown', 'MailfleetRoleAbsent', 'MailfleetWatchdog']) assert.ok(names.includes(rule), `${rule} in ${names.join(', ')}`);
  });

  await t.test('WHEN mailbox is scaled to 3 THEN mailbox-2 is scraped at its address, and VictoriaMetrics was not restarted', async () => {
    const r = platform.cli(['scale', 'mailbox', '3']);
    assert.equal(r.code, 0, r.stderr);
    const added = await platform.instance('mailbox-2');
    await until('mailbox-2 scraped and up', async () => {
      const target = (await targets(vm)).find((x) => x.labels.instance === 'mailbox-2');
      return target?.health === 'up' && target.scrapeUrl === `http://${added.address}:${added.ports.http}/metrics` ? target : undefined;
    }, SCRAPED_DEADLINE_MS, 500);
    await until('up{instance="mailbox-2"} == 1', async () => ((await upInstances(vm)).get('mailbox-2')?.role === 'mailbox' ? true : undefined), SCRAPED_DEADLINE_MS, 500);
    const now = await monitoring(platform);
    assert.equal(now.victoriametrics.pid, vmPid);
    assert.equal(now.victoriametrics.restarts, 0);
  });

  await t.test('WHEN an instance restarts on a new address THEN the new address is scraped and the old one no longer, by the same VictoriaMetrics', async () => {
    const before = await platform.instance('mta-0');
    const r = platform.cli(['restart', 'mta']);
    assert.equal(r.code, 0, r.stderr);
    const after = await platform.instance('mta-0');
    assert.notEqual(after.address, before.address);
    const list = await until('mta-0 scraped at its new address only', async () => {
      const mta = (await targets(vm)).filter((x) => x.labels.instance === 'mta-0');
      return mta.length === 1 && mta[0]?.health === 'up' && mta[0].scrapeUrl.includes(`//${after.address}:`) ? mta : undefined;
    }, SCRAPED_DEADLINE_MS, 500);
    assert.equal(list.length, 1);
    assert.equal((await monitoring(platform)).victoriametrics.pid, vmPid);
  });

  await t.test('WHEN status is asked THEN it shows per role the live figures, - where no series exists yet, and --json keeps them', async () => {
    await until('status figures with every mailbox scraped', async () => {
      const mailbox = (await report(platform, true)).figures?.roles.find((x) => x.role === 'mailbox');
      return mailbox?.scrapedUp === 3 ? true : undefined;
    }, SCRAPED_DEADLINE_MS, 1000);
    const json = platform.cli(['status', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const { figures } = JSON.parse(json.stdout) as StatusReport;
    assert.ok(figures);
    assert.equal(figures.error, undefined);
    assert.deepEqual(figures.roles.map((x) => x.role), ['ldap', 'kvs', 'mailbox', 'proxy', 'mta', 'controller']);
    const row = (role: string) => figures.roles.find((x) => x.role === role);
    assert.deepEqual([row('mailbox')?.scrapedUp, row('mailbox')?.scrapeTargets], [3, 3]);
    assert.equal(row('ldap')?.queueMessages, null, 'nothing exports a queue for ldap');
    const text = platform.cli(['status']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^ROLE\s+SCRAPED\s+QUEUE\s+DELIVERIES\/MIN\s+PROBE LATENCY$/m);
    assert.match(text.stdout, /^mailbox\s+3\/3 up\s/m);
    assert.match(text.stdout, /^ldap\s+1\/1 up\s+-\s+-\s+-$/m);
    assert.ok(text.stdout.includes(`metrics: ${first.victoriametrics.ui}`));
  });

  await t.test('GIVEN VictoriaMetrics killed WHEN the runtime restarts it THEN it is back on the same address with the samples it had', async () => {
    const [sample] = await query(vm, 'up{instance="ldap-0"}');
    assert.ok(sample, 'an up sample of ldap-0');
    // A sample some seconds old: what VictoriaMetrics had written to disk before the kill.
    const at = Math.floor(sample.value[0]) - 10;
    assert.ok(vmPid);
    process.kill(vmPid, 'SIGKILL');
    const back = await until('VictoriaMetrics restarted', async () => {
      const m = await monitoring(platform);
      return m.victoriametrics.restarts === 1 && m.victoriametrics.pid !== null && m.victoriametrics.pid !== vmPid ? m : undefined;
    }, SCRAPED_DEADLINE_MS, 500);
    assert.equal(back.victoriametrics.url, vm);
    const old = await until('the old sample queried again', async () => {
      const r = await query(vm, 'up{instance="ldap-0"}', at);
      return r.length > 0 ? r : undefined;
    }, SCRAPED_DEADLINE_MS, 500);
    assert.equal(old[0]?.value[1], '1');
    assert.ok(platform.output().includes('victoriametrics exited'), 'up said it restarted VictoriaMetrics');
  });

  await t.test('WHEN the platform goes down THEN VictoriaMetrics is stopped with the instances: nothing is left running', async () => {
    const { pid } = (await monitoring(platform)).victoriametrics;
    await platform.down();
    assert.deepEqual(platform.leftovers(), []);
    assert.ok(pid);
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  });
});
