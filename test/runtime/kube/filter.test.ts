/** The filter (`as`, rspamd) in the Kubernetes output: its Deployment, Service, config, who may reach it, the milter lines. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { generateSecret, parseSpec, validateSpec, type MailPlatform } from '../../../src/spec/index.ts';

const EXAMPLE = readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8');

function variant(change: (spec: Record<string, unknown>) => void): MailPlatform {
  const doc = parse(EXAMPLE) as { spec: Record<string, unknown> };
  change(doc.spec);
  return validateSpec(doc);
}

interface Mount { name: string; mountPath: string; readOnly?: boolean }
interface Container { args: string[]; ports: { name: string; containerPort: number }[]; volumeMounts: Mount[]; readinessProbe: { httpGet: { path: string } }; startupProbe: { periodSeconds: number; failureThreshold: number }; resources: { requests: Record<string, string>; limits: Record<string, string> } }
interface Volume { name: string; secret?: { secretName: string; optional?: boolean; items?: { key: string }[] }; configMap?: { name: string }; emptyDir?: object }
interface PodSpec { securityContext: { fsGroup?: number }; automountServiceAccountToken: boolean; containers: Container[]; volumes: Volume[] }
interface Peer { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: object }
interface Rule { from?: Peer[]; to?: Peer[]; ports: { port: string | number; protocol?: string }[] }

const find = (objects: KubeObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is rendered`);
  return o;
};
const component = (p: Peer) => p.podSelector?.matchLabels['app.kubernetes.io/component'];
const configMapFile = (objects: KubeObject[], name: string, file: string) => ((find(objects, 'ConfigMap', name) as KubeObject & { data: Record<string, string> }).data[file] ?? '');
const policy = (objects: KubeObject[], w: string) => find(objects, 'NetworkPolicy', `demo-${w}`).spec as { ingress: Rule[]; egress: Rule[] };
/** [peers, ports] of each rule, scrapers' namespaces named as such. */
const rules = (list: Rule[], key: 'from' | 'to') => list.map((r) => [r[key]?.map((p) => component(p) ?? 'monitoring namespaces'), r.ports.map((p) => p.port)]);

test('GIVEN the example WHEN rendered THEN as is a Deployment of spec.roles.as.replicas rspamd pods behind the ClusterIP Service "as", with a disruption budget', () => {
  const objects = renderPlatform(parseSpec(EXAMPLE));
  const d = find(objects, 'Deployment', 'as').spec as { replicas: number; template: { spec: PodSpec } };
  assert.equal(d.replicas, 2);
  const c = d.template.spec.containers[0]!;
  assert.deepEqual(c.args.slice(0, 3), ['--pod', '--role', 'as']);
  assert.deepEqual(c.ports.map((p) => [p.name, p.containerPort]), [['milter', 11332], ['controller', 11334], ['http', 8081]]);
  assert.equal(c.readinessProbe.httpGet.path, '/readyz', 'ready = rspamd answers (the agent\'s check)');
  assert.ok(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold >= 60, 'the cold start (hyperscan) fits the startup budget many times');
  assert.equal(c.resources.limits.memory, '1Gi');
  const svc = find(objects, 'Service', 'as').spec as { type: string; ports: { name: string; port: number }[] };
  assert.equal(svc.type, 'ClusterIP');
  assert.deepEqual(svc.ports.map((p) => p.name), ['milter', 'controller']);
  find(objects, 'PodDisruptionBudget', 'as');
});

