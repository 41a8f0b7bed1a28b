/**
 * PATCH through the real client: server-side apply with field managers, conflicts and force
 * (KubernetesObjectApi + PatchStrategy.ServerSideApply), merge and JSON patches, and custom
 * resources found through discovery.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PatchStrategy, setHeaderOptions, type KubernetesObject, type V1ConfigMap } from '@kubernetes/client-node';
import { rejectionStatus, startTestCluster, waitFor } from '../../support/kube/client.ts';

const NS = 'default';

function configMap(name: string, data: Record<string, string>): V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data };
}

function owners(obj: KubernetesObject): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const entry of obj.metadata?.managedFields ?? []) {
    const fields = entry.fieldsV1 as { 'f:data'?: Record<string, unknown> } | undefined;
    out[`${entry.manager}/${entry.operation}`] = Object.keys(fields?.['f:data'] ?? {}).sort();
  }
  return out;
}

test('GIVEN no object WHEN a manager applies one THEN it is created and the manager owns the applied fields', async (t) => {
  const { objects } = await startTestCluster(t);

  const applied = await objects.patch(configMap('cfg', { a: '1' }), undefined, undefined, 'operator', undefined, PatchStrategy.ServerSideApply);

  assert.equal(applied.metadata?.generation, 1);
  assert.deepEqual(owners(applied), { 'operator/Apply': ['f:a'] });
});

test('GIVEN a field applied by one manager WHEN another applies a different value THEN 409 Conflict names the field and the owner', async (t) => {
  const { objects } = await startTestCluster(t);
  await objects.patch(configMap('cfg', { a: '1' }), undefined, undefined, 'operator', undefined, PatchStrategy.ServerSideApply);

  const status = await rejectionStatus(objects.patch(configMap('cfg', { a: '2' }), undefined, undefined, 'intruder', undefined, PatchStrategy.ServerSideApply));

  assert.equal(status.reason, 'Conflict');
  assert.deepEqual(status.details?.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "operator"', field: '.data.a' }]);
});

test('GIVEN a field applied by one manager WHEN another applies with force THEN the value and the ownership move', async (t) => {
  const { objects } = await startTestCluster(t);
  await objects.patch(configMap('cfg', { a: '1', b: '1' }), undefined, undefined, 'operator', undefined, PatchStrategy.ServerSideApply);

  const forced = await objects.patch(configMap('cfg', { a: '2' }), undefined, undefined, 'intruder', true, PatchStrategy.ServerSideApply);

  assert.deepEqual(forced.data, { a: '2', b: '1' });
  assert.deepEqual(owners(forced), { 'operator/Apply': ['f:b'], 'intruder/Apply': ['f:a'] });
});

test('GIVEN a field applied by one manager WHEN another applies the same value THEN both own it and nothing conflicts', async (t) => {
  const { objects } = await startTestCluster(t);
  await objects.patch(configMap('cfg', { a: '1' }), undefined, undefined, 'operator', undefined, PatchStrategy.ServerSideApply);

  const shared = await objects.patch(configMap('cfg', { a: '1' }), undefined, undefined, 'second', undefined, PatchStrategy.ServerSideApply);

  assert.deepEqual(owners(shared), { 'operator/Apply': ['f:a'], 'second/Apply': ['f:a'] });
});

test('GIVEN a manager applied two fields WHEN it applies again without one THEN that field is removed', async (t) => {
  const { objects } = await startTestCluster(t);
  await objects.patch(configMap('cfg', { a: '1', b: '1' }), undefined, undefined, 'operator', undefined, PatchStrategy.ServerSideApply);

  const reapplied = await objects.patch(configMap('cfg', { a: '1' }), undefined, undefined, 'operator', undefined, PatchStrategy.ServerSideApply);

  assert.deepEqual(reapplied.data, { a: '1' });
});

test('GIVEN a field written by a plain update WHEN a manager applies another value THEN it conflicts with the updater', async (t) => {
  const { core, objects } = await startTestCluster(t);
  await core.createNamespacedConfigMap({ namespace: NS, fieldManager: 'kubectl-edit', body: configMap('cfg', { a: 'hand-edited' }) });

  const status = await rejectionStatus(objects.patch(configMap('cfg', { a: 'desired' }), undefined, undefined, 'operator', undefined, PatchStrategy.ServerSideApply));

  assert.match(status.message, /conflict with "kubectl-edit"/);
});

test('GIVEN dryRun=All WHEN a manager applies THEN the answer shows the result but nothing is stored', async (t) => {
  const { core, objects } = await startTestCluster(t);

  const answer = await objects.patch(configMap('cfg', { a: '1' }), undefined, 'All', 'operator', undefined, PatchStrategy.ServerSideApply);

  assert.deepEqual(answer.data, { a: '1' });
  assert.equal((await rejectionStatus(core.readNamespacedConfigMap({ name: 'cfg', namespace: NS }))).code, 404);
});

test('GIVEN a ConfigMap WHEN a merge patch sets one key and nulls another THEN the rest is kept', async (t) => {
  const { core } = await startTestCluster(t);
  await core.createNamespacedConfigMap({ namespace: NS, body: configMap('cfg', { a: '1', b: '1', c: '1' }) });

  const patched = await core.patchNamespacedConfigMap(
    { name: 'cfg', namespace: NS, body: { data: { a: '2', b: null } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );

  assert.deepEqual(patched.data, { a: '2', c: '1' });
});

test('GIVEN a ConfigMap WHEN a JSON patch test operation fails THEN the server answers 422 and changes nothing', async (t) => {
  const { core } = await startTestCluster(t);
  await core.createNamespacedConfigMap({ namespace: NS, body: configMap('cfg', { a: '1' }) });

  const body = [
    { op: 'test', path: '/data/a', value: '0' },
    { op: 'replace', path: '/data/a', value: '2' },
  ];
  const status = await rejectionStatus(core.patchNamespacedConfigMap({ name: 'cfg', namespace: NS, body }));

  assert.equal(status.reason, 'Invalid');
  assert.deepEqual((await core.readNamespacedConfigMap({ name: 'cfg', namespace: NS })).data, { a: '1' });
});

test('GIVEN a registered custom resource WHEN KubernetesObjectApi applies and lists it THEN discovery resolves it and it round-trips', async (t) => {
  const { server, objects } = await startTestCluster(t);
  server.register({ group: 'mailfleet.io', version: 'v1alpha1', resource: 'mailplatforms', kind: 'MailPlatform', namespaced: true, statusSubresource: true, custom: true });
  const platform = { apiVersion: 'mailfleet.io/v1alpha1', kind: 'MailPlatform', metadata: { name: 'isp', namespace: NS }, spec: { domains: ['example.net'] } };

  await objects.patch(platform, undefined, undefined, 'mailfleet-cli', undefined, PatchStrategy.ServerSideApply);
  const list = await objects.list<KubernetesObject & { spec?: unknown }>('mailfleet.io/v1alpha1', 'MailPlatform', NS);

  assert.deepEqual(list.items.map((i) => [i.kind, i.metadata?.name, i.spec]), [['MailPlatform', 'isp', { domains: ['example.net'] }]]);
  assert.ok(server.requests.some((r) => r.path === '/apis/mailfleet.io/v1alpha1' && r.verb === ''));
});

test('GIVEN a CustomResourceDefinition created through the API WHEN it settles THEN it is Established and its kind is served', async (t) => {
  const { objects } = await startTestCluster(t);
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'mailplatforms.mailfleet.io' },
    spec: {
      group: 'mailfleet.io',
      scope: 'Namespaced',
      names: { plural: 'mailplatforms', singular: 'mailplatform', kind: 'MailPlatform' },
      versions: [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: 'object' } } }],
    },
  };

  await objects.create(crd);
  await waitFor('the CRD to be Established', async () => {
    const read = await objects.read<KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } }>(crd);
    return read.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
  const created: KubernetesObject = await objects.create({ apiVersion: 'mailfleet.io/v1alpha1', kind: 'MailPlatform', metadata: { name: 'isp', namespace: NS } });

  assert.equal(created.metadata?.uid?.length, 36);
});
