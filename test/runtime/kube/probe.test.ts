/** The prober in the Kubernetes output: its Deployment, what it may reach and who may reach it, its secret and CA. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { parseSpec, validateSpec, type MailPlatform } from '../../../src/spec/index.ts';

const EXAMPLE = readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8');

function variant(change: (spec: Record<string, unknown>) => void): MailPlatform {
  const doc = parse(EXAMPLE) as { spec: Record<string, unknown> };
  change(doc.spec);
  return validateSpec(doc);
}

interface Container { command: string[]; args: string[]; resources: object; securityContext: Record<string, unknown>; volumeMounts: { name: string; mountPath: string }[]; livenessProbe: { httpGet: { path: string } }; readinessProbe: { httpGet: { path: string } } }
interface Source { secretName?: string; name?: string; items: { key: string }[] }
interface PodSpec { automountServiceAccountToken: boolean; serviceAccountName: string; securityContext: Record<string, unknown>; containers: Container[]; volumes: { name: string; secret?: Source; configMap?: Source }[] }
interface Rule { from?: { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: object }[]; to?: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: string | number }[] }

const find = (objects: KubeObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is rendered`);
  return o;
};
const podOf = (objects: KubeObject[]) => {
  const d = find(objects, 'Deployment', 'probe').spec as { replicas: number; template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: PodSpec } };
  return { replicas: d.replicas, meta: d.template.metadata, spec: d.template.spec, container: d.template.spec.containers[0]! };
};
const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];
const component = (p: { podSelector?: { matchLabels: Record<string, string> } }) => p.podSelector?.matchLabels['app.kubernetes.io/component'];

test('GIVEN the example WHEN rendered THEN one prober dials the Services users reach, on their TLS ports, as the probe account', () => {
  const { replicas, container } = podOf(renderPlatform(parseSpec(EXAMPLE)));
  assert.equal(replicas, 1);
  assert.deepEqual(container.command, ['mailfleet', 'probe']);
  const { args } = container;
  assert.equal(flag(args, '--msa'), 'demo-submission.mailfleet.svc.cluster.local:465');
  assert.equal(flag(args, '--mta'), 'demo-mx.mailfleet.svc.cluster.local:25');
  assert.equal(flag(args, '--imap'), 'demo-access.mailfleet.svc.cluster.local:993');
  assert.equal(flag(args, '--pop3'), 'demo-access.mailfleet.svc.cluster.local:995');
  assert.equal(flag(args, '--account'), 'probe@example.com');
  assert.equal(flag(args, '--password-file'), '/etc/mailfleet/secrets/probe-password');
  assert.equal(flag(args, '--servername'), 'mail.example.com', 'the default certificate\'s name');
  assert.deepEqual([flag(args, '--interval'), flag(args, '--timeout'), flag(args, '--listen')], ['60', '30', '0.0.0.0:8081']);
  assert.ok(!args.includes('--ca-file'), 'no CA bundle named: the image\'s system store');
  assert.equal(container.livenessProbe.httpGet.path, '/livez');
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
});

test('GIVEN the example WHEN rendered THEN the prober runs unprivileged, mounts no token and only the probe password of the platform Secret', () => {
  const objects = renderPlatform(parseSpec(EXAMPLE));
  const { spec, container, meta } = podOf(objects);
  assert.equal(spec.automountServiceAccountToken, false);
  assert.equal((find(objects, 'ServiceAccount', spec.serviceAccountName) as KubeObject & { automountServiceAccountToken?: boolean }).automountServiceAccountToken, false);
  assert.equal(spec.securityContext.runAsNonRoot, true);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(container.securityContext.capabilities, { drop: ['ALL'] });
  const secret = spec.volumes.find((v) => v.secret)?.secret;
  assert.deepEqual([secret?.secretName, secret?.items?.map((i) => i.key)], ['demo-secrets', ['probe-password']]);
  assert.deepEqual(container.resources, { requests: { cpu: '25m', memory: '96Mi' }, limits: { cpu: '250m', memory: '192Mi' } });
  assert.equal(meta.annotations['prometheus.io/scrape'], 'true');
  assert.equal(meta.annotations['prometheus.io/port'], '8081');
  assert.equal(meta.labels['mailfleet.io/platform'], 'demo', 'the platform\'s DNS policy selects it');
});

test('GIVEN network policies WHEN rendered THEN the prober reaches only the probed ports, and only the scrapers reach it', () => {
  const objects = renderPlatform(parseSpec(EXAMPLE));
  const policy = find(objects, 'NetworkPolicy', 'demo-probe').spec as { egress: Rule[]; ingress: Rule[] };
  assert.deepEqual(policy.egress.map((r) => [r.to?.map(component), r.ports.map((p) => p.port)]), [[['msa'], ['submissions']], [['mta'], ['smtp']], [['proxy'], ['imaps', 'pop3s']]]);
  assert.equal(policy.ingress.length, 1);
  assert.deepEqual(policy.ingress[0]?.ports.map((p) => p.port), ['http']);
  assert.deepEqual(policy.ingress[0]?.from?.map((p) => component(p) ?? 'monitoring namespaces'), ['victoriametrics', 'monitoring namespaces']);
  for (const [w, ports] of [['msa', ['submissions']], ['mta', ['smtp']], ['proxy', ['imaps', 'pop3s']]] as const) {
    const rules = (find(objects, 'NetworkPolicy', `demo-${w}`).spec as { ingress: Rule[] }).ingress.filter((r) => r.from?.some((p) => component(p) === 'probe'));
    assert.deepEqual(rules.map((r) => r.ports.map((p) => p.port)), [ports], `${w} admits the prober where it probes`);
  }
});

test('GIVEN a CA bundle in a Secret or a ConfigMap WHEN rendered THEN that key is mounted and given to --ca-file', () => {
  for (const [bundle, source] of [[{ secret: 'mail-ca' }, 'secret'], [{ configMap: 'mail-ca', key: 'bundle.pem' }, 'configMap']] as const) {
    const { spec, container } = podOf(renderPlatform(variant((s) => (s.probe = { caBundle: bundle }))));
    const key = 'key' in bundle ? bundle.key : 'ca.crt';
    assert.equal(flag(container.args, '--ca-file'), `/etc/mailfleet/probe-ca/${key}`);
    const volume = spec.volumes.find((v) => v.name === 'ca')?.[source];
    assert.ok(volume, `${source} volume`);
    assert.equal(volume.secretName ?? volume.name, 'mail-ca');
    assert.deepEqual(volume.items.map((i) => i.key), [key]);
    assert.ok(container.volumeMounts.some((m) => m.name === 'ca' && m.mountPath === '/etc/mailfleet/probe-ca'));
  }
});

test('GIVEN only an mta to probe WHEN rendered THEN the prober probes the mta path alone and may not reach the msa', () => {
  const objects = renderPlatform(variant((s) => ((s.roles as Record<string, unknown>).msa = { replicas: 0 })));
  const { container } = podOf(objects);
  assert.ok(!container.args.includes('--msa'));
  assert.ok(container.args.includes('--mta'));
  const egress = (find(objects, 'NetworkPolicy', 'demo-probe').spec as { egress: Rule[] }).egress;
  assert.ok(egress.every((r) => r.to?.every((p) => component(p) !== 'msa')));
});

test('GIVEN the prober disabled WHEN rendered THEN neither it, its policy, its account\'s key in the ldap mount, nor an ingress rule for it is rendered', () => {
  const objects = renderPlatform(variant((s) => (s.probe = { enabled: false })));
  assert.ok(!objects.some((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'probe'));
  const ldap = find(objects, 'StatefulSet', 'ldap').spec as { template: { spec: PodSpec } };
  assert.ok(!JSON.stringify(ldap.template.spec.volumes).includes('probe-password'));
  assert.ok(!JSON.stringify(find(objects, 'NetworkPolicy', 'demo-proxy')).includes('"probe"'));
});
