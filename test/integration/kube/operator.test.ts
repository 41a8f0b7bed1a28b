/**
 * `mailfleet operator` against the in-process API server, driven by the real @kubernetes/client-node:
 * MailPlatform CRD (and the third-party CRDs the renderer uses) registered through the API, the
 * operator under its Lease, StatefulSet/Deployment readiness set through the status subresource as
 * kube-controller-manager would.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { parse } from 'yaml';
import { ldapCaSecretValue } from '../../../src/config/index.ts';
import { doveadmCa, issueInternalCertificate } from '../../../src/internal-tls/index.ts';
import { createLogger } from '../../../src/log.ts';
import { PLATFORM_LABEL, renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import {
  exposition, FIELD_MANAGER, FINALIZER, FORCE_ANNOTATION, GENERATED_ANNOTATION, type KubeApi,
} from '../../../src/runtime/kube/operator/index.ts';
import { validateSpec } from '../../../src/spec/index.ts';
import { ensureBuilt } from '../../support/build.ts';
import { waitFor, writeKubeconfig, type TestCluster } from '../../support/kube/client.ts';
import { startCluster, startOperator as startScopedOperator, type OperatorUnderTest } from '../../support/kube/operator.ts';

const log = createLogger('test', { level: process.env.MAILFLEET_TEST_LOG ?? 'silent' });
const EXAMPLE = parse(readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8')) as { spec: Record<string, unknown> };
const CR_NS = 'tenants';
const NS = 'mailfleet';
const MP = { apiVersion: 'mailfleet.io/v1alpha1', kind: 'MailPlatform' };
const DEADLINE_MS = 10_000;

/** These tests render into spec.kubernetes.namespace from another namespace: the installer's cross-namespace opt-in. */
const startOperator = (t: TestContext, cluster: TestCluster, opts: { identity?: string; directors?: string[] } = {}) =>
  startScopedOperator(t, cluster, { ...opts, log, scope: { allowCrossNamespace: true, allowedRegistries: [], allowedClusterIssuers: ['letsencrypt-dns01'] } });
type RunningOperator = OperatorUnderTest;

interface Condition { type: string; status: string; reason: string; message: string; observedGeneration: number }
type Platform = KubeObject & { status?: { observedGeneration?: number; conditions?: Condition[]; objects?: number; pruned?: number } };

function platform(change: (spec: Record<string, Record<string, unknown>>) => void = () => undefined): KubeObject {
  const spec = structuredClone(EXAMPLE.spec) as Record<string, Record<string, unknown>>;
  change(spec);
  return { ...MP, metadata: { name: 'demo', namespace: CR_NS }, spec };
}

/** Reads without HTTP, straight from the server's store. */
const get = (cluster: TestCluster, apiVersion: string, kind: string, namespace: string | undefined, name: string) =>
  cluster.server.get(apiVersion, kind, namespace, name) as unknown as (KubeObject & { metadata: { resourceVersion?: string; finalizers?: string[]; generation?: number; managedFields?: unknown[] } }) | undefined;
const listAll = (cluster: TestCluster, apiVersion: string, kind: string) => cluster.server.list(apiVersion, kind) as unknown as KubeObject[];
const readPlatform = (cluster: TestCluster): Platform | undefined => get(cluster, MP.apiVersion, MP.kind, CR_NS, 'demo');
const conditionOf = (p: Platform | undefined, type: string) => p?.status?.conditions?.find((c) => c.type === type);
const sts = (cluster: TestCluster, name: string) => get(cluster, 'apps/v1', 'StatefulSet', NS, name);
const replicasOf = (obj: KubeObject | undefined) => (obj?.spec as { replicas?: number } | undefined)?.replicas;

/** Waits until the platform's condition has this status (and reason), at the platform's current generation. */
function waitCondition(cluster: TestCluster, type: string, status: string, reason?: string): Promise<Condition> {
  return waitFor(`${type}=${status}${reason ? ` (${reason})` : ''}`, () => {
    const p = readPlatform(cluster);
    const c = conditionOf(p, type);
    const generation = (p?.metadata as { generation?: number } | undefined)?.generation;
    return c && c.status === status && (!reason || c.reason === reason) && p?.status?.observedGeneration === generation && c;
  }, DEADLINE_MS);
}

