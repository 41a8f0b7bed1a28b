/**
 * The scrape config against the real VictoriaMetrics (Debian's victoria-metrics) and promtool: both
 * accept it, and VictoriaMetrics scrapes what it describes: a static target on the single host, and
 * annotated pods it discovers through the in-process Kubernetes API server.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parse, stringify } from 'yaml';
import { scrapeConfig, KUBERNETES_SCRAPE_JOB, SCRAPE_CONFIG_FILE, type ScrapeMode } from '../../../src/config/index.ts';
import { testSpec } from '../../support/spec.ts';
import { startTestCluster } from '../../support/kube/client.ts';
import { findProgram, freePort, pollUntil, run, startProcess, tempDir } from './tools.ts';

const VM = findProgram('victoria-metrics');
const PROMTOOL = findProgram('promtool');
const VM_HOST = '127.86.0.9';
const TARGET_HOST = '127.86.0.10';
const METRIC = 'mailfleet_config_test_up';
const SCRAPED_DEADLINE_MS = 60_000;

const spec = testSpec();

function configFile(t: TestContext, mode: ScrapeMode, edit?: (doc: Record<string, unknown>) => void): string {
  let text = scrapeConfig(spec, mode, { intervalSeconds: 1 })[SCRAPE_CONFIG_FILE] ?? '';
  if (edit) {
    const doc = parse(text) as Record<string, unknown>;
    edit(doc);
    text = stringify(doc);
  }
  const file = join(tempDir(t, 'scrape'), SCRAPE_CONFIG_FILE);
  writeFileSync(file, text);
  return file;
}

/** An exporter on loopback serving METRIC on `paths`; every request is counted. */
async function exporter(t: TestContext, paths: readonly string[]): Promise<{ port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (!paths.includes(req.url ?? '')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(`# TYPE ${METRIC} gauge\n${METRIC} 1\n`);
  });
  server.listen(0, TARGET_HOST);
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, hits };
}

/** Starts VictoriaMetrics on loopback with `file`; returns its base URL. */
async function victoriaMetrics(t: TestContext, file: string, extra: string[] = []): Promise<string> {
  const port = await freePort(VM_HOST);
  const args = [
    `-promscrape.config=${file}`,
    '-promscrape.config.strictParse',
    `-httpListenAddr=${VM_HOST}:${port}`,
    `-storageDataPath=${tempDir(t, 'vmdata')}`,
    '-search.latencyOffset=0s',
    '-search.disableCache',
    ...extra,
  ];
  await startProcess(t, VM as string, args, /starting http server at http:\/\//);
  const url = `http://${VM_HOST}:${port}`;
  await pollUntil('VictoriaMetrics /health', SCRAPED_DEADLINE_MS, async () => ((await fetch(`${url}/health`)).ok ? true : undefined));
  return url;
}

type Series = Record<string, string>;

async function query(url: string, promql: string): Promise<Series[]> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: { metric: Series }[] } };
  assert.equal(body.status, 'success');
  return body.data.result.map((r) => r.metric);
}

test('GIVEN static mode WHEN checked THEN promtool and VictoriaMetrics both accept it', { skip: !VM || !PROMTOOL }, (t) => {
  const file = configFile(t, { static: [{ job: 'mta', targets: [`${TARGET_HOST}:9100`], labels: { role: 'mta' } }] });
  const promtool = run(PROMTOOL as string, ['check', 'config', file]);
  assert.equal(promtool.code, 0, promtool.stdout + promtool.stderr);
  const dryRun = run(VM as string, [`-promscrape.config=${file}`, '-promscrape.config.strictParse', '-promscrape.config.dryRun', '-loggerLevel=ERROR']);
  assert.equal(dryRun.code, 0, dryRun.stderr);
});

test('GIVEN kubernetes mode WHEN checked THEN VictoriaMetrics accepts it and promtool accepts its relabelling', { skip: !VM || !PROMTOOL }, (t) => {
  const file = configFile(t, 'kubernetes');
  const dryRun = run(VM as string, [`-promscrape.config=${file}`, '-promscrape.config.strictParse', '-promscrape.config.dryRun', '-loggerLevel=ERROR']);
  assert.equal(dryRun.code, 0, dryRun.stderr);
  // Debian builds Prometheus without Kubernetes discovery: check everything else with a static target in its place.
  const withoutDiscovery = configFile(t, 'kubernetes', (doc) => {
    const [job] = doc.scrape_configs as Record<string, unknown>[];
    delete job?.kubernetes_sd_configs;
    if (job) job.static_configs = [{ targets: [`${TARGET_HOST}:9100`] }];
  });
  const promtool = run(PROMTOOL as string, ['check', 'config', withoutDiscovery]);
  assert.equal(promtool.code, 0, promtool.stdout + promtool.stderr);
});