test('GIVEN the as pods WHEN rendered THEN every mounted source is read-only, only the Redis and controller passwords are projected and the DKIM Secret is optional', () => {
  const objects = renderPlatform(parseSpec(EXAMPLE));
  const pod = (find(objects, 'Deployment', 'as').spec as { template: { spec: PodSpec } }).template.spec;
  const mounts = pod.containers[0]!.volumeMounts;
  for (const v of pod.volumes.filter((x) => x.secret || x.configMap)) {
    assert.equal(mounts.find((m) => m.name === v.name)?.readOnly, true, `${v.name} is read-only`);
  }
  const secrets = pod.volumes.find((v) => v.name === 'secrets')?.secret;
  assert.deepEqual(secrets?.items?.map((i) => i.key).sort(), ['redis-password', 'rspamd-controller-password']);
  const dkim = pod.volumes.find((v) => v.name === 'dkim')?.secret;
  assert.deepEqual([dkim?.secretName, dkim?.optional], ['demo-dkim', true]);
  assert.equal(mounts.find((m) => m.name === 'dkim')?.mountPath, '/etc/mailfleet/dkim');
  assert.ok(pod.volumes.find((v) => v.name === 'data')?.emptyDir, '$DBDIR is an emptyDir');
  assert.equal(pod.securityContext.fsGroup, 230, 'rspamd\'s workers (_rspamd) read the 0440 DKIM files through the fsGroup');
  assert.equal(pod.automountServiceAccountToken, false);
});

test('GIVEN secrets in the spec WHEN rendered THEN the as ConfigMap holds placeholders, never the controller or Redis password', () => {
  const controller = generateSecret();
  const redis = generateSecret();
  const objects = renderPlatform(variant((s) => {
    (s.filter as Record<string, unknown> | undefined) ??= {};
    (s.filter as Record<string, unknown>).controllerPassword = controller;
    s.redis = { ...(s.redis as Record<string, unknown> | undefined), password: redis };
  }));
  const rspamd = configMapFile(objects, 'demo-as-config', 'rspamd.conf');
  assert.match(rspamd, /password = '\{\{mailfleet\.secret\.rspamd-controller-password\}\}'/);
  const all = JSON.stringify(find(objects, 'ConfigMap', 'demo-as-config'));
  assert.ok(!all.includes(controller) && !all.includes(redis), 'no secret value in the ConfigMap');
});

test('GIVEN the example WHEN rendered THEN mta and msa name the as Service as their one milter and rspamd finds Redis through its agent on a socket in the pod\'s run dir', () => {
  const objects = renderPlatform(parseSpec(EXAMPLE));
  for (const w of ['mta', 'msa']) {
    const main = configMapFile(objects, `demo-${w}-config`, 'main.cf');
    assert.deepEqual(main.split('\n').filter((l) => l.startsWith('smtpd_milters')), ['smtpd_milters = inet:as.mailfleet.svc.cluster.local:11332'], w);
  }
  // The agent carries it over TLS to kvs-0 (src/agent/redis-relay.ts): rspamd speaks no TLS to Redis.
  assert.match(configMapFile(objects, 'demo-as-config', 'redis.conf'), /servers = "\/run\/mailfleet\/run\/redis-relay\.sock"/);
});

test('GIVEN network policies WHEN rendered THEN only mta and msa reach the milter, mailbox the controller, scrapers http; as reaches Redis and, for public lists, the Internet; Redis admits it', () => {
  const objects = renderPlatform(parseSpec(EXAMPLE));
  const own = policy(objects, 'as');
  assert.deepEqual(rules(own.ingress, 'from'), [
    [['mta', 'msa'], ['milter']],
    [['mailbox'], ['controller']],
    [['victoriametrics', 'monitoring namespaces'], ['http']],
  ]);
  assert.deepEqual(rules(own.egress.slice(0, 1), 'to'), [[['kvs'], ['redis']]]);
  // Public lists are on by default: maps over HTTP(S) and the fuzzy storage over UDP, outside the cluster only.
  assert.deepEqual(own.egress.slice(1).map((r) => r.ports), [[{ port: 80, protocol: 'TCP' }, { port: 443, protocol: 'TCP' }], [{ port: 11335, protocol: 'UDP' }]]);
  for (const r of own.egress.slice(1)) assert.deepEqual(r.to?.map((p) => (p as { ipBlock?: { cidr: string; except?: string[] } }).ipBlock?.cidr), ['0.0.0.0/0', '::/0']);
  const except = own.egress[1]?.to?.flatMap((p) => (p as { ipBlock?: { except?: string[] } }).ipBlock?.except ?? []) ?? [];
  const { podNetworks, nodeNetworks } = parseSpec(EXAMPLE).spec.kubernetes;
  assert.deepEqual(except.sort(), [...new Set([...podNetworks, ...nodeNetworks])].sort(), 'the cluster\'s own networks are not the Internet');
  assert.ok(rules(policy(objects, 'kvs').ingress, 'from').some(([peers, ports]) => JSON.stringify([peers, ports]) === JSON.stringify([['as'], ['redis']])));
  for (const w of ['mta', 'msa']) {
    const toAs = policy(objects, w).egress.filter((r) => r.to?.some((p) => component(p) === 'as'));
    assert.deepEqual(toAs.map((r) => r.ports.map((p) => p.port)), [['milter']], `${w} may reach the milter`);
  }
  // The learn program of the mailbox backends posts Junk moves to rspamd's controller, and nothing else of as.
  const mailboxToAs = policy(objects, 'mailbox').egress.filter((r) => r.to?.some((p) => component(p) === 'as'));
  assert.deepEqual(mailboxToAs.map((r) => [r.to?.map(component), r.ports.map((p) => p.port)]), [[['as'], ['controller']]]);
});