/** What kube-controller-manager would report once every pod is ready. */
async function markWorkloadsReady(cluster: TestCluster, api: KubeApi): Promise<void> {
  for (const kind of ['StatefulSet', 'Deployment']) {
    for (const o of listAll(cluster, 'apps/v1', kind).filter((x) => x.metadata.labels?.[PLATFORM_LABEL] === 'demo')) {
      const replicas = replicasOf(o) ?? 1;
      const status = { replicas, readyReplicas: replicas, observedGeneration: (o.metadata as { generation?: number }).generation };
      await api.apply({ apiVersion: 'apps/v1', kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace }, status }, { manager: 'kube-controller-manager', force: true, subresource: 'status' });
    }
  }
}

async function patchSpec(api: KubeApi, spec: object): Promise<void> {
  await api.mergePatch({ ...MP, namespace: CR_NS, name: 'demo' }, { spec }, { manager: 'kubectl' });
}

async function createReadyPlatform(t: TestContext) {
  const { cluster, api } = await startCluster(t);
  const op = startOperator(t, cluster);
  await api.apply(platform(), { manager: 'kubectl', force: false });
  await waitCondition(cluster, 'Progressing', 'True', 'WorkloadsNotReady');
  await markWorkloadsReady(cluster, api);
  await waitCondition(cluster, 'Ready', 'True', 'AllReplicasReady');
  return { cluster, api, op };
}

const counter = async (m: RunningOperator['metrics'], result?: string) =>
  ((await m.reconciles.get()).values.filter((v) => !result || v.labels.result === result).reduce((n, v) => n + v.value, 0));

test('GIVEN a new MailPlatform WHEN the operator reconciles THEN every rendered object is applied by its field manager and the platform becomes Ready once the workloads are', async (t) => {
  const { cluster, api } = await startCluster(t);
  startOperator(t, cluster);

  await api.apply(platform(), { manager: 'kubectl', force: false });
  await waitCondition(cluster, 'Progressing', 'True', 'WorkloadsNotReady');

  const rendered = renderPlatform(validateSpec({ ...MP, metadata: { name: 'demo' }, spec: EXAMPLE.spec }));
  for (const o of rendered) {
    const stored = get(cluster, o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name);
    assert.ok(stored, `${o.kind} ${o.metadata.name} exists`);
    const managers = ((stored.metadata.managedFields ?? []) as { manager: string; operation: string }[]).map((e) => `${e.manager}/${e.operation}`);
    assert.ok(managers.includes(`${FIELD_MANAGER}/Apply`), `${o.kind} ${o.metadata.name} is applied by ${FIELD_MANAGER}`);
  }
  const p = readPlatform(cluster)!;
  assert.equal(p.status?.observedGeneration, 1);
  assert.equal(p.status?.objects, rendered.length);
  assert.deepEqual((p.metadata as { finalizers?: string[] }).finalizers, [FINALIZER]);
  assert.equal(conditionOf(p, 'Ready')?.status, 'False');
  assert.match(conditionOf(p, 'Ready')?.message ?? '', /StatefulSet mailfleet\/mailbox 0\/3 ready/);
  assert.equal(conditionOf(p, 'Degraded')?.status, 'False');

  await markWorkloadsReady(cluster, api);

  await waitCondition(cluster, 'Ready', 'True', 'AllReplicasReady');
  assert.equal(conditionOf(readPlatform(cluster), 'Progressing')?.status, 'False');
});