test('GIVEN a deliberately broken config WHEN dry-run THEN VictoriaMetrics refuses it (the check can fail)', { skip: !VM }, (t) => {
  const file = configFile(t, 'kubernetes', (doc) => {
    const [job] = doc.scrape_configs as { relabel_configs: Record<string, unknown>[] }[];
    job?.relabel_configs.push({ source_labels: ['a'], target_lable: 'b' });
  });
  const dryRun = run(VM as string, [`-promscrape.config=${file}`, '-promscrape.config.strictParse', '-promscrape.config.dryRun', '-loggerLevel=ERROR']);
  assert.notEqual(dryRun.code, 0);
  assert.match(dryRun.stderr, /target_lable/);
});

test('GIVEN static mode for the single host WHEN VictoriaMetrics runs it THEN the target is scraped and its metric is queryable with the job labels', { skip: !VM }, async (t) => {
  const target = await exporter(t, ['/metrics']);
  const file = configFile(t, { static: [{ job: 'mta', targets: [`${TARGET_HOST}:${target.port}`], labels: { role: 'mta' } }] });
  const url = await victoriaMetrics(t, file);
  const series = await pollUntil(`${METRIC} in VictoriaMetrics`, SCRAPED_DEADLINE_MS, async () => {
    const found = await query(url, METRIC);
    return found.length > 0 ? found : undefined;
  });
  assert.deepEqual(series, [{ __name__: METRIC, instance: `${TARGET_HOST}:${target.port}`, job: 'mta', role: 'mta' }]);
});

test('GIVEN kubernetes mode WHEN VictoriaMetrics discovers pods THEN only running annotated pods are scraped, at their annotated port and path, labelled by role and pod', { skip: !VM }, async (t) => {
  const target = await exporter(t, ['/metrics', '/custom-metrics']);
  const cluster = await startTestCluster(t);
  const ns = spec.kubernetes.namespace;
  const pod = (name: string, role: string, phase: string, annotations: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { 'app.kubernetes.io/component': role }, annotations },
    spec: { nodeName: 'node-a', containers: [{ name: role, image: 'mailfleet' }] },
    status: { phase, podIP: TARGET_HOST, podIPs: [{ ip: TARGET_HOST }] },
  });
  const scrape = (path: string) => ({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(target.port), 'prometheus.io/path': path });
  cluster.server.put(pod('mta-0', 'mta', 'Running', scrape('/metrics')));
  cluster.server.put(pod('proxy-0', 'proxy', 'Running', scrape('/custom-metrics')));
  cluster.server.put(pod('mailbox-0', 'mailbox', 'Pending', scrape('/metrics')));
  cluster.server.put(pod('ldap-0', 'ldap', 'Running', { 'prometheus.io/port': String(target.port) }));
  cluster.server.put({ ...pod('other-0', 'mta', 'Running', scrape('/metrics')), metadata: { name: 'other-0', namespace: 'elsewhere', labels: {}, annotations: scrape('/metrics') } });

  // The generated config, pointed at the test API server instead of the in-cluster one.
  const file = configFile(t, 'kubernetes', (doc) => {
    const [job] = doc.scrape_configs as { kubernetes_sd_configs: Record<string, unknown>[] }[];
    Object.assign(job?.kubernetes_sd_configs[0] ?? {}, { api_server: cluster.server.url, bearer_token: cluster.server.token });
  });
  const url = await victoriaMetrics(t, file, ['-promscrape.kubernetesSDCheckInterval=1s']);
  const series = await pollUntil('both annotated pods scraped', SCRAPED_DEADLINE_MS, async () => {
    const found = await query(url, METRIC);
    return found.length >= 2 ? found : undefined;
  });
  const common = { __name__: METRIC, job: KUBERNETES_SCRAPE_JOB, namespace: ns, node: 'node-a' };
  assert.deepEqual(
    series.sort((a, b) => (a.pod ?? '').localeCompare(b.pod ?? '')),
    [
      { ...common, instance: 'mta-0', pod: 'mta-0', role: 'mta' },
      { ...common, instance: 'proxy-0', pod: 'proxy-0', role: 'proxy' },
    ],
  );
  const res = await fetch(`${url}/api/v1/targets`);
  const targets = (await res.json()) as { data: { activeTargets: { labels: Series; scrapeUrl: string }[] } };
  assert.deepEqual(
    targets.data.activeTargets.map((a) => a.scrapeUrl).sort(),
    [`http://${TARGET_HOST}:${target.port}/custom-metrics`, `http://${TARGET_HOST}:${target.port}/metrics`],
  );
});

