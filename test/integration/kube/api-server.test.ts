/**
 * The in-process API server's object verbs, driven only through the real @kubernetes/client-node.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoreV1Api, KubeConfig, type V1Deployment, type V1Lease } from '@kubernetes/client-node';
import { rejectionStatus, startTestCluster, waitFor } from '../../support/kube/client.ts';

const NS = 'default';

function lease(name: string, holder: string): V1Lease {
  return { metadata: { name, namespace: NS }, spec: { holderIdentity: holder, leaseDurationSeconds: 15 } };
}

function deployment(name: string, replicas: number): V1Deployment {
  return {
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image: 'busybox' }] } },
    },
  };
}

test('GIVEN an empty server WHEN ConfigMaps are listed THEN the list is empty and carries a resourceVersion', async (t) => {
  const { core } = await startTestCluster(t);

  const list = await core.listNamespacedConfigMap({ namespace: NS });

  assert.deepEqual(list.items, []);
  assert.match(list.metadata?.resourceVersion ?? '', /^\d+$/);
});

test('GIVEN a new ConfigMap WHEN it is created THEN it gets uid, creationTimestamp, a fresh resourceVersion and generation 1', async (t) => {
  const { core, server } = await startTestCluster(t);
  const before = Number(server.resourceVersion);

  const created = await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'settings' }, data: { a: '1' } } });

  assert.match(created.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
  assert.ok(created.metadata?.creationTimestamp instanceof Date);
  assert.equal(Number(created.metadata?.resourceVersion), before + 1);
  assert.equal(created.metadata?.generation, 1);
  const read = await core.readNamespacedConfigMap({ name: 'settings', namespace: NS });
  assert.deepEqual(read.data, { a: '1' });
  assert.equal(read.metadata?.uid, created.metadata?.uid);
});

test('GIVEN an existing ConfigMap WHEN one with the same name is created THEN the server answers 409 AlreadyExists', async (t) => {
  const { core } = await startTestCluster(t);
  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'dup' } } });

  const status = await rejectionStatus(core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'dup' } } }));

  assert.equal(status.code, 409);
  assert.equal(status.reason, 'AlreadyExists');
  assert.deepEqual(status.details, { name: 'dup', kind: 'configmaps' });
});

test('GIVEN no such object WHEN it is read THEN the server answers 404 NotFound naming the group-qualified resource', async (t) => {
  const { apps } = await startTestCluster(t);

  const status = await rejectionStatus(apps.readNamespacedDeployment({ name: 'ghost', namespace: NS }));

  assert.equal(status.reason, 'NotFound');
  assert.equal(status.message, 'deployments.apps "ghost" not found');
});

test('GIVEN two contenders that read the same Lease WHEN both replace it THEN the second gets 409 Conflict', async (t) => {
  const { coordination } = await startTestCluster(t);
  await coordination.createNamespacedLease({ namespace: NS, body: lease('leader', '') });
  const seenByA = await coordination.readNamespacedLease({ name: 'leader', namespace: NS });
  const seenByB = await coordination.readNamespacedLease({ name: 'leader', namespace: NS });

  await coordination.replaceNamespacedLease({ name: 'leader', namespace: NS, body: { ...seenByA, spec: { ...seenByA.spec, holderIdentity: 'a' } } });
  const status = await rejectionStatus(
    coordination.replaceNamespacedLease({ name: 'leader', namespace: NS, body: { ...seenByB, spec: { ...seenByB.spec, holderIdentity: 'b' } } }),
  );

  assert.equal(status.reason, 'Conflict');
  assert.match(status.message, /the object has been modified/);
  assert.equal((await coordination.readNamespacedLease({ name: 'leader', namespace: NS })).spec?.holderIdentity, 'a');
});

test('GIVEN a Lease WHEN its spec changes THEN generation goes up, and WHEN only labels change THEN it does not', async (t) => {
  const { coordination } = await startTestCluster(t);
  const created = await coordination.createNamespacedLease({ namespace: NS, body: lease('gen', 'a') });

  const specChanged = await coordination.replaceNamespacedLease({ name: 'gen', namespace: NS, body: { ...created, spec: { ...created.spec, holderIdentity: 'b' } } });
  const labelled = await coordination.replaceNamespacedLease({ name: 'gen', namespace: NS, body: { ...specChanged, metadata: { ...specChanged.metadata, labels: { x: 'y' } } } });

  assert.equal(specChanged.metadata?.generation, 2);
  assert.equal(labelled.metadata?.generation, 2);
  assert.ok(Number(labelled.metadata?.resourceVersion) > Number(specChanged.metadata?.resourceVersion));
});

test('GIVEN a Deployment WHEN its status subresource is replaced THEN only .status changes and generation stays', async (t) => {
  const { apps } = await startTestCluster(t);
  const created = await apps.createNamespacedDeployment({ namespace: NS, body: deployment('web', 2) });

  const updated = await apps.replaceNamespacedDeploymentStatus({
    name: 'web',
    namespace: NS,
    body: { ...created, spec: { ...created.spec!, replicas: 9 }, status: { readyReplicas: 2, observedGeneration: 1 } },
  });

  assert.equal(updated.status?.readyReplicas, 2);
  assert.equal(updated.spec?.replicas, 2);
  assert.equal(updated.metadata?.generation, 1);
});

test('GIVEN a Deployment with status WHEN the main resource is replaced with another status THEN .status is kept', async (t) => {
  const { apps } = await startTestCluster(t);
  const created = await apps.createNamespacedDeployment({ namespace: NS, body: deployment('web', 2) });
  const withStatus = await apps.replaceNamespacedDeploymentStatus({ name: 'web', namespace: NS, body: { ...created, status: { readyReplicas: 2 } } });

  const replaced = await apps.replaceNamespacedDeployment({ name: 'web', namespace: NS, body: { ...withStatus, spec: { ...withStatus.spec!, replicas: 3 }, status: { readyReplicas: 0 } } });

  assert.equal(replaced.status?.readyReplicas, 2);
  assert.equal(replaced.spec?.replicas, 3);
  assert.equal(replaced.metadata?.generation, 2);
});

test('GIVEN dryRun=All WHEN a ConfigMap is created THEN the answer is the object but nothing is stored', async (t) => {
  const { core } = await startTestCluster(t);

  const answer = await core.createNamespacedConfigMap({ namespace: NS, dryRun: 'All', body: { metadata: { name: 'dry' }, data: { k: 'v' } } });

  assert.equal(answer.metadata?.name, 'dry');
  assert.equal((await rejectionStatus(core.readNamespacedConfigMap({ name: 'dry', namespace: NS }))).reason, 'NotFound');
});

test('GIVEN an invalid name WHEN an object is created THEN the server answers 422 Invalid with the field in the causes', async (t) => {
  const { core } = await startTestCluster(t);

  const status = await rejectionStatus(core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'Not_Valid' } } }));

  assert.equal(status.code, 422);
  assert.equal(status.reason, 'Invalid');
  assert.equal(status.details?.causes?.[0]?.field, 'metadata.name');
});

test('GIVEN a ConfigMap WHEN it is deleted THEN the answer is a Success Status and a second delete gets 404', async (t) => {
  const { core } = await startTestCluster(t);
  const created = await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'gone' } } });

  const status = await core.deleteNamespacedConfigMap({ name: 'gone', namespace: NS });

  assert.equal(status.status, 'Success');
  assert.equal(status.details?.uid, created.metadata?.uid);
  assert.equal((await rejectionStatus(core.deleteNamespacedConfigMap({ name: 'gone', namespace: NS }))).code, 404);
});

test('GIVEN a ConfigMap with a finalizer WHEN it is deleted THEN it stays terminating until the finalizer is removed', async (t) => {
  const { core } = await startTestCluster(t);
  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'held', finalizers: ['mailfleet.io/drain'] } } });

  await core.deleteNamespacedConfigMap({ name: 'held', namespace: NS });
  const terminating = await core.readNamespacedConfigMap({ name: 'held', namespace: NS });
  await core.replaceNamespacedConfigMap({ name: 'held', namespace: NS, body: { ...terminating, metadata: { ...terminating.metadata, finalizers: [] } } });

  assert.ok(terminating.metadata?.deletionTimestamp instanceof Date);
  assert.equal((await rejectionStatus(core.readNamespacedConfigMap({ name: 'held', namespace: NS }))).reason, 'NotFound');
});

test('GIVEN an owner and a dependent WHEN the owner is deleted THEN the dependent is garbage-collected', async (t) => {
  const { core, apps } = await startTestCluster(t);
  const owner = await apps.createNamespacedDeployment({ namespace: NS, body: deployment('owner', 1) });
  const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'owner', uid: owner.metadata!.uid!, controller: true };
  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'dependent', ownerReferences: [ref] } } });

  await apps.deleteNamespacedDeployment({ name: 'owner', namespace: NS });

  await waitFor('the dependent to be collected', async () => (await core.listNamespacedConfigMap({ namespace: NS })).items.length === 0);
});

test('GIVEN failNext(list, configmaps, 503, 2) WHEN ConfigMaps are listed three times THEN two fail with 503 and the third succeeds', async (t) => {
  const { core, server } = await startTestCluster(t);
  server.failNext('list', 'configmaps', 503, 2);

  const first = await rejectionStatus(core.listNamespacedConfigMap({ namespace: NS }));
  const second = await rejectionStatus(core.listNamespacedConfigMap({ namespace: NS }));
  const third = await core.listNamespacedConfigMap({ namespace: NS });

  assert.deepEqual([first.code, first.reason, second.code], [503, 'ServiceUnavailable', 503]);
  assert.deepEqual(third.items, []);
  assert.equal(server.requests.filter((r) => r.verb === 'list' && r.resource === 'configmaps').length, 3);
});

test('GIVEN a client with a wrong token WHEN it lists THEN the server answers 401', async (t) => {
  const { server } = await startTestCluster(t);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: server.url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'wrong' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });

  await assert.rejects(kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: NS }), { code: 401 });
});
