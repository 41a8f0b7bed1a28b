import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { KUBERNETES_SCRAPE_JOB, SCRAPE_CONFIG_FILE, scrapeConfig, type ScrapeMode, type ScrapeOptions } from '../../src/config/index.ts';
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
