/**
 * promtail's config. Debian has no promtail, so the YAML is parsed back, and its relabelling is
 * applied to a pod's discovery labels the way promtail applies it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { PROMTAIL_CONFIG_FILE, promtailConfig, type PromtailOptions } from '../../src/config/index.ts';
import { testSpec } from '../support/spec.ts';

const spec = testSpec('kubernetes: { namespace: mail-prod, clusterDomain: k8s.example.internal }');

interface Relabel {
  source_labels: string[];
  separator?: string;
  target_label: string;
  replacement?: string;
}
interface Config {
  positions: { filename: string };
  clients: { url: string }[];
  scrape_configs: { job_name: string; kubernetes_sd_configs: unknown[]; pipeline_stages: unknown[]; relabel_configs: Relabel[] }[];
}

function render(opts?: PromtailOptions): Config {
  return parse(promtailConfig(spec, opts)[PROMTAIL_CONFIG_FILE] ?? '') as Config;
}

/** `replace` rules with the default regex `(.*)`, as every rule here is. */
function relabel(rules: Relabel[], labels: Record<string, string>): Record<string, string> {
  const out = { ...labels };
  for (const rule of rules) {
    const value = rule.source_labels.map((l) => out[l] ?? '').join(rule.separator ?? ';');
    out[rule.target_label] = (rule.replacement ?? '$1').replace('$1', value);
  }
  return Object.fromEntries(Object.entries(out).filter(([k]) => !k.startsWith('__meta_')));
}

test('GIVEN a spec WHEN rendered THEN logs are pushed to the Loki Service of the namespace', () => {
  assert.deepEqual(render().clients, [{ url: 'http://loki.mail-prod.svc.k8s.example.internal:3100/loki/api/v1/push' }]);
  assert.deepEqual(render({ lokiService: 'logs' }).clients, [{ url: 'http://logs.mail-prod.svc.k8s.example.internal:3100/loki/api/v1/push' }]);
  assert.throws(() => promtailConfig(spec, { lokiService: 'Loki.svc' }), RangeError);
});

test('GIVEN a spec WHEN rendered THEN pods of the namespace are discovered and their CRI log lines unwrapped', () => {
  const [job] = render().scrape_configs;
  assert.deepEqual(job?.kubernetes_sd_configs, [{ role: 'pod', namespaces: { names: ['mail-prod'] } }]);
  assert.deepEqual(job?.pipeline_stages, [{ cri: {} }]);
});

test('GIVEN a discovered container WHEN relabelled THEN it has role, instance, namespace and container labels and tails its own log files on its own node', () => {
  const labels = relabel(render().scrape_configs[0]?.relabel_configs ?? [], {
    __meta_kubernetes_namespace: 'mail-prod',
    __meta_kubernetes_pod_name: 'mta-0',
    __meta_kubernetes_pod_uid: '6d1c1c2e-0000-4000-8000-000000000001',
    __meta_kubernetes_pod_container_name: 'postfix',
    __meta_kubernetes_pod_node_name: 'node-a',
    __meta_kubernetes_pod_label_app_kubernetes_io_component: 'mta',
  });
  assert.deepEqual(labels, {
    __host__: 'node-a',
    namespace: 'mail-prod',
    role: 'mta',
    instance: 'mta-0',
    container: 'postfix',
    __path__: '/var/log/pods/*6d1c1c2e-0000-4000-8000-000000000001/postfix/*.log',
  });
});

test('GIVEN a spec WHEN rendered THEN read positions live on the node', () => {
  assert.equal(render().positions.filename, '/run/promtail/positions.yaml');
});

test('GIVEN the same input WHEN rendered twice THEN the bytes are the same', () => {
  assert.equal(promtailConfig(spec)[PROMTAIL_CONFIG_FILE], promtailConfig(spec)[PROMTAIL_CONFIG_FILE]);
});