test('GIVEN a Ready platform WHEN mailbox is scaled in the spec THEN the StatefulSet follows, and observedGeneration with it', async (t) => {
  const { cluster, api } = await createReadyPlatform(t);

  await patchSpec(api, { roles: { mailbox: { replicas: 5 } } });

  await waitFor('mailbox scaled', () => replicasOf(sts(cluster, 'mailbox')) === 5, DEADLINE_MS);
  const notReady = await waitCondition(cluster, 'Ready', 'False', 'WorkloadsNotReady');
  assert.match(notReady.message, /StatefulSet mailfleet\/mailbox 3\/5 ready/);
  assert.equal(readPlatform(cluster)?.status?.observedGeneration, 2);
  await markWorkloadsReady(cluster, api);
  await waitCondition(cluster, 'Ready', 'True');
});

test('GIVEN outbound pools WHEN they are disabled THEN their objects are pruned and an unlabelled object beside them survives', async (t) => {
  const { cluster, api } = await createReadyPlatform(t);
  cluster.server.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hand-made', namespace: NS }, data: { a: '1' } });
  assert.ok(sts(cluster, 'mailout') && get(cluster, 'crd.projectcalico.org/v1', 'IPPool', undefined, 'demo-fallback-v4'));

  await patchSpec(api, { outbound: { mailout: { replicas: 0 }, fallback: { replicas: 0 } } });

  await waitFor('outbound pools pruned', () => !sts(cluster, 'mailout') && !sts(cluster, 'fallback'), DEADLINE_MS);
  await waitCondition(cluster, 'Ready', 'True');
  const gone: [string, string, string | undefined, string][] = [
    ['v1', 'Service', NS, 'mailout'],
    ['v1', 'ConfigMap', NS, 'demo-mailout-config'],
    ['crd.projectcalico.org/v1', 'IPPool', undefined, 'demo-mailout-v4'],
    ['crd.projectcalico.org/v1', 'IPPool', undefined, 'demo-fallback-v4'],
    ['networking.k8s.io/v1', 'NetworkPolicy', NS, 'demo-mailout'],
    ['policy/v1', 'PodDisruptionBudget', NS, 'fallback'],
  ];
  for (const [apiVersion, kind, ns, name] of gone) assert.equal(get(cluster, apiVersion, kind, ns, name), undefined, `${kind} ${name} is pruned`);
  assert.ok(get(cluster, 'v1', 'ConfigMap', NS, 'hand-made'), 'the unlabelled ConfigMap survives');
  assert.ok((readPlatform(cluster)?.status?.pruned ?? 0) >= gone.length);
});

test('GIVEN a field another manager took over WHEN the operator applies THEN it reports ApplyConflict naming object, field and manager; the force annotation takes it back', async (t) => {
  const { cluster, api } = await createReadyPlatform(t);

  // kubectl apply --server-side --force-conflicts of a different replica count.
  await api.apply({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'mta', namespace: NS }, spec: { replicas: 4 } }, { manager: 'kubectl', force: true });

  const degraded = await waitCondition(cluster, 'Degraded', 'True', 'ApplyConflict');
  assert.match(degraded.message, /StatefulSet mailfleet\/mta: \.spec\.replicas is managed by "kubectl"/);
  assert.equal(replicasOf(sts(cluster, 'mta')), 4, 'the conflicting field is not forced');
  assert.equal(conditionOf(readPlatform(cluster), 'Ready')?.reason, 'ApplyConflict');

  await api.mergePatch({ ...MP, namespace: CR_NS, name: 'demo' }, { metadata: { annotations: { [FORCE_ANNOTATION]: 'true' } } }, { manager: 'kubectl' });

  await waitFor('mta back to the spec', () => replicasOf(sts(cluster, 'mta')) === 1, DEADLINE_MS);
  await waitCondition(cluster, 'Degraded', 'False', 'Reconciled');
});

