/**
 * LIST through the real client: label and field selectors, all-namespace lists, and
 * limit/continue paging with the real server's consistent-snapshot semantics.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { rejectionStatus, startTestCluster, type TestCluster } from '../../support/kube/client.ts';

function slice(name: string, namespace: string, labels: Record<string, string>, address = '10.0.0.1'): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true, serving: true, terminating: false } }],
  };
}

async function seedSlices(cluster: TestCluster): Promise<void> {
  const rows: [string, string, Record<string, string>][] = [
    ['mailbox-a', 'mail', { app: 'mailbox', tier: 'backend' }],
    ['mailbox-b', 'mail', { app: 'mailbox' }],
    ['proxy-a', 'mail', { app: 'proxy', tier: 'edge' }],
    ['mta-a', 'mail', { app: 'mta', tier: 'edge' }],
    ['other-a', 'other', { app: 'mailbox', tier: 'backend' }],
  ];
  for (const [name, namespace, labels] of rows) await cluster.discovery.createNamespacedEndpointSlice({ namespace, body: slice(name, namespace, labels) });
}

async function names(cluster: TestCluster, labelSelector: string): Promise<string[]> {
  const list = await cluster.discovery.listNamespacedEndpointSlice({ namespace: 'mail', labelSelector });
  return list.items.map((s) => s.metadata?.name ?? '');
}

test('GIVEN labelled EndpointSlices WHEN listed with each selector operator THEN exactly the matching ones come back, sorted by name', async (t) => {
  const cluster = await startTestCluster(t);
  await seedSlices(cluster);
  const table: [string, string[]][] = [
    ['app=mailbox', ['mailbox-a', 'mailbox-b']],
    ['app==mailbox', ['mailbox-a', 'mailbox-b']],
    ['app!=mailbox', ['mta-a', 'proxy-a']],
    ['app in (proxy, mta)', ['mta-a', 'proxy-a']],
    ['app notin (mailbox)', ['mta-a', 'proxy-a']],
    ['tier', ['mailbox-a', 'mta-a', 'proxy-a']],
    ['!tier', ['mailbox-b']],
    ['tier notin (edge)', ['mailbox-a', 'mailbox-b']],
    ['app=mailbox,tier=backend', ['mailbox-a']],
    ['app in (mailbox),!tier', ['mailbox-b']],
    ['', ['mailbox-a', 'mailbox-b', 'mta-a', 'proxy-a']],
  ];

  for (const [selector, expected] of table) assert.deepEqual(await names(cluster, selector), expected, selector);
});

test('GIVEN a malformed label selector WHEN a list is asked THEN the server answers 400 BadRequest', async (t) => {
  const cluster = await startTestCluster(t);

  const status = await rejectionStatus(cluster.discovery.listNamespacedEndpointSlice({ namespace: 'mail', labelSelector: 'app in mailbox' }));

  assert.equal(status.code, 400);
  assert.equal(status.reason, 'BadRequest');
});

test('GIVEN slices in two namespaces WHEN listed for all namespaces THEN both namespaces are returned in namespace/name order', async (t) => {
  const cluster = await startTestCluster(t);
  await seedSlices(cluster);

  const list = await cluster.discovery.listEndpointSliceForAllNamespaces({ labelSelector: 'tier=backend' });

  assert.deepEqual(list.items.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`), ['mail/mailbox-a', 'other/other-a']);
});

test('GIVEN slices in two namespaces WHEN listed with field selectors on name and namespace THEN only those objects come back', async (t) => {
  const cluster = await startTestCluster(t);
  await seedSlices(cluster);

  const byName = await cluster.discovery.listEndpointSliceForAllNamespaces({ fieldSelector: 'metadata.name=other-a' });
  const notMail = await cluster.discovery.listEndpointSliceForAllNamespaces({ fieldSelector: 'metadata.namespace!=mail' });
  const unsupported = await rejectionStatus(cluster.discovery.listEndpointSliceForAllNamespaces({ fieldSelector: 'spec.nope=1' }));

  assert.deepEqual(byName.items.map((s) => s.metadata?.namespace), ['other']);
  assert.deepEqual(notMail.items.map((s) => s.metadata?.name), ['other-a']);
  assert.equal(unsupported.code, 400);
});

test('GIVEN five ConfigMaps WHEN listed with limit 2 THEN three pages come back joined by continue tokens at one resourceVersion', async (t) => {
  const { core } = await startTestCluster(t);
  for (const n of ['c', 'a', 'e', 'b', 'd']) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: n } } });

  const first = await core.listNamespacedConfigMap({ namespace: 'default', limit: 2 });
  const second = await core.listNamespacedConfigMap({ namespace: 'default', limit: 2, _continue: first.metadata!._continue! });
  const third = await core.listNamespacedConfigMap({ namespace: 'default', limit: 2, _continue: second.metadata!._continue! });

  assert.deepEqual([first, second, third].map((p) => p.items.map((i) => i.metadata?.name)), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.equal(first.metadata?.remainingItemCount, 3);
  assert.equal(third.metadata?._continue, undefined);
  assert.equal(new Set([first, second, third].map((p) => p.metadata?.resourceVersion)).size, 1);
});

test('GIVEN a first page WHEN objects change before the next page THEN the continuation still shows the snapshot of the first', async (t) => {
  const { core, server } = await startTestCluster(t);
  for (const n of ['a', 'b', 'c']) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: n } } });
  const first = await core.listNamespacedConfigMap({ namespace: 'default', limit: 1 });

  server.remove('v1', 'ConfigMap', 'default', 'c');
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'bb' } } });
  const rest = await core.listNamespacedConfigMap({ namespace: 'default', _continue: first.metadata!._continue! });

  assert.deepEqual(rest.items.map((i) => i.metadata?.name), ['b', 'c']);
});

test('GIVEN a continue token WHEN history is compacted before it is used THEN the server answers 410 Expired', async (t) => {
  const { core, server } = await startTestCluster(t);
  for (const n of ['a', 'b']) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: n } } });
  const first = await core.listNamespacedConfigMap({ namespace: 'default', limit: 1 });
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c' } } });

  server.compactHistory();
  const status = await rejectionStatus(core.listNamespacedConfigMap({ namespace: 'default', limit: 1, _continue: first.metadata!._continue! }));

  assert.equal(status.code, 410);
  assert.equal(status.reason, 'Expired');
});

test('GIVEN later changes WHEN listed with resourceVersionMatch=Exact at an earlier version THEN the list is as it was then', async (t) => {
  const { core } = await startTestCluster(t);
  const a = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'a' }, data: { v: '1' } } });
  await core.patchNamespacedConfigMap({ name: 'a', namespace: 'default', body: [{ op: 'replace', path: '/data/v', value: '2' }] });
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'b' } } });

  const then = await core.listNamespacedConfigMap({ namespace: 'default', resourceVersion: a.metadata!.resourceVersion!, resourceVersionMatch: 'Exact' });

  assert.deepEqual(then.items.map((i) => [i.metadata?.name, i.data?.v]), [['a', '1']]);
  assert.equal(then.metadata?.resourceVersion, a.metadata?.resourceVersion);
});
