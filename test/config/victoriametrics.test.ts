import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { KUBERNETES_SCRAPE_JOB, SCRAPE_CONFIG_FILE, scrapeConfig, scrapeTargetsFile, type ScrapeMode, type ScrapeOptions, type ScrapeTargetGroup } from '../../src/config/index.ts';
import { testSpec } from '../support/spec.ts';

const spec = testSpec('kubernetes: { namespace: mail-prod }');

interface Relabel {
  source_labels?: string[];
  action?: string;
  regex?: string;
  replacement?: string;
  target_label?: string;
}
interface Job {
  job_name: string;
  kubernetes_sd_configs?: { role: string; namespaces: { names: string[] } }[];
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  file_sd_configs?: { files: string[] }[];
  honor_labels?: boolean;
  relabel_configs?: Relabel[];
}
interface Config {
  global: { scrape_interval: string; scrape_timeout: string };
  scrape_configs: Job[];
}

function render(mode: ScrapeMode, opts?: ScrapeOptions): Config {
  return parse(scrapeConfig(spec, mode, opts)[SCRAPE_CONFIG_FILE] ?? '') as Config;
}

/** Applies `replace` rules the way Prometheus does (anchored regex, `$n` groups, `;` separator). */
function relabel(rules: Relabel[], labels: Record<string, string>): Record<string, string> | undefined {
  const out = { ...labels };
  for (const rule of rules) {
    const value = (rule.source_labels ?? []).map((l) => out[l] ?? '').join(';');
    const m = new RegExp(`^(?:${rule.regex ?? '(.*)'})$`).exec(value);
    const action = rule.action ?? 'replace';
    if (action === 'keep' && !m) return undefined;
    if (action === 'drop' && m) return undefined;
    if (action === 'replace' && m) {
      const result = (rule.replacement ?? '$1').replace(/\$(\d+)/g, (_, n: string) => m[Number(n)] ?? '');
      if (result === '') delete out[rule.target_label as string];
      else out[rule.target_label as string] = result;
    }
  }
  return Object.fromEntries(Object.entries(out).filter(([k]) => !k.startsWith('__meta_')));
}

const pod = (ip: string, annotations: Record<string, string>, phase = 'Running') => ({
  __address__: ip.includes(':') ? `[${ip}]` : ip,
  __metrics_path__: '/metrics',
  __meta_kubernetes_namespace: 'mail-prod',
  __meta_kubernetes_pod_name: 'mta-0',
  __meta_kubernetes_pod_ip: ip,
  __meta_kubernetes_pod_phase: phase,
  __meta_kubernetes_pod_node_name: 'node-a',
  __meta_kubernetes_pod_label_app_kubernetes_io_component: 'mta',
  ...Object.fromEntries(Object.entries(annotations).map(([k, v]) => [`__meta_kubernetes_pod_annotation_prometheus_io_${k}`, v])),
});

test('GIVEN kubernetes mode WHEN rendered THEN pods are discovered in the platform namespace only', () => {
  const [job] = render('kubernetes').scrape_configs;
  assert.equal(job?.job_name, KUBERNETES_SCRAPE_JOB);
  assert.deepEqual(job?.kubernetes_sd_configs, [{ role: 'pod', namespaces: { names: ['mail-prod'] } }]);
});

test('GIVEN an annotated running pod WHEN relabelled THEN it is scraped at its annotated port and path with role, instance, pod, namespace and node', () => {
  const rules = render('kubernetes').scrape_configs[0]?.relabel_configs ?? [];
  assert.deepEqual(relabel(rules, pod('10.244.1.7', { scrape: 'true', port: '9102', path: '/agent-metrics' })), {
    __address__: '10.244.1.7:9102',
    __metrics_path__: '/agent-metrics',
    namespace: 'mail-prod',
    pod: 'mta-0',
    instance: 'mta-0',
    role: 'mta',
    node: 'node-a',
  });
});

test('GIVEN an IPv6 pod WHEN relabelled THEN its address is bracketed', () => {
  const rules = render('kubernetes').scrape_configs[0]?.relabel_configs ?? [];
  assert.equal(relabel(rules, pod('fd00:10::1:7', { scrape: 'true', port: '9102' }))?.__address__, '[fd00:10::1:7]:9102');
});

test('GIVEN pods not asking to be scraped or not running WHEN relabelled THEN they are dropped', () => {
  const rules = render('kubernetes').scrape_configs[0]?.relabel_configs ?? [];
  assert.equal(relabel(rules, pod('10.244.1.7', { port: '9102' })), undefined);
  assert.equal(relabel(rules, pod('10.244.1.7', { scrape: 'false', port: '9102' })), undefined);
  assert.equal(relabel(rules, pod('10.244.1.7', { scrape: 'true', port: '9102' }, 'Pending')), undefined);
  assert.equal(relabel(rules, pod('10.244.1.7', { scrape: 'true', port: '9102' }, 'Succeeded')), undefined);
});

test('GIVEN static mode WHEN rendered THEN each job lists its targets with its labels sorted', () => {
  const config = render({ static: [{ job: 'mta', targets: ['127.80.0.5:9102', '127.80.0.6:9102'], labels: { tier: 'edge', role: 'mta' } }, { job: 'proxy', targets: ['[::1]:9102'] }] });
  assert.deepEqual(config.scrape_configs, [
    { job_name: 'mta', static_configs: [{ targets: ['127.80.0.5:9102', '127.80.0.6:9102'], labels: { role: 'mta', tier: 'edge' } }] },
    { job_name: 'proxy', static_configs: [{ targets: ['[::1]:9102'] }] },
  ]);
});