test('GIVEN an invalid spec WHEN reconciled THEN Degraded SpecInvalid names the field and nothing is applied', async (t) => {
  const { cluster, api } = await createReadyPlatform(t);
  const before = sts(cluster, 'mailbox')!.metadata.resourceVersion;

  await patchSpec(api, { roles: { mailbox: { replicas: -1 } } });

  const degraded = await waitCondition(cluster, 'Degraded', 'True', 'SpecInvalid');
  assert.match(degraded.message, /spec\.roles\.mailbox\.replicas/);
  assert.equal(conditionOf(readPlatform(cluster), 'Ready')?.status, 'False');
  assert.equal(sts(cluster, 'mailbox')!.metadata.resourceVersion, before);

  await patchSpec(api, { roles: { mailbox: { replicas: 3 } } });
  await waitCondition(cluster, 'Ready', 'True');
});

test('GIVEN dropped watches and then expired history WHEN the spec changes each time THEN the operator still converges without waiting for a resync', async (t) => {
  const { cluster, api } = await createReadyPlatform(t);

  cluster.server.dropWatches();
  await patchSpec(api, { roles: { mailbox: { replicas: 4 } } });
  await waitFor('converged after dropped watches', () => replicasOf(sts(cluster, 'mailbox')) === 4, DEADLINE_MS);

  cluster.server.compactHistory();
  cluster.server.endWatches();
  await patchSpec(api, { roles: { mailbox: { replicas: 2 } } });
  await waitFor('converged after 410 Gone', () => replicasOf(sts(cluster, 'mailbox')) === 2, DEADLINE_MS);
  assert.ok(cluster.server.requests.some((r) => r.verb === 'list' && r.resource === 'mailplatforms' && r.query.limit !== undefined && cluster.server.requests.indexOf(r) > 0));
});

test('GIVEN two operators sharing the Lease WHEN a platform is created THEN only the leader reconciles, and the other takes over when it stops', async (t) => {
  const { cluster, api } = await startCluster(t);
  const a = startOperator(t, cluster, { identity: 'operator-a' });
  await waitFor('a leads', async () => (await a.metrics.leader.get()).values[0]?.value === 1, DEADLINE_MS);
  const b = startOperator(t, cluster, { identity: 'operator-b' });

  await api.apply(platform(), { manager: 'kubectl', force: false });
  await waitCondition(cluster, 'Progressing', 'True');

  await waitFor('a counted its reconcile', async () => (await counter(a.metrics)) > 0, DEADLINE_MS);
  assert.equal(await counter(b.metrics), 0, 'the standby reconciles nothing');
  assert.match(await exposition([a.metrics.registry]), /mailfleet_operator_objects\{platform="tenants\/demo"\} \d+/);

  await a.stop();
  await patchSpec(api, { roles: { mailbox: { replicas: 2 } } });

  await waitFor('b applied the change', async () => replicasOf(sts(cluster, 'mailbox')) === 2 && (await counter(b.metrics, 'applied')) > 0, DEADLINE_MS);
});

test('GIVEN a platform WHEN its MailPlatform is deleted THEN the finalizer deletes what it owns but its Namespace and mail volume claim, then lets it go', async (t) => {
  const { cluster, api } = await createReadyPlatform(t);
  cluster.server.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hand-made', namespace: NS }, data: { a: '1' } });

  await api.remove({ ...MP, namespace: CR_NS, name: 'demo' });

  await waitFor('the MailPlatform is gone', () => readPlatform(cluster) === undefined, DEADLINE_MS);
  const left = ['StatefulSet', 'Deployment', 'Service', 'ConfigMap', 'Secret', 'NetworkPolicy', 'ServiceAccount', 'Role', 'RoleBinding', 'VMPodScrape', 'IPPool']
    .flatMap((kind) => {
      const apiVersion = { StatefulSet: 'apps/v1', Deployment: 'apps/v1', NetworkPolicy: 'networking.k8s.io/v1', Role: 'rbac.authorization.k8s.io/v1', RoleBinding: 'rbac.authorization.k8s.io/v1', VMPodScrape: 'operator.victoriametrics.com/v1beta1', IPPool: 'crd.projectcalico.org/v1' }[kind] ?? 'v1';
      return listAll(cluster, apiVersion, kind).filter((o) => o.metadata.labels?.[PLATFORM_LABEL] === 'demo').map((o) => `${kind}/${o.metadata.name}`);
    });
  assert.deepEqual(left, ['Secret/demo-secrets'], 'only the Secret the operator generated is left');
  assert.equal(get(cluster, 'v1', 'Secret', NS, 'demo-secrets')?.metadata.annotations?.[GENERATED_ANNOTATION], FIELD_MANAGER);
  assert.ok(get(cluster, 'v1', 'Namespace', undefined, NS), 'the Namespace is retained');
  assert.ok(get(cluster, 'v1', 'PersistentVolumeClaim', NS, 'demo-mail-storage'), 'the mail storage claim is retained');
  assert.ok(get(cluster, 'v1', 'ConfigMap', NS, 'hand-made'), 'the unlabelled ConfigMap survives');
});

