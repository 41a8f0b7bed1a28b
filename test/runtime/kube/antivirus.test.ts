/** The antivirus (`av`, clamd) and its one signature updater (freshclam) in the Kubernetes output. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { POD_PATHS } from '../../../src/agent/index.ts';
import { isMailfleetError } from '../../../src/errors.ts';
import { renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { validateSpec, type MailPlatform } from '../../../src/spec/index.ts';

const EXAMPLE = readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8');
const MIRROR = 'https://clamav.example.net/db';

/** The example with `av` replicas and signatures from `signatures` (a private mirror unless told), then `change`. */
function withAv(replicas = 2, signatures: Record<string, unknown> = { mirror: MIRROR, checksPerDay: 6 }, change: (spec: Record<string, unknown>) => void = () => undefined): MailPlatform {
  const doc = parse(EXAMPLE) as { spec: Record<string, unknown> & { roles: Record<string, unknown>; filter: Record<string, unknown> } };
  doc.spec.roles.av = { replicas };
  doc.spec.filter.antivirus = { signatures };
  change(doc.spec);
  return validateSpec(doc);
}

interface Mount { name: string; mountPath: string; readOnly?: boolean }
interface Container {
  image: string; command?: string[]; args: string[]; ports?: { name: string; containerPort: number }[]; volumeMounts: Mount[];
  readinessProbe?: { httpGet: { path: string } }; startupProbe?: { periodSeconds: number; failureThreshold: number };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
}
interface Volume { name: string; secret?: object; persistentVolumeClaim?: { claimName: string; readOnly?: boolean }; emptyDir?: { medium?: string; sizeLimit?: string } }
interface PodSpec { securityContext: { runAsUser?: number; fsGroup?: number }; containers: Container[]; volumes: Volume[] }
interface Deployment { replicas: number; strategy: { type: string }; template: { spec: PodSpec } }
interface IpBlock { cidr: string; except?: string[] }
interface Peer { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: object; ipBlock?: IpBlock }
interface Rule { from?: Peer[]; to?: Peer[]; ports: { port: string | number }[] }

