/**
 * The NetworkPolicies of the drain path: a terminating mailbox asks the directors (the proxies'
 * doveadm HTTP API) whether users are still routed to it, and the operator's backend sync, in the
 * operator's own namespace, writes to the same API.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderPlatform, urlPeer, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { parseSpec } from '../../../src/spec/index.ts';

const example = parseSpec(readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8'));

interface Peer { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: { matchLabels: Record<string, string> }; ipBlock?: unknown }
interface Rule { from?: Peer[]; to?: Peer[]; ports: { port: string | number }[] }
interface PolicySpec { ingress: Rule[]; egress: Rule[] }

const policy = (objects: KubeObject[], component: string): PolicySpec => {
  const o = objects.find((x) => x.kind === 'NetworkPolicy' && x.metadata.name === `demo-${component}`);
  assert.ok(o, `NetworkPolicy demo-${component} is rendered`);
  return o.spec as PolicySpec;
};
const component = (p: Peer) => p.podSelector?.matchLabels['app.kubernetes.io/component'];
const onPort = (rules: Rule[], port: string) => rules.filter((r) => r.ports.some((p) => p.port === port));

test('GIVEN the example WHEN rendered THEN a mailbox may reach the proxies\' doveadm port, where its drain asks the directors', () => {
  const objects = renderPlatform(example);

  const egress = onPort(policy(objects, 'mailbox').egress, 'doveadm').flatMap((r) => r.to ?? []);
  const ingress = onPort(policy(objects, 'proxy').ingress, 'doveadm').flatMap((r) => r.from ?? []);

  assert.deepEqual(egress.map(component), ['proxy'], 'mailbox → proxy:doveadm');
  assert.ok(ingress.some((p) => component(p) === 'mailbox' && !p.namespaceSelector), 'proxy admits the mailbox pods on doveadm');
  assert.ok(ingress.some((p) => component(p) === 'controller'), 'and still the rendered controller');
});

test('GIVEN the render without an operator WHEN the proxy policy is read THEN nothing from another namespace reaches doveadm', () => {
  const ingress = onPort(policy(renderPlatform(example), 'proxy').ingress, 'doveadm').flatMap((r) => r.from ?? []);

  assert.ok(ingress.every((p) => p.namespaceSelector === undefined && p.ipBlock === undefined));
});

test('GIVEN the operator\'s namespace WHEN the operator renders a platform THEN the proxy admits the operator\'s pods from that namespace on doveadm only', () => {
  const objects = renderPlatform(example, { operatorNamespace: 'mailfleet-system' });

  const proxy = policy(objects, 'proxy');
  const fromOperator = proxy.ingress.filter((r) => (r.from ?? []).some((p) => p.namespaceSelector?.matchLabels['kubernetes.io/metadata.name'] === 'mailfleet-system'));

  assert.equal(fromOperator.length, 1);
  assert.deepEqual(fromOperator[0]!.ports.map((p) => p.port), ['doveadm']);
  const peer = fromOperator[0]!.from!.find((p) => p.namespaceSelector)!;
  assert.equal(component(peer), 'operator', 'only the operator\'s pods of that namespace, not every pod there');
});

test('GIVEN a URL WHEN its egress peer is chosen THEN a Service of the cluster is its namespace, anything else anybody', () => {
  assert.deepEqual(urlPeer(new URL('http://s3.storage.svc:9000')), { namespace: 'storage' });
  assert.deepEqual(urlPeer(new URL('https://alert-receiver.monitoring.svc.cluster.local/alerts')), { namespace: 'monitoring' });
  assert.deepEqual(urlPeer(new URL('https://s3.eu-central-1.amazonaws.com')), { world: true });
  assert.deepEqual(urlPeer(new URL('http://10.1.2.3:9000')), { world: true });
  assert.deepEqual(urlPeer(new URL('http://svc.example.net')), { world: true });
});

test('GIVEN the cluster\'s exporters in the spec WHEN rendered THEN VictoriaMetrics may reach kube-state-metrics in its namespace and node exporters there and on the node networks, each on its port', () => {
  const doc = parseSpec(readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8').replace(
    '\n  kubernetes:\n',
    '\n  kubernetes:\n    clusterMetrics: { kubeStateMetrics: "kube-state-metrics.kube-system.svc:8080", nodeExporter: "node-exporter.monitoring.svc.cluster.local:9100" }\n',
  ));
  assert.equal(doc.spec.kubernetes.clusterMetrics.kubeStateMetrics, 'kube-state-metrics.kube-system.svc:8080', 'the spec took the setting');
  const policy = renderPlatform(doc).find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'demo-victoriametrics');
  const egress = (policy?.spec as { egress: { to: object[]; ports: { port: number | string }[] }[] }).egress;
  const to = (port: number) => egress.filter((e) => e.ports.some((p) => p.port === port)).flatMap((e) => e.to);
  assert.deepEqual(to(8080), [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }]);
  assert.deepEqual(to(9100), [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }, ...doc.spec.kubernetes.nodeNetworks.map((cidr) => ({ ipBlock: { cidr } }))]);
});