test('GIVEN intervals WHEN rendered THEN the timeout never exceeds the interval', () => {
  assert.deepEqual(render('kubernetes').global, { scrape_interval: '30s', scrape_timeout: '10s' });
  assert.deepEqual(render('kubernetes', { intervalSeconds: 1 }).global, { scrape_interval: '1s', scrape_timeout: '1s' });
});

test('GIVEN bad static jobs or intervals WHEN rendered THEN they are refused', () => {
  const bad: [ScrapeMode, ScrapeOptions?][] = [
    [{ static: [{ job: 'mta', targets: [] }, { job: 'mta', targets: [] }] }],
    [{ static: [{ job: '', targets: [] }] }],
    [{ static: [{ job: 'mta', targets: ['127.80.0.5'] }] }],
    [{ static: [{ job: 'mta', targets: ['127.80.0.5:9102\n- x'] }] }],
    [{ static: [{ job: 'mta', targets: [], labels: { __address__: 'x' } }] }],
    [{ static: [{ job: 'mta', targets: [], labels: { 'app.kubernetes.io/component': 'x' } }] }],
    [{ files: [{ job: 'mailfleet', files: [] }] }],
    [{ files: [{ job: 'mailfleet', files: ['targets.json'] }] }],
    [{ files: [{ job: 'mailfleet', files: ['/state/monitoring/*.json'] }] }],
    [{ files: [{ job: 'mailfleet', files: ['/state/targets.json\n- x'] }] }],
    [{ files: [{ job: 'a', files: ['/a.json'] }, { job: 'a', files: ['/b.json'] }] }],
    ['kubernetes', { intervalSeconds: 0 }],
    ['kubernetes', { intervalSeconds: 2.5 }],
  ];
  for (const [mode, opts] of bad) assert.throws(() => scrapeConfig(spec, mode, opts), RangeError, JSON.stringify(mode));
});

test('GIVEN the same input WHEN rendered twice THEN the bytes are the same', () => {
  assert.equal(scrapeConfig(spec, 'kubernetes')[SCRAPE_CONFIG_FILE], scrapeConfig(spec, 'kubernetes')[SCRAPE_CONFIG_FILE]);
  const mode = { static: [{ job: 'mta', targets: ['127.80.0.5:9102'], labels: { b: '2', a: '1' } }] };
  assert.equal(scrapeConfig(spec, mode)[SCRAPE_CONFIG_FILE], scrapeConfig(spec, { static: [{ ...mode.static[0]!, labels: { a: '1', b: '2' } }] })[SCRAPE_CONFIG_FILE]);
});

test('GIVEN file mode WHEN rendered THEN each job reads its targets files (re-read by VictoriaMetrics, no restart)', () => {
  const config = render({ files: [{ job: 'mailfleet', files: ['/var/lib/mailfleet/monitoring/targets.json'] }] }, { intervalSeconds: 5 });
  assert.deepEqual(config.scrape_configs, [{ job_name: 'mailfleet', file_sd_configs: [{ files: ['/var/lib/mailfleet/monitoring/targets.json'] }] }]);
  assert.deepEqual(config.global, { scrape_interval: '5s', scrape_timeout: '5s' });
});

test('GIVEN a file job whose targets label themselves WHEN rendered THEN their labels are honoured', () => {
  const config = render({ files: [{ job: 'mailfleet', files: ['/s/targets.json'], honorLabels: true }] });
  assert.deepEqual(config.scrape_configs, [{ job_name: 'mailfleet', honor_labels: true, file_sd_configs: [{ files: ['/s/targets.json'] }] }]);
});

test('GIVEN target groups WHEN a targets file is written THEN it is JSON with one group per instance, labels and groups sorted', () => {
  const text = scrapeTargetsFile([
    { targets: ['127.80.0.9:8081'], labels: { role: 'mta', instance: 'mta-0' } },
    { targets: ['127.80.0.2:8081'], labels: { instance: 'controller', role: 'controller' } },
  ]);
  assert.deepEqual(JSON.parse(text), [
    { targets: ['127.80.0.2:8081'], labels: { instance: 'controller', role: 'controller' } },
    { targets: ['127.80.0.9:8081'], labels: { instance: 'mta-0', role: 'mta' } },
  ]);
  assert.equal(text.endsWith('\n'), true);
  assert.equal(scrapeTargetsFile([]), '[]\n');
});

test('GIVEN the same groups in another order WHEN written THEN the bytes are the same (a rewrite only when something moved)', () => {
  const a = { targets: ['127.80.0.9:8081'], labels: { role: 'mta', instance: 'mta-0' } };
  const b = { targets: ['127.80.0.3:8081', '127.80.0.1:8081'], labels: { role: 'mailbox', instance: 'mailbox-0' } };
  assert.equal(scrapeTargetsFile([a, b]), scrapeTargetsFile([b, { ...a, labels: { instance: 'mta-0', role: 'mta' } }]));
});

test('GIVEN hostile target groups WHEN written THEN they are refused, and label values are escaped, never interpreted', () => {
  const bad: ScrapeTargetGroup[] = [
    { targets: ['127.80.0.9'], labels: {} },
    { targets: ['127.80.0.9:8081\n'], labels: {} },
    { targets: ['\u0000\xff:1'], labels: {} },
    { targets: ['127.80.0.9:8081'], labels: { __address__: '127.0.0.1:22' } },
    { targets: ['127.80.0.9:8081'], labels: { 'bad-name': 'x' } },
  ];
  for (const group of bad) assert.throws(() => scrapeTargetsFile([group]), RangeError, JSON.stringify(group));
  const noise = 'a"b\\c\n\u0000\ud800' + 'x'.repeat(10_000);
  const [group] = JSON.parse(scrapeTargetsFile([{ targets: ['127.80.0.9:8081'], labels: { instance: noise } }])) as { labels: Record<string, string> }[];
  assert.equal(group?.labels.instance?.length, noise.length);
});
