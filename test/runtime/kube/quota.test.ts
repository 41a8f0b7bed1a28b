/** Quota at RCPT in the Kubernetes output: the Service of ready proxies the mta asks, its ports and who may reach them. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { validateSpec, type MailPlatform } from '../../../src/spec/index.ts';

const EXAMPLE = readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8');

function variant(change: (spec: Record<string, unknown>) => void = () => {}): MailPlatform {
  const doc = parse(EXAMPLE) as { spec: Record<string, unknown> };
  change(doc.spec);
  return validateSpec(doc);
}

interface Peer { podSelector?: { matchLabels: Record<string, string> } }
interface Rule { from?: Peer[]; to?: Peer[]; ports: { port: string | number }[] }

const find = (objects: KubeObject[], kind: string, name: string): KubeObject | undefined => objects.find((x) => x.kind === kind && x.metadata.name === name);

/** The components a role's NetworkPolicy lets in (`ingress`) or out (`egress`) on the quota-status port. */
function quotaPeers(objects: KubeObject[], role: string, direction: 'ingress' | 'egress'): string[] {
  const policy = find(objects, 'NetworkPolicy', `demo-${role}`)?.spec as Record<'ingress' | 'egress', Rule[]>;
  return policy[direction]
    .filter((r) => r.ports.some((p) => p.port === 'quota-status'))
    .flatMap((r) => (r.from ?? r.to ?? []).map((p) => p.podSelector?.matchLabels['app.kubernetes.io/component'] ?? '?'));
}

test('GIVEN the example WHEN rendered THEN the mta asks proxy-quota, a ClusterIP Service of the ready proxies on the quota-status port', () => {
  const objects = renderPlatform(variant());
  const service = find(objects, 'Service', 'proxy-quota')?.spec as { type: string; publishNotReadyAddresses: boolean; ports: object[]; selector: Record<string, string> };
  assert.equal(service.type, 'ClusterIP');
  assert.equal(service.publishNotReadyAddresses, false);
  assert.deepEqual(service.ports, [{ name: 'quota-status', port: 12340, targetPort: 'quota-status', protocol: 'TCP' }]);
  assert.equal(service.selector['app.kubernetes.io/component'], 'proxy');
  const mainCf = (find(objects, 'ConfigMap', 'demo-mta-config') as KubeObject & { data: Record<string, string> }).data['main.cf'] ?? '';
  assert.match(mainCf, /check_policy_service \{ inet:proxy-quota\.mailfleet\.svc\.cluster\.local:12340, timeout=2s, default_action=DUNNO, try_limit=1 \}$/m);
});

test('GIVEN the example WHEN rendered THEN only the mta reaches the proxies\' relay and only the proxies reach the backends\' quota-status', () => {
  const objects = renderPlatform(variant());
  assert.deepEqual(quotaPeers(objects, 'mta', 'egress'), ['proxy']);
  assert.deepEqual(quotaPeers(objects, 'proxy', 'ingress'), ['mta']);
  assert.deepEqual(quotaPeers(objects, 'proxy', 'egress'), ['mailbox']);
  assert.deepEqual(quotaPeers(objects, 'mailbox', 'ingress'), ['proxy']);
  assert.deepEqual(quotaPeers(objects, 'msa', 'egress'), []);
});

test('GIVEN the check off WHEN rendered THEN no Service, port or flow of it, and the mta does not ask', () => {
  const objects = renderPlatform(variant((spec) => {
    spec.quota = { checkAtRcpt: false };
  }));
  assert.equal(find(objects, 'Service', 'proxy-quota'), undefined);
  for (const role of ['mta', 'proxy', 'mailbox']) for (const d of ['ingress', 'egress'] as const) assert.deepEqual(quotaPeers(objects, role, d), [], `${role} ${d}`);
  // The dashboards (whose panels name the relay whatever the spec) aside.
  assert.doesNotMatch(JSON.stringify(objects.filter((o) => !o.metadata.name.endsWith('grafana-dashboards'))), /quota-status|quota_status|proxy-quota/);
});