test('GIVEN a ready mailbox endpoint WHEN the operator runs the platform THEN its backend sync adds it to the director over TLS with the API key from the platform Secret', async (t) => {
  const { cluster, api } = await startCluster(t);
  const calls: { auth: string; body: unknown }[] = [];
  // A director serving what a proxy's agent issues: a certificate of the CA derived from the Secret's key, for its address.
  const served = issueInternalCertificate(doveadmCa('key-from-the-secret-0123'), { hosts: ['127.0.0.1'], validityDays: 1 });
  const director = createServer({ key: served.pem, cert: served.pem }, (req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const [command, , tag] = (JSON.parse(raw) as [string, unknown, string][])[0] ?? [];
      calls.push({ auth: req.headers.authorization ?? '', body: JSON.parse(raw) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([['doveadmResponse', command === 'directorStatus' ? [] : [], tag]]));
    });
  });
  await new Promise<void>((resolve) => director.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => director.close(() => resolve())));
  const url = `https://127.0.0.1:${(director.address() as AddressInfo).port}`;
  cluster.server.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'platform-keys', namespace: NS }, data: { 'doveadm-api-key': Buffer.from('key-from-the-secret-0123').toString('base64') } });
  cluster.server.put({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'mailbox-x', namespace: NS, labels: { 'kubernetes.io/service-name': 'mailbox' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.1.0.10'], conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: 'Pod', namespace: NS, name: 'mailbox-0' } }],
  });
  startOperator(t, cluster, { directors: [url] });

  await api.apply(platform((s) => (s.kubernetes = { existingSecret: 'platform-keys' })), { manager: 'kubectl', force: false });

  await waitFor('directorAdd of the ready backend', () => calls.some((c) => JSON.stringify(c.body).includes('"directorAdd",{"host":"10.1.0.10"')), DEADLINE_MS);
  assert.ok(calls.every((c) => c.auth === `X-Dovecot-API ${Buffer.from('key-from-the-secret-0123').toString('base64')}`));
  assert.equal(get(cluster, 'v1', 'Secret', NS, 'demo-secrets'), undefined, 'no Secret is rendered when an existing one is named');
  assert.equal(get(cluster, 'coordination.k8s.io/v1', 'Lease', NS, 'mailfleet-backend-sync')?.spec && (get(cluster, 'coordination.k8s.io/v1', 'Lease', NS, 'mailfleet-backend-sync')!.spec as { holderIdentity: string }).holderIdentity, 'operator-0');
});

