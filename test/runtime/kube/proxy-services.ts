/**
 * The set-up of the tests of the Services the mta and msa pods reach the ready proxies through (`proxy-lmtp`,
 * `proxy-auth`): the full spec rendered, a Service's spec by name, a Postfix role's main.cf from its ConfigMap.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { parseSpec } from '../../../src/spec/index.ts';

export const full = parseSpec(readFileSync(new URL('../../../test/golden/full-spec.yaml', import.meta.url), 'utf8'));
const objects = renderPlatform(full);
export const namespace = full.spec.kubernetes.namespace;

export interface ServiceSpec { type?: string; clusterIP?: string; publishNotReadyAddresses?: boolean; selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] }

export function service(name: string): ServiceSpec {
  const o = objects.find((x) => x.kind === 'Service' && x.metadata.name === name);
  assert.ok(o, `Service ${name} is rendered`);
  return o.spec as ServiceSpec;
}

export function mainCf(component: 'mta' | 'msa', file = 'main.cf'): string {
  const cm = objects.find((o: KubeObject) => o.kind === 'ConfigMap' && o.metadata.name === `${full.metadata.name}-${component}-config`);
  return (cm?.data as Record<string, string> | undefined)?.[file] ?? '';
}
