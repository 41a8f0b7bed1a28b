/**
 * The rendered metrics stack runs as rendered: VictoriaMetrics, vmalert and Alertmanager (Debian's builds of the
 * images' programs) start with the containers' own arguments and environment (the Secret's metrics admin key put
 * where the rendered secretKeyRef and volume put it), Alertmanager after its init container, the real
 * `mailfleet render alertmanager-web`, wrote its web config. Only what a pod has and this host lacks is changed:
 * addresses (Service names → loopback), mount paths (→ a temporary directory), vmalert's evaluation interval, and
 * VictoriaMetrics' Kubernetes discovery (no API server here) is left out.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parse } from 'yaml';
import { generatedSecretValues, renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { validateSpec } from '../../../src/spec/index.ts';
import { alertWebhook } from '../../support/alert-webhook.ts';
import { ensureBuilt } from '../../support/build.ts';
import { REPO } from '../../support/platform.ts';
import { until } from '../../support/poll.ts';

const HOSTS = { victoriametrics: '127.156.0.1', alertmanager: '127.156.0.2', vmalert: '127.156.0.3', webhook: '127.156.0.4' };
const STARTED_MS = 30_000;

type Container = { command?: string[]; args: string[]; env?: { name: string; valueFrom?: { secretKeyRef?: { key: string } } }[] };
type Pod = { containers: Container[]; initContainers?: Container[] };

const podOf = (objects: KubeObject[], kind: string, name: string): Pod => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} rendered`);
  return (o.spec as { template: { spec: Pod } }).template.spec;
};

/** The container's arguments with each pod path or Service address replaced; `drop` leaves out those starting so. */
function remap(args: readonly string[], replace: [string, string][], drop: string[] = []): string[] {
  return args.filter((a) => !drop.some((d) => a.startsWith(d))).map((a) => replace.reduce((s, [from, to]) => s.split(from).join(to), a));
}

/** The container's environment with every secretKeyRef resolved from `secrets`. */
function environment(c: Container, secrets: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const key = e.valueFrom?.secretKeyRef?.key;
    assert.ok(key, `${e.name} comes from the Secret`);
    const value = secrets[key];
    assert.ok(value, `the Secret has ${key}`);
    out[e.name] = value;
  }
  return out;
}

function start(t: TestContext, dir: string, name: string, argv: string[], env: Record<string, string> = {}): ChildProcess {
  const log = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', log, log], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGKILL');
    await gone;
  });
  return child;
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function status(url: string, init: RequestInit = {}): Promise<number> {
  return (await fetch(url, { ...init, signal: AbortSignal.timeout(5000) })).status;
}