for (const [what, change, name] of [
  ['naming an existing Secret that is absent', (s: Record<string, Record<string, unknown>>) => void s, 'demo-secrets'],
  ['naming no Secret and giving no secrets', (s: Record<string, Record<string, unknown>>) => (s.kubernetes = {}), 'demo-secrets'],
] as const) {
  test(`GIVEN a MailPlatform ${what} WHEN reconciled THEN the operator creates the Secret once with strong random values, and neither regenerates nor prunes it`, async (t) => {
    const { cluster, api } = await startCluster(t);
    startOperator(t, cluster);

    await api.apply(platform(change), { manager: 'kubectl', force: false });
    await waitCondition(cluster, 'Progressing', 'True', 'WorkloadsNotReady');

    const created = await waitFor('the platform Secret', () => get(cluster, 'v1', 'Secret', NS, name), DEADLINE_MS);
    const data = created.data as Record<string, string>;
    const value = (k: string) => Buffer.from(data[k] ?? '', 'base64').toString('utf8');
    for (const key of ['ldap-admin-password', 'ldap-reader-password', 'ldap-auth-password', 'doveadm-api-key', 'backend-login-password', 'redis-password']) {
      assert.ok(value(key).length >= 32, `${key} is strong: ${value(key).length} characters`);
      assert.ok(!/change-me|demo-/.test(value(key)), `${key} is no known value`);
    }
    assert.equal(value('ldap-tls-ca'), ldapCaSecretValue(value('ldap-tls-key')), 'the LDAP clients\' CA goes with slapd\'s key');
    const seed = (EXAMPLE.spec.accounts as { seed: { password: string }[] }).seed[0]?.password;
    assert.equal(value('account-seed-0-password'), seed, 'the demo accounts\' passwords come from the spec');
    const managers = ((created.metadata.managedFields ?? []) as { manager: string; operation: string }[]).map((e) => `${e.manager}/${e.operation}`);
    assert.deepEqual(managers, [`${FIELD_MANAGER}/Update`], 'created, not applied: prune never takes it');
    for (const sts of ['mta', 'proxy']) {
      const volumes = ((get(cluster, 'apps/v1', 'StatefulSet', NS, sts)!.spec as { template: { spec: { volumes: { secret?: { secretName: string } }[] } } }).template.spec.volumes);
      assert.ok(volumes.some((v) => v.secret?.secretName === name), `${sts} mounts ${name}`);
    }

    await patchSpec(api, { roles: { mailbox: { replicas: 2 } } });
    await waitFor('mailbox scaled', () => replicasOf(sts(cluster, 'mailbox')) === 2, DEADLINE_MS);
    await markWorkloadsReady(cluster, api);
    await waitCondition(cluster, 'Ready', 'True');

    const after = get(cluster, 'v1', 'Secret', NS, name)!;
    assert.equal(after.metadata.resourceVersion, created.metadata.resourceVersion, 'not rewritten by later reconciles');
    assert.deepEqual(after.data, created.data);
  });
}

test('GIVEN a platform WHEN a MailPlatform of the same name in another namespace renders the same objects THEN it reports OwnerConflict and touches nothing', async (t) => {
  const { cluster, api } = await createReadyPlatform(t);
  const before = get(cluster, 'apps/v1', 'StatefulSet', NS, 'mailbox')!.metadata.resourceVersion;

  await api.apply({ ...platform(), metadata: { name: 'demo', namespace: 'intruders' } }, { manager: 'kubectl', force: false });

  const degraded = await waitFor('the second platform to report the clash', () => {
    const c = conditionOf(get(cluster, MP.apiVersion, MP.kind, 'intruders', 'demo'), 'Degraded');
    return c?.reason === 'OwnerConflict' && c;
  }, DEADLINE_MS);
  assert.match(degraded.message, /Namespace mailfleet belongs to MailPlatform tenants\/demo/);
  assert.equal(get(cluster, 'apps/v1', 'StatefulSet', NS, 'mailbox')!.metadata.resourceVersion, before);
  assert.equal(conditionOf(readPlatform(cluster), 'Ready')?.status, 'True');
});