const find = (objects: KubeObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is rendered`);
  return o;
};
const deployment = (objects: KubeObject[], name: string) => find(objects, 'Deployment', name).spec as Deployment;
const configMapFile = (objects: KubeObject[], name: string, file: string) => ((find(objects, 'ConfigMap', name) as KubeObject & { data: Record<string, string> }).data[file] ?? '');
const component = (p: Peer) => p.podSelector?.matchLabels['app.kubernetes.io/component'];
const policy = (objects: KubeObject[], w: string) => find(objects, 'NetworkPolicy', `demo-${w}`).spec as { ingress: Rule[]; egress: Rule[] };
const rules = (list: Rule[], key: 'from' | 'to') => list.map((r) => [r[key]?.map((p) => component(p) ?? (p.ipBlock ? p.ipBlock.cidr : 'monitoring namespaces')), r.ports.map((p) => p.port)]);
/** `Option value` lines of a clamd/freshclam config. */
const options = (text: string) => new Map(text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => [l.split(' ')[0] ?? '', l.slice(l.indexOf(' ') + 1)]));

test('GIVEN av replicas WHEN rendered THEN av is a Deployment of clamd pods under the agent behind the ClusterIP Service "av" on 3310, with a disruption budget', () => {
  const objects = renderPlatform(withAv());
  const d = deployment(objects, 'av');
  assert.equal(d.replicas, 2);
  const c = d.template.spec.containers[0]!;
  assert.match(c.image, /\/mailfleet-clamav:/);
  assert.deepEqual(c.args.slice(0, 3), ['--pod', '--role', 'av']);
  assert.deepEqual(c.ports?.map((p) => [p.name, p.containerPort]), [['clamd', 3310], ['http', 8081]]);
  assert.equal(c.readinessProbe?.httpGet.path, '/readyz', 'ready = clamd answers PING (the agent\'s check)');
  const startup = c.startupProbe!;
  assert.ok(startup.periodSeconds * startup.failureThreshold >= 3600, 'the startup budget covers the first download of the official database');
  assert.deepEqual(c.resources.requests.memory, '1Gi');
  assert.deepEqual(c.resources.limits.memory, '2560Mi', 'two copies of the official database while one reloads');
  const svc = find(objects, 'Service', 'av').spec as { type: string; ports: { name: string; port: number; targetPort: string }[] };
  assert.equal(svc.type, 'ClusterIP');
  assert.deepEqual(svc.ports.map((p) => [p.name, p.port, p.targetPort]), [['clamd', 3310, 'clamd']]);
  find(objects, 'PodDisruptionBudget', 'av');
  assert.match(configMapFile(objects, 'demo-as-config', 'antivirus.conf'), /servers = "av\.mailfleet\.svc\.cluster\.local:3310"/, 'rspamd asks clamd through the Service');
});

test('GIVEN the av pods WHEN rendered THEN they run as clamav, mount the signature claim read-only, no Secret, and keep clamd\'s scans on disk', () => {
  const objects = renderPlatform(withAv());
  const pod = deployment(objects, 'av').template.spec;
  assert.equal(pod.securityContext.runAsUser, 240);
  assert.equal(pod.securityContext.fsGroup, 240);
  const mounts = pod.containers[0]!.volumeMounts;
  const signatures = mounts.find((m) => m.name === 'signatures');
  assert.deepEqual([signatures?.mountPath, signatures?.readOnly], [POD_PATHS.signatures, true]);
  assert.deepEqual(pod.volumes.find((v) => v.name === 'signatures')?.persistentVolumeClaim, { claimName: 'demo-clamav-signatures', readOnly: true });
  assert.ok(pod.volumes.every((v) => v.secret === undefined), 'clamd uses no secret');
  const run = pod.volumes.find((v) => v.name === 'run')?.emptyDir;
  assert.equal(run?.medium, undefined, 'messages being scanned are not held in memory');
  // 16 scans at once of a 50 MiB message streamed with room for its encoding (x1.4), plus 64 MiB.
  assert.equal(run?.sizeLimit, '1184Mi');
  assert.equal(options(configMapFile(objects, 'demo-av-config', 'clamd.conf')).get('DatabaseDirectory'), POD_PATHS.signatures);
});

test('GIVEN a mirror and several av pods WHEN rendered THEN exactly one freshclam Deployment, one replica, Recreate, writes the ReadWriteMany claim', () => {
  const objects = renderPlatform(withAv(5));
  const updaters = objects.filter((o) => o.kind === 'Deployment' && (o.spec as Deployment).template.spec.containers.some((c) => c.command?.[0] === '/usr/bin/freshclam'));
  assert.deepEqual(updaters.map((o) => o.metadata.name), ['freshclam'], 'one updater per platform, never one per av pod');
  const d = deployment(objects, 'freshclam');
  assert.equal(d.replicas, 1);
  assert.equal(d.strategy.type, 'Recreate', 'never two writers, even during a rollout');
  const c = d.template.spec.containers[0]!;
  assert.deepEqual(c.args, ['--daemon', '--foreground', `--config-file=${POD_PATHS.configMap}/freshclam.conf`]);
  assert.ok(c.resources.limits.memory, 'limits on the updater too');
  const mount = c.volumeMounts.find((m) => m.name === 'signatures');
  assert.deepEqual([mount?.mountPath, mount?.readOnly], [POD_PATHS.signatures, undefined]);
  assert.equal(d.template.spec.volumes.find((v) => v.name === 'signatures')?.persistentVolumeClaim?.claimName, 'demo-clamav-signatures');
  const claim = find(objects, 'PersistentVolumeClaim', 'demo-clamav-signatures').spec as { accessModes: string[]; storageClassName: string; resources: { requests: { storage: string } } };
  assert.deepEqual([claim.accessModes, claim.storageClassName, claim.resources.requests.storage], [['ReadWriteMany'], 'mail-storage-rwx', '2Gi']);
});

test('GIVEN storage settings for signatures WHEN rendered THEN the claim takes its class and size from the spec', () => {
  const objects = renderPlatform(withAv(1, { mirror: MIRROR }, (s) => {
    const k = s.kubernetes as Record<string, unknown>;
    k.storageClasses = { signatures: 'cephfs' };
    k.storageSizes = { signatures: '5Gi' };
  }));
  const claim = find(objects, 'PersistentVolumeClaim', 'demo-clamav-signatures').spec as { storageClassName: string; resources: { requests: { storage: string } } };
  assert.deepEqual([claim.storageClassName, claim.resources.requests.storage], ['cephfs', '5Gi']);
});

test('GIVEN a private or the official mirror WHEN rendered THEN freshclam.conf names it as such, checks as often as asked, in the foreground as clamav', () => {
  const priv = options(configMapFile(renderPlatform(withAv()), 'demo-freshclam-config', 'freshclam.conf'));
  assert.equal(priv.get('PrivateMirror'), MIRROR);
  assert.equal(priv.get('DatabaseMirror'), undefined);
  assert.equal(priv.get('Checks'), '6');
  assert.equal(priv.get('DatabaseOwner'), 'clamav');
  assert.equal(priv.get('Foreground'), 'yes');
  assert.equal(priv.get('DatabaseDirectory'), POD_PATHS.signatures);
  assert.equal(priv.get('UpdateLogFile'), undefined, 'its log goes to stdout');
  const official = options(configMapFile(renderPlatform(withAv(1, { mirror: 'https://database.clamav.net' })), 'demo-freshclam-config', 'freshclam.conf'));
  assert.equal(official.get('DatabaseMirror'), 'database.clamav.net');
  assert.equal(official.get('PrivateMirror'), undefined);
  assert.equal(official.get('Checks'), '12');
});

test('GIVEN network policies WHEN rendered THEN only as reaches av on clamd, av reaches nothing, the updater only the mirror\'s port outside the cluster', () => {
  const objects = renderPlatform(withAv(2, { mirror: 'http://mirror.example.net:8080/clamav' }));
  const av = policy(objects, 'av');
  assert.deepEqual(rules(av.ingress, 'from'), [[['as'], ['clamd']], [['victoriametrics', 'monitoring namespaces'], ['http']]]);
  assert.deepEqual(av.egress, [], 'DNS only (the platform-wide DNS policy)');
  assert.ok(rules(policy(objects, 'as').egress, 'to').some(([peers, ports]) => JSON.stringify([peers, ports]) === JSON.stringify([['av'], ['clamd']])), 'as may reach av');
  const updater = policy(objects, 'freshclam');
  assert.deepEqual(updater.ingress, []);
  assert.equal(updater.egress.length, 1);
  const rule = updater.egress[0]!;
  assert.deepEqual(rule.ports.map((p) => p.port), [8080]);
  assert.ok(rule.to?.every((p) => p.ipBlock !== undefined), 'no pod or namespace of the cluster');
  assert.deepEqual(rule.to?.map((p) => p.ipBlock), [{ cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] }, { cidr: '::/0' }], 'the pod and node networks are excepted');
  for (const w of ['mta', 'msa', 'mailbox', 'proxy', 'kvs', 'ldap']) {
    assert.ok(policy(objects, w).egress.every((r) => !r.to?.some((p) => component(p) === 'av')), `${w} does not reach av`);
  }
  const official = policy(renderPlatform(withAv(1, { mirror: 'https://database.clamav.net' })), 'freshclam');
  assert.deepEqual(official.egress[0]?.ports.map((p) => p.port), [80, 443]);
});

test('GIVEN spec.roles.av.replicas 0 WHEN rendered THEN nothing of av or the updater is rendered and rspamd asks no clamd', () => {
  const objects = renderPlatform(withAv(0));
  for (const c of ['av', 'freshclam']) assert.ok(!objects.some((o) => o.metadata.labels?.['app.kubernetes.io/component'] === c), `no ${c} object`);
  assert.ok(!objects.some((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === 'demo-clamav-signatures'));
  assert.doesNotMatch(configMapFile(objects, 'demo-spec', 'peers.json'), /"av"/);
  assert.ok(rules(policy(objects, 'as').egress, 'to').every(([peers]) => !JSON.stringify(peers).includes('av')));
});

test('GIVEN signatures from a host directory WHEN rendered for Kubernetes THEN render refuses, naming the field and what to use instead', () => {
  assert.throws(() => renderPlatform(withAv(1, { directory: '/srv/clamav' })), (err) => {
    assert.ok(isMailfleetError(err, 'SPEC_INVALID'));
    const details = err.details;
    assert.ok(details.some((d) => d.startsWith('spec.filter.antivirus.signatures.directory: ') && d.includes('mirror')), details.join('\n'));
    return true;
  });
});