test('GIVEN the cluster\'s exporters in the spec WHEN VictoriaMetrics runs the config THEN both accept it and kube-state-metrics is scraped with its own namespace label, only the platform\'s kept', { skip: !VM || !PROMTOOL }, async (t) => {
  const ns = spec.kubernetes.namespace;
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(
      `# TYPE kube_pod_info gauge\nkube_pod_info{namespace="${ns}",pod="mta-0",instance="ksm-pod"} 1\nkube_pod_info{namespace="elsewhere",pod="web-0"} 1\nkube_node_info{node="n1"} 1\n`,
    );
  });
  server.listen(0, TARGET_HOST);
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  // The node exporters' headless Service is a name of the cluster: here `localhost`, resolved by the host.
  const clustered = testSpec(`kubernetes: { clusterMetrics: { kubeStateMetrics: "ksm.monitoring.svc:8080", nodeExporter: "localhost:9100" } }`);
  const text = (edit: (doc: { scrape_configs: Record<string, unknown>[] }) => void) => {
    const doc = parse(scrapeConfig(clustered, 'kubernetes', { intervalSeconds: 1 })[SCRAPE_CONFIG_FILE] ?? '') as { scrape_configs: Record<string, unknown>[] };
    edit(doc);
    const file = join(tempDir(t, 'scrape'), SCRAPE_CONFIG_FILE);
    writeFileSync(file, stringify(doc));
    return file;
  };
  const jobs = (parse(scrapeConfig(clustered, 'kubernetes')[SCRAPE_CONFIG_FILE] ?? '') as { scrape_configs: { job_name: string }[] }).scrape_configs.map((j) => j.job_name);
  assert.deepEqual(jobs, [KUBERNETES_SCRAPE_JOB, 'kube-state-metrics', 'node-exporter']);

  const asGenerated = text(() => {});
  const dryRun = run(VM as string, [`-promscrape.config=${asGenerated}`, '-promscrape.config.strictParse', '-promscrape.config.dryRun', '-loggerLevel=ERROR']);
  assert.equal(dryRun.code, 0, dryRun.stderr);
  // promtool (built without Kubernetes discovery) checks the two cluster jobs alone.
  const clusterOnly = text((doc) => (doc.scrape_configs = doc.scrape_configs.filter((j) => j.job_name !== KUBERNETES_SCRAPE_JOB)));
  const promtool = run(PROMTOOL as string, ['check', 'config', clusterOnly]);
  assert.equal(promtool.code, 0, promtool.stdout + promtool.stderr);

  // kube-state-metrics pointed at the test's exporter, and nothing else.
  const file = text((doc) => {
    doc.scrape_configs = doc.scrape_configs.filter((j) => j.job_name === 'kube-state-metrics');
    (doc.scrape_configs[0] as { static_configs: { targets: string[] }[] }).static_configs = [{ targets: [`${TARGET_HOST}:${port}`] }];
  });
  const url = await victoriaMetrics(t, file);
  const series = await pollUntil('kube_pod_info in VictoriaMetrics', SCRAPED_DEADLINE_MS, async () => {
    const found = await query(url, '{__name__=~"kube_.*"}');
    return found.length > 0 ? found : undefined;
  });
  // Its own labels win (honor_labels): the object's namespace and the exporter's instance; other namespaces are not stored.
  assert.deepEqual(series, [{ __name__: 'kube_pod_info', instance: 'ksm-pod', job: 'kube-state-metrics', namespace: ns, pod: 'mta-0' }]);
  assert.ok(hits.length > 0);
});
