/**
 * Certificates through the operator, against the in-process API server with cert-manager's Certificate
 * kind served: a namespaced operator applies a MailPlatform's Certificates with server-side apply, prunes
 * one no longer rendered, and refuses a platform that needs an issuer and names none, or names a
 * ClusterIssuer its installer did not allow.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { parse } from 'yaml';
import { createLogger } from '../../../src/log.ts';
import { PLATFORM_LABEL, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { FIELD_MANAGER, OWNER_ANNOTATION, type KubeApi } from '../../../src/runtime/kube/operator/index.ts';
import { waitFor, type TestCluster } from '../../support/kube/client.ts';
import { startCluster, startOperator } from '../../support/kube/operator.ts';

const log = createLogger('test', { level: process.env.MAILFLEET_TEST_LOG ?? 'silent' });
const EXAMPLE = parse(readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8')) as { spec: Record<string, unknown> };
const NS = 'tenants';
const MP = { apiVersion: 'mailfleet.io/v1alpha1', kind: 'MailPlatform' };
const CERT = 'cert-manager.io/v1';
const DEADLINE_MS = 10_000;

interface Condition { type: string; status: string; reason: string; message: string }
type Stored = KubeObject & { metadata: { managedFields?: { manager: string; operation: string }[] } };
type Volumes = { spec: { template: { spec: { volumes: { secret?: { secretName: string } }[] } } } };

async function namespacedOperator(t: TestContext): Promise<{ cluster: TestCluster; api: KubeApi }> {
  const started = await startCluster(t);
  startOperator(t, started.cluster, { log, namespace: NS, operatorNamespace: 'mailfleet-system', leaseNamespace: 'mailfleet-system' });
  return started;
}

function platform(tls: Record<string, unknown>): KubeObject {
  return { ...MP, metadata: { name: 'demo', namespace: NS }, spec: { ...structuredClone(EXAMPLE.spec), tls } };
}

const certificate = (cluster: TestCluster, name: string) => cluster.server.get(CERT, 'Certificate', NS, name) as unknown as Stored | undefined;
const certificates = (cluster: TestCluster) => (cluster.server.list(CERT, 'Certificate') as unknown as KubeObject[]).map((c) => c.metadata.name).sort();
const degraded = (cluster: TestCluster): Condition | undefined =>
  ((cluster.server.get(MP.apiVersion, MP.kind, NS, 'demo')?.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === 'Degraded');
const mountedSecrets = (cluster: TestCluster, workload: string) =>
  ((cluster.server.get('apps/v1', 'StatefulSet', NS, workload) as unknown as Volumes | undefined)?.spec.template.spec.volumes ?? []).flatMap((v) => v.secret ? [v.secret.secretName] : []);

const TWO = [{ name: 'mx', hosts: ['mail.example.com'] }, { name: 'access', hosts: ['imap.example.com', 'pop.example.com'] }];
const ISSUER = { issuerRef: { name: 'mail-ca', kind: 'Issuer' } };

test('GIVEN a MailPlatform with two certificates and an Issuer WHEN the operator reconciles THEN it applies a Certificate for each, owned and labelled, and the pods mount their Secrets', async (t) => {
  const { cluster, api } = await namespacedOperator(t);

  await api.apply(platform({ certificates: TWO, kubernetes: ISSUER }), { manager: 'kubectl', force: false });

  await waitFor('two Certificates', () => certificates(cluster).length === 2, DEADLINE_MS);
  assert.deepEqual(certificates(cluster), ['demo-tls-access', 'demo-tls-mx']);
  const access = certificate(cluster, 'demo-tls-access')!;
  assert.ok((access.metadata.managedFields ?? []).some((e) => e.manager === FIELD_MANAGER && e.operation === 'Apply'), 'applied by server-side apply');
  assert.equal(access.metadata.labels?.[PLATFORM_LABEL], 'demo');
  assert.equal(access.metadata.annotations?.[OWNER_ANNOTATION], `${NS}/demo`);
  const spec = access.spec as { secretName: string; dnsNames: string[]; issuerRef: { name: string; kind: string } };
  assert.deepEqual([spec.secretName, spec.dnsNames, spec.issuerRef.name, spec.issuerRef.kind], ['demo-tls-access', ['imap.example.com', 'pop.example.com'], 'mail-ca', 'Issuer']);
  await waitFor('proxy StatefulSet', () => mountedSecrets(cluster, 'proxy').length > 0, DEADLINE_MS);
  assert.ok(['demo-tls-mx', 'demo-tls-access'].every((s) => mountedSecrets(cluster, 'proxy').includes(s)));
});

test('GIVEN applied Certificates WHEN the default certificate moves to an existing Secret THEN its Certificate is pruned, the other stays, and the pods mount the named Secret', async (t) => {
  const { cluster, api } = await namespacedOperator(t);
  await api.apply(platform({ certificates: TWO, kubernetes: ISSUER }), { manager: 'kubectl', force: false });
  await waitFor('two Certificates', () => certificates(cluster).length === 2, DEADLINE_MS);

  await api.mergePatch({ ...MP, namespace: NS, name: 'demo' }, { spec: { tls: { kubernetes: { existingSecret: 'mx-by-hand' } } } }, { manager: 'kubectl' });

  await waitFor('demo-tls-mx pruned', () => certificate(cluster, 'demo-tls-mx') === undefined, DEADLINE_MS);
  assert.deepEqual(certificates(cluster), ['demo-tls-access']);
  await waitFor('mta mounts mx-by-hand', () => mountedSecrets(cluster, 'mta').includes('mx-by-hand'), DEADLINE_MS);
  assert.ok(!mountedSecrets(cluster, 'mta').includes('demo-tls-mx'));
});

test('GIVEN a MailPlatform whose certificate needs an issuer and names none WHEN the operator reconciles THEN it is Degraded SpecInvalid naming spec.tls.kubernetes.issuerRef, and nothing is applied', async (t) => {
  const { cluster, api } = await namespacedOperator(t);

  await api.apply(platform({}), { manager: 'kubectl', force: false });

  const c = await waitFor('SpecInvalid', () => {
    const found = degraded(cluster);
    return found?.reason === 'SpecInvalid' && found;
  }, DEADLINE_MS);
  assert.equal(c.status, 'True');
  assert.match(c.message, /spec\.tls\.kubernetes\.issuerRef: required to render the cert-manager Certificate demo-tls-default/);
  assert.deepEqual(certificates(cluster), []);
  assert.equal(cluster.server.get('apps/v1', 'StatefulSet', NS, 'mta'), undefined, 'no workload either');
});

test('GIVEN a namespaced operator whose installer allowed no ClusterIssuer WHEN a MailPlatform names one THEN it is Degraded NotAllowed naming the issuer, and no Certificate is made', async (t) => {
  const { cluster, api } = await namespacedOperator(t);

  await api.apply(platform({ kubernetes: { issuerRef: { name: 'letsencrypt-dns01', kind: 'ClusterIssuer' } } }), { manager: 'kubectl', force: false });

  const c = await waitFor('NotAllowed', () => {
    const found = degraded(cluster);
    return found?.reason === 'NotAllowed' && found;
  }, DEADLINE_MS);
  assert.match(c.message, /spec\.tls\.kubernetes\.issuerRef: ClusterIssuer "letsencrypt-dns01" is not one the operator's installer allows/);
  assert.deepEqual(certificates(cluster), []);
});
