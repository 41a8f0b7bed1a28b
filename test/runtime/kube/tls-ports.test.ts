/**
 * The implicit-TLS ports in the Kubernetes output: 465 on msa, 993 and 995 on proxy, as container ports,
 * Service ports, PROXY-protocol ports behind a load balancer, and in the NetworkPolicies beside 587, 143, 110.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { parseSpec, validateSpec } from '../../../src/spec/index.ts';

const EXAMPLE = readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8');
const example = parseSpec(EXAMPLE);
const LB_RANGE = '192.0.2.0/28';

/** The example behind a load balancer, with its PROXY-protocol ports moved off the defaults. */
function behindLoadBalancer(): KubeObject[] {
  const doc = parse(EXAMPLE) as { spec: Record<string, unknown> };
  doc.spec.loadBalancer = { sourceRanges: [LB_RANGE], ports: { submissions: 20465, imaps: 20993, pop3s: 20995 } };
  return renderPlatform(validateSpec(doc));
}

interface Port { name: string; containerPort?: number; port?: number; targetPort?: string }
interface Rule { from: { ipBlock?: { cidr: string } }[]; ports: { port: string | number }[] }

const find = (objects: KubeObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is rendered`);
  return o;
};
const containerPorts = (objects: KubeObject[], w: string) =>
  (find(objects, 'StatefulSet', w).spec as { template: { spec: { containers: { ports: Port[] }[] } } }).template.spec.containers[0]!.ports;
const servicePorts = (objects: KubeObject[], name: string) => (find(objects, 'Service', name).spec as { ports: Port[] }).ports;
const byName = (ports: Port[], value: (p: Port) => number | string | undefined) => Object.fromEntries(ports.map((p) => [p.name, value(p)]));
const ingress = (objects: KubeObject[], w: string) => (find(objects, 'NetworkPolicy', `demo-${w}`).spec as { ingress: Rule[] }).ingress;
/** The ports of the one ingress rule that admits `port` from any address (the prober has a rule of its own). */
const ruleOf = (rules: Rule[], port: string) => {
  const found = rules.filter((r) => r.ports.some((p) => p.port === port) && r.from.some((f) => f.ipBlock !== undefined));
  assert.equal(found.length, 1, `one rule admits ${port} by address`);
  return found[0]!;
};

test('GIVEN the example WHEN rendered THEN msa listens on 465 and proxy on 993 and 995 beside 587, 143 and 110', () => {
  const objects = renderPlatform(example);

  assert.deepEqual(byName(containerPorts(objects, 'msa'), (p) => p.containerPort), { submission: 587, submissions: 465, http: 8081 });
  const proxy = byName(containerPorts(objects, 'proxy'), (p) => p.containerPort);
  assert.deepEqual([proxy.imap, proxy.imaps, proxy.pop3, proxy.pop3s], [143, 993, 110, 995]);
  assert.deepEqual(byName(containerPorts(objects, 'mta'), (p) => p.containerPort), { smtp: 25, http: 8081 }, 'the mta has STARTTLS on 25 only');
});

test('GIVEN the example WHEN rendered THEN the headless and load balancer Services carry 465, 993 and 995 to the named container ports', () => {
  const objects = renderPlatform(example);

  assert.deepEqual(byName(servicePorts(objects, 'demo-submission'), (p) => `${p.port}->${p.targetPort}`), { submission: '587->submission', submissions: '465->submissions' });
  assert.deepEqual(byName(servicePorts(objects, 'demo-access'), (p) => `${p.port}->${p.targetPort}`), {
    imap: '143->imap', imaps: '993->imaps', pop3: '110->pop3', pop3s: '995->pop3s',
  });
  assert.equal(byName(servicePorts(objects, 'msa'), (p) => p.port).submissions, 465);
  assert.deepEqual([byName(servicePorts(objects, 'proxy'), (p) => p.port).imaps, byName(servicePorts(objects, 'proxy'), (p) => p.port).pop3s], [993, 995]);
});

test('GIVEN the example WHEN rendered THEN anybody may reach 465, 993 and 995 by the same rules as 587, 143 and 110', () => {
  const objects = renderPlatform(example);

  assert.deepEqual(ruleOf(ingress(objects, 'msa'), 'submissions'), ruleOf(ingress(objects, 'msa'), 'submission'));
  const imap = ruleOf(ingress(objects, 'proxy'), 'imap');
  assert.deepEqual(ruleOf(ingress(objects, 'proxy'), 'imaps'), imap);
  assert.deepEqual(ruleOf(ingress(objects, 'proxy'), 'pop3s'), imap);
  assert.ok(imap.from.some((p) => p.ipBlock?.cidr === '0.0.0.0/0'));
});

test('GIVEN a load balancer range WHEN rendered THEN 465, 993 and 995 get PROXY-protocol ports from spec.loadBalancer.ports, reachable from that range only', () => {
  const objects = behindLoadBalancer();

  assert.equal(byName(containerPorts(objects, 'msa'), (p) => p.containerPort)['submissions-lb'], 20465);
  const proxy = byName(containerPorts(objects, 'proxy'), (p) => p.containerPort);
  assert.deepEqual([proxy['imaps-lb'], proxy['pop3s-lb']], [20993, 20995]);
  assert.equal(find(objects, 'Service', 'demo-submission').metadata.annotations?.['mailfleet.io/proxy-protocol-ports'], 'submission-lb,submissions-lb');
  assert.equal(find(objects, 'Service', 'demo-access').metadata.annotations?.['mailfleet.io/proxy-protocol-ports'], 'imap-lb,imaps-lb,pop3-lb,pop3s-lb');
  for (const [w, port] of [['msa', 'submissions-lb'], ['proxy', 'imaps-lb'], ['proxy', 'pop3s-lb']] as const) {
    assert.deepEqual(ruleOf(ingress(objects, w), port).from, [{ ipBlock: { cidr: LB_RANGE } }], `${w} ${port}`);
  }
});