test('GIVEN rspamd runs WHEN the mailbox config is rendered THEN the learn program runs the mailfleet CLI against the Service as, the password from a file resolved from the Secret', () => {
  const controller = generateSecret();
  const objects = renderPlatform(variant((s) => ((s.filter as Record<string, unknown>).controllerPassword = controller)));
  const program = configMapFile(objects, 'demo-mailbox-config', 'rspamd-learn');
  assert.match(program, /^exec \{\{mailfleet-cli\}\} learn "\$1" --url http:\/\/as\.mailfleet\.svc\.cluster\.local:11334 --password-file \/run\/mailfleet\/config\/sieve\/rspamd-learn\.password --max-bytes \d+ --timeout 10$/m);
  assert.doesNotMatch(program, /curl/);
  assert.equal(configMapFile(objects, 'demo-mailbox-config', 'rspamd-learn.password'), '{{mailfleet.secret.rspamd-controller-password}}\n');
  const all = JSON.stringify(objects.filter((o) => o.kind === 'ConfigMap'));
  assert.ok(!all.includes(controller), 'no controller password in a ConfigMap');
});

test('GIVEN spec.roles.as.replicas 0 WHEN rendered THEN nothing of as is rendered, no config names a milter and nobody may reach it', () => {
  const objects = renderPlatform(variant((s) => ((s.roles as Record<string, unknown>).as = { replicas: 0 })));
  assert.ok(!objects.some((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'as'));
  for (const w of ['mta', 'msa']) {
    assert.doesNotMatch(configMapFile(objects, `demo-${w}-config`, 'main.cf'), /milter/);
    assert.ok(policy(objects, w).egress.every((r) => !r.to?.some((p) => component(p) === 'as')), `${w} egress names no as`);
  }
  assert.ok(policy(objects, 'kvs').ingress.every((r) => !r.from?.some((p) => component(p) === 'as')));
  assert.ok(policy(objects, 'mailbox').egress.every((r) => !r.to?.some((p) => component(p) === 'as')), 'mailbox egress names no as');
  assert.doesNotMatch(configMapFile(objects, 'demo-spec', 'peers.json'), /"as"/);
});

test('GIVEN public lists off and resolvers of its own WHEN rendered THEN as reaches those resolvers on their ports (UDP and TCP) and nothing on the Internet', () => {
  const objects = renderPlatform(variant((spec) => {
    spec.filter = { ...(spec.filter as object), publicLists: false, nameservers: ['192.0.2.53', '198.51.100.7:5353', '[2001:db8::53]'] };
  }));
  const egress = policy(objects, 'as').egress.slice(1);
  const seen = egress.map((r) => [r.to?.map((p) => (p as { ipBlock?: { cidr: string } }).ipBlock?.cidr), r.ports]);
  assert.deepEqual(seen, [
    [['192.0.2.53/32', '2001:db8::53/128'], [{ port: 53, protocol: 'UDP' }]],
    [['192.0.2.53/32', '2001:db8::53/128'], [{ port: 53, protocol: 'TCP' }]],
    [['198.51.100.7/32'], [{ port: 5353, protocol: 'UDP' }]],
    [['198.51.100.7/32'], [{ port: 5353, protocol: 'TCP' }]],
  ]);
});