test('GIVEN the rendered metrics stack WHEN it runs THEN its admin endpoints and every Alertmanager request need the metrics admin key, and alerts still flow', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-test-metrics-stack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Alertmanager posts to a receiver on loopback, never to the example's address.
  const webhook = await alertWebhook(t, HOSTS.webhook);
  const example = parse(readFileSync(join(REPO, 'examples', 'mailfleet.yaml'), 'utf8')) as { spec: { kubernetes?: Record<string, unknown> } };
  example.spec.kubernetes = { ...example.spec.kubernetes, alertWebhookUrl: webhook.url };
  const doc = validateSpec(example);
  const objects = renderPlatform(doc);
  const secrets = generatedSecretValues(doc.spec);
  const key = secrets['metrics-admin-key'];
  assert.ok(key);

  // The pod's mounts, as files here.
  const secretFile = join(dir, 'secrets', 'metrics-admin-key');
  mkdirSync(join(dir, 'secrets'));
  writeFileSync(secretFile, key, { mode: 0o400 });
  for (const d of ['vm', 'am-data', 'web', 'rules', 'am-config']) mkdirSync(join(dir, d));
  const amConfig = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'alertmanager') as KubeObject & { data: Record<string, string> };
  for (const [name, text] of Object.entries(amConfig.data)) writeFileSync(join(dir, 'am-config', name), text);
  writeFileSync(join(dir, 'rules', 'test.yaml'), 'groups:\n  - name: metrics-stack-test\n    rules:\n      - alert: MetricsStackTest\n        expr: vector(1)\n        labels: { severity: warning }\n');
  const paths: [string, string][] = [
    ['/etc/mailfleet/secrets/metrics-admin-key', secretFile],
    ['/run/alertmanager-web', join(dir, 'web')],
    ['/etc/alertmanager', join(dir, 'am-config')],
    ['=/alertmanager', `=${join(dir, 'am-data')}`],
    ['=/storage', `=${join(dir, 'vm')}`],
    ['/etc/vmalert/rules', join(dir, 'rules')],
    ['http://victoriametrics:', `http://${HOSTS.victoriametrics}:`],
    ['http://alertmanager:', `http://${HOSTS.alertmanager}:`],
  ];

  const vmPod = podOf(objects, 'StatefulSet', 'victoriametrics');
  const [vmC] = vmPod.containers;
  assert.ok(vmC);
  start(t, dir, 'victoriametrics', ['/usr/bin/victoria-metrics', ...remap(vmC.args, [...paths, ['-httpListenAddr=:', `-httpListenAddr=${HOSTS.victoriametrics}:`]], ['-promscrape.'])], environment(vmC, secrets));
  const vm = `http://${HOSTS.victoriametrics}:8428`;

  const amPod = podOf(objects, 'StatefulSet', 'alertmanager');
  const [init] = amPod.initContainers ?? [];
  assert.ok(init, 'Alertmanager has an init container');
  assert.deepEqual(init.command, ['mailfleet', 'render', 'alertmanager-web']);
  const made = spawnSync(process.execPath, [ensureBuilt(), 'render', 'alertmanager-web', ...remap(init.args, paths)], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(made.status, 0, made.stderr);
  const webConfig = readFileSync(join(dir, 'web', 'web.yml'), 'utf8');
  assert.ok(!webConfig.includes(key), 'the web config holds a hash, not the key');
  const [amC] = amPod.containers;
  assert.ok(amC);
  start(t, dir, 'alertmanager', ['/usr/bin/prometheus-alertmanager', ...remap(amC.args, [...paths, ['--web.listen-address=:', `--web.listen-address=${HOSTS.alertmanager}:`]])]);
  const am = `http://${HOSTS.alertmanager}:9093`;

  const vmalertPod = podOf(objects, 'Deployment', 'vmalert');
  const [vmalertC] = vmalertPod.containers;
  assert.ok(vmalertC);
  start(t, dir, 'vmalert', ['/usr/bin/vmalert', ...remap(vmalertC.args, [
    ...paths, ['-httpListenAddr=:', `-httpListenAddr=${HOSTS.vmalert}:`], [`-evaluationInterval=${doc.spec.alerting.evaluationSeconds}s`, '-evaluationInterval=1s'],
  ])], environment(vmalertC, secrets));
  const vmalert = `http://${HOSTS.vmalert}:8880`;

  await until('VictoriaMetrics, Alertmanager and vmalert listening', async () => {
    const up = await Promise.all([status(`${vm}/health`), status(`${am}/-/ready`), status(`${vmalert}/health`)]);
    return up[0] === 200 && up[1] === 401 && up[2] === 200 ? true : undefined;
  }, STARTED_MS, 250);

  await t.test('Alertmanager: without the password, or with a wrong one, nothing answers: no status, no silence', async () => {
    const silence = JSON.stringify({ matchers: [{ name: 'alertname', value: 'MetricsStackTest', isRegex: false }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3600_000).toISOString(), createdBy: 'test', comment: 'test' });
    const post = (authorization?: string) => status(`${am}/api/v2/silences`, { method: 'POST', body: silence, headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) } });
    assert.equal(await status(`${am}/api/v2/status`), 401);
    assert.equal(await status(`${am}/api/v2/status`, { headers: { authorization: basic('admin', 'not-the-key-0123456789') } }), 401);
    assert.equal(await post(), 401);
    assert.equal(await post(basic('admin', `${key}x`)), 401);
    assert.equal(await status(`${am}/api/v2/status`, { headers: { authorization: basic('admin', key) } }), 200);
  });

  await t.test('vmalert sends its alerts to Alertmanager with the password', async () => {
    const alerts = await until('MetricsStackTest in Alertmanager', async () => {
      const res = await fetch(`${am}/api/v2/alerts`, { headers: { authorization: basic('admin', key) }, signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as { labels: Record<string, string> }[];
      return body.some((a) => a.labels.alertname === 'MetricsStackTest') ? body : undefined;
    }, 60_000, 500);
    assert.ok(alerts.length >= 1);
  });

  await t.test('VictoriaMetrics and vmalert: admin endpoints refuse without the key and act with it; queries need none', async () => {
    const match = `match[]=${encodeURIComponent('{__name__="nothing_here"}')}`;
    for (const url of [`${vm}/api/v1/admin/tsdb/delete_series?${match}`, `${vm}/snapshot/create`, `${vm}/internal/force_merge`, `${vm}/flags`, `${vmalert}/flags`]) {
      const s = await status(url);
      assert.ok(s >= 400 && s < 500, `${url}: HTTP ${s}`);
    }
    assert.equal(await status(`${vm}/api/v1/admin/tsdb/delete_series?${match}&authKey=${encodeURIComponent(key)}`), 204);
    assert.equal(await status(`${vm}/flags?authKey=${encodeURIComponent(key)}`), 200);
    assert.equal(await status(`${vmalert}/flags?authKey=${encodeURIComponent(key)}`), 200);
    assert.equal(await status(`${vm}/api/v1/query?query=up`), 200);
  });
});
