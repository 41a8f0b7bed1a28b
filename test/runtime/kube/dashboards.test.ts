/**
 * The dashboards in the Kubernetes output: the `<platform>-grafana-dashboards` ConfigMap carries every
 * one of them, byte for byte, for a Grafana sidecar, within the 1 MiB a ConfigMap may hold; and the
 * agent, which every pod runs, never loads the Grafana SDK that builds them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { dashboardFiles } from '../../../src/dashboards/index.ts';
import { renderPlatform } from '../../../src/runtime/kube/index.ts';
import { loadSpecFile } from '../../../src/spec/index.ts';

const root = new URL('../../../', import.meta.url);
const example = loadSpecFile(new URL('examples/mailfleet.yaml', root).pathname);
/** What the API server accepts in a ConfigMap's data (keys and values together). */
const CONFIGMAP_LIMIT_BYTES = 1024 * 1024;

function dashboardsConfigMap() {
  const objects = renderPlatform(example);
  const found = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name === `${example.metadata.name}-grafana-dashboards`);
  assert.equal(found.length, 1);
  return found[0] as { metadata: { labels: Record<string, string> }; data?: Record<string, string> };
}

test('GIVEN a platform WHEN rendered THEN its Grafana dashboards ConfigMap carries the five dashboards as generated, labelled for the sidecar', () => {
  const cm = dashboardsConfigMap();
  assert.equal(cm.metadata.labels.grafana_dashboard, '1');
  assert.deepEqual(cm.data, dashboardFiles());
  assert.equal(Object.keys(cm.data ?? {}).length, 5);
});

test('GIVEN the dashboards ConfigMap WHEN measured THEN its data stays under the 1 MiB a ConfigMap may hold', (t) => {
  const data = dashboardsConfigMap().data ?? {};
  const bytes = Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  t.diagnostic(`dashboards ConfigMap data: ${bytes} bytes (${((100 * bytes) / CONFIGMAP_LIMIT_BYTES).toFixed(1)}% of the limit)`);
  assert.ok(bytes > 0 && bytes < CONFIGMAP_LIMIT_BYTES, `${bytes} bytes`);
});

/** Bare module names (packages) reachable from `entry` through relative imports, static and dynamic. */
function packagesReachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const stack = [entry];
  for (let file = stack.pop(); file !== undefined; file = stack.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (fileName.startsWith('.')) stack.push(resolve(dirname(file), fileName));
      else packages.add(fileName);
    }
  }
  return packages;
}

test('GIVEN the agent command WHEN its imports are followed THEN the Grafana SDK is not among them, while the renderer\'s are', () => {
  const src = fileURLToPath(new URL('src/', root));
  const grafana = (set: Set<string>) => [...set].filter((p) => p.startsWith('@grafana/'));
  assert.deepEqual(grafana(packagesReachable(resolve(src, 'cli/agent.ts'))), []);
  // The walk finds the SDK where it is used: the check can fail.
  assert.ok(grafana(packagesReachable(resolve(src, 'cli/render.ts'))).length > 0);
});