test('GIVEN the mailfleet operator command WHEN a MailPlatform appears THEN it reconciles it, serves /metrics /livez /readyz, and exits 0 on SIGTERM', async (t) => {
  const { cluster, api } = await startCluster(t);
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-operator-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = writeKubeconfig(cluster, join(dir, 'kubeconfig'), CR_NS);
  const main = ensureBuilt();
  const child = spawn(process.execPath, [main, 'operator', '--kubeconfig', kubeconfig, '--listen', '127.0.0.1:0', '--identity', 'cli-0', '--lease-namespace', 'default', '--allowed-cluster-issuers', 'letsencrypt-dns01'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  t.after(() => { if (process.env.MAILFLEET_TEST_LOG) console.log(lines.join('\n')); });
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  const started = await waitFor('the operator to log its port', () => lines.map((l) => JSON.parse(l) as { msg?: string; listen?: number }).find((l) => l.msg === 'operator starting'), DEADLINE_MS);
  const base = `http://127.0.0.1:${started.listen}`;

  await api.apply(platform(), { manager: 'kubectl', force: false });

  await waitCondition(cluster, 'Progressing', 'True', 'WorkloadsNotReady');
  const metrics = await waitFor('the reconcile counted', async () => {
    const body = await (await fetch(`${base}/metrics`)).text();
    return /mailfleet_operator_reconcile_total\{result="applied"\} [1-9]/.test(body) && body;
  }, DEADLINE_MS);
  assert.match(metrics, /mailfleet_operator_objects\{platform="tenants\/demo"\} \d+/);
  assert.match(metrics, /mailfleet_operator_reconcile_duration_seconds_count \d+/);
  assert.equal((await fetch(`${base}/livez`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);

  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('GIVEN an object applied twice with the same content WHEN the second apply lands THEN the test API server keeps its resourceVersion, as the real one does', async (t) => {
  const { cluster, api } = await startCluster(t);
  const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'same', namespace: NS }, data: { a: '1' } };
  const first = await api.apply(cm, { manager: FIELD_MANAGER, force: false });
  const revision = cluster.server.resourceVersion;

  const second = await api.apply(cm, { manager: FIELD_MANAGER, force: false });

  const rv = (o: KubeObject) => (o.metadata as { resourceVersion?: string }).resourceVersion;
  assert.equal(rv(second), rv(first));
  assert.equal(cluster.server.resourceVersion, revision);
});

test('GIVEN a Secret applied with stringData WHEN read back THEN the test API server holds it as base64 data, as the real one does', async (t) => {
  const { api } = await startCluster(t);

  await api.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: NS }, stringData: { k: 'v' } }, { manager: FIELD_MANAGER, force: false });

  const read = await api.get({ apiVersion: 'v1', kind: 'Secret', namespace: NS, name: 's' });
  assert.deepEqual([read?.data, read?.stringData], [{ k: 'dg==' }, undefined]);
});

test('GIVEN a Secret the operator made before the LDAP hop had TLS WHEN reconciled THEN it adds the key and the CA derived from it; one holding the key gets the CA of that key', async (t) => {
  for (const [what, held] of [['without the LDAP TLS key', {}], ['with the LDAP TLS key', { 'ldap-tls-key': 'an-ldap-tls-key-made-earlier-0123' }]] as const) {
    await t.test(what, async (st) => {
      const { cluster, api } = await startCluster(st);
      const data = Object.fromEntries(Object.entries({ 'ldap-admin-password': 'an-admin-password-made-earlier-0123', ...held }).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
      cluster.server.put({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'demo-secrets', namespace: NS, annotations: { [GENERATED_ANNOTATION]: FIELD_MANAGER } },
        data,
      });
      startOperator(st, cluster);
      await api.apply(platform(), { manager: 'kubectl', force: false });
      const completed = await waitFor('the completed Secret', () => {
        const secret = get(cluster, 'v1', 'Secret', NS, 'demo-secrets');
        return (secret?.data as Record<string, string> | undefined)?.['ldap-tls-ca'] === undefined ? undefined : secret;
      }, DEADLINE_MS);
      const value = (k: string) => Buffer.from((completed.data as Record<string, string>)[k] ?? '', 'base64').toString('utf8');
      assert.equal(value('ldap-admin-password'), 'an-admin-password-made-earlier-0123', 'a value it held is never changed');
      if ('ldap-tls-key' in held) assert.equal(value('ldap-tls-key'), held['ldap-tls-key']);
      else assert.ok(value('ldap-tls-key').length >= 32, 'a strong key added');
      assert.equal(value('ldap-tls-ca'), ldapCaSecretValue(value('ldap-tls-key')), 'the CA of the key the Secret holds');
    });
  }
});
