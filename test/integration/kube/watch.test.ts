/**
 * WATCH through the real client: makeInformer/ListWatch and the raw Watch against the server's
 * fault injection (compaction, dropped, ended and stalled connections, injected failures).
 * Several tests pin client-node 2.0.1 behaviour a controller has to work around.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { KubeConfig, ListWatch, makeInformer, Watch, type V1ConfigMap } from '@kubernetes/client-node';
import { recordInformer, startTestCluster, waitFor, type TestCluster } from '../../support/kube/client.ts';

const NS = 'default';
const PATH = `/api/v1/namespaces/${NS}/configmaps`;

function seed(cluster: TestCluster, ...names: string[]): void {
  for (const name of names) cluster.server.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS } });
}

/** A started informer on ConfigMaps in NS, stopped when the test ends. */
async function startInformer(t: TestContext, cluster: TestCluster, labelSelector?: string) {
  const informer = makeInformer<V1ConfigMap>(cluster.kc, PATH, () => cluster.core.listNamespacedConfigMap({ namespace: NS, labelSelector }), labelSelector);
  const recorder = recordInformer(informer);
  t.after(() => informer.stop());
  await informer.start();
  await waitFor('the watch to open', () => cluster.server.openWatches === 1);
  return { informer, recorder };
}

const watchRequests = (cluster: TestCluster) => cluster.server.requests.filter((r) => r.verb === 'watch');
const listRequests = (cluster: TestCluster) => cluster.server.requests.filter((r) => r.verb === 'list');

interface RawEvent {
  type: string;
  object: { code?: number; reason?: string; metadata?: { name?: string; resourceVersion?: string } };
}

/** A raw client-node Watch: its events, and a promise of the `done` callback's argument. */
async function rawWatch(t: TestContext, kc: KubeConfig, query: Record<string, string>) {
  const events: RawEvent[] = [];
  let settle: (err: unknown) => void = () => undefined;
  const done = new Promise<unknown>((resolve) => (settle = resolve));
  const controller = await new Watch(kc).watch(PATH, query, (type, object: RawEvent['object']) => events.push({ type, object }), (err) => settle(err ?? null));
  t.after(() => controller.abort());
  return { events, done };
}

test('GIVEN a started informer WHEN a ConfigMap is created, updated and deleted through the API THEN it emits add, update and delete', async (t) => {
  const cluster = await startTestCluster(t);
  const { recorder } = await startInformer(t, cluster);

  await cluster.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'cfg' }, data: { a: '1' } } });
  await cluster.core.patchNamespacedConfigMap({ name: 'cfg', namespace: NS, body: [{ op: 'replace', path: '/data/a', value: '2' }] });
  await cluster.core.deleteNamespacedConfigMap({ name: 'cfg', namespace: NS });

  await recorder.next((e) => e.type === 'delete');
  assert.deepEqual(recorder.changes(), ['add:cfg', 'update:cfg', 'delete:cfg']);
});

test('GIVEN an informer with a label selector WHEN an object leaves and re-enters the selection THEN it sees delete and then add', async (t) => {
  const cluster = await startTestCluster(t);
  const { recorder } = await startInformer(t, cluster, 'app=mailbox');
  const relabel = (app: string) => cluster.core.patchNamespacedConfigMap({ name: 'm', namespace: NS, body: [{ op: 'replace', path: '/metadata/labels/app', value: app }] });

  await cluster.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'm', labels: { app: 'mailbox' } } } });
  await cluster.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'p', labels: { app: 'proxy' } } } });
  await relabel('proxy');
  await relabel('mailbox');

  await waitFor('three changes', () => recorder.changes().length >= 3);
  assert.deepEqual(recorder.changes(), ['add:m', 'delete:m', 'add:m']);
});

test('GIVEN a stopped informer WHEN objects change, history is compacted and it restarts THEN it relists and emits delete for the vanished object', async (t) => {
  const cluster = await startTestCluster(t);
  seed(cluster, 'a', 'b');
  const { informer, recorder } = await startInformer(t, cluster);
  const lastSeen = cluster.server.resourceVersion;
  await informer.stop();

  cluster.server.remove('v1', 'ConfigMap', NS, 'b');
  seed(cluster, 'c');
  cluster.server.compactHistory();
  const from = recorder.events.length;
  await informer.start();

  await recorder.next((e) => e.type === 'add' && e.name === 'c', from);
  assert.deepEqual(recorder.changes().slice(-2), ['delete:b', 'add:c']);
  assert.equal(watchRequests(cluster)[1]?.query.resourceVersion, lastSeen);
  assert.equal(listRequests(cluster).length, 2);
  assert.deepEqual(informer.list().map((o) => o.metadata?.name).sort(), ['a', 'c']);
});

test('GIVEN a running informer WHEN the server drops the watch connection THEN it emits error and does not reconnect by itself', async (t) => {
  const cluster = await startTestCluster(t);
  const { recorder } = await startInformer(t, cluster);

  cluster.server.dropWatches();

  const error = await recorder.next((e) => e.type === 'error');
  assert.deepEqual(error.error, { name: 'TypeError', message: 'terminated', statusCode: undefined, code: 'UND_ERR_SOCKET' });
  assert.equal(cluster.server.openWatches, 0);
  assert.equal(watchRequests(cluster).length, 1);
});

test('GIVEN an informer stopped by a dropped connection WHEN start() is called THEN it watches from its last resourceVersion without relisting', async (t) => {
  const cluster = await startTestCluster(t);
  seed(cluster, 'a');
  const { informer, recorder } = await startInformer(t, cluster);
  cluster.server.dropWatches();
  await recorder.next((e) => e.type === 'error');
  seed(cluster, 'b');

  await informer.start();

  await recorder.next((e) => e.type === 'add' && e.name === 'b');
  assert.equal(listRequests(cluster).length, 1);
  assert.equal(watchRequests(cluster)[1]?.query.resourceVersion, watchRequests(cluster)[0]?.query.resourceVersion);
});

test('GIVEN a running informer WHEN the server ends the watch cleanly THEN it reconnects by itself from its last resourceVersion, without error', async (t) => {
  const cluster = await startTestCluster(t);
  const { recorder } = await startInformer(t, cluster);

  cluster.server.endWatches();
  await waitFor('a second watch', () => watchRequests(cluster).length === 2 && cluster.server.openWatches === 1);
  seed(cluster, 'after');

  await recorder.next((e) => e.type === 'add' && e.name === 'after');
  assert.equal(recorder.events.filter((e) => e.type === 'error').length, 0);
  assert.equal(listRequests(cluster).length, 1);
});

test('GIVEN a stalled watch WHEN objects change during the stall THEN the informer never receives those events, even after resume', async (t) => {
  const cluster = await startTestCluster(t);
  const { informer, recorder } = await startInformer(t, cluster);

  cluster.server.stallWatches();
  await cluster.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'lost' } } });
  cluster.server.resumeWatches();
  await cluster.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'later' } } });

  // 'later' travels on the same connection after 'lost' would have, so its arrival proves 'lost' never will.
  await recorder.next((e) => e.name === 'later');
  assert.deepEqual(recorder.changes(), ['add:later']);
  assert.equal(informer.get('lost', NS), undefined);
  assert.equal(watchRequests(cluster).length, 1);
});

test('GIVEN a stalled watch WHEN the client inactivity timeout passes THEN ListWatch reconnects from its last resourceVersion and replays the missed change', async (t) => {
  const cluster = await startTestCluster(t);
  const watch = new Watch(cluster.kc);
  // client-node 2.0.1 aborts a watch after 30 s without data (private `requestTimeoutMs`); shortened here.
  Object.assign(watch, { requestTimeoutMs: 300 });
  const informer = new ListWatch<V1ConfigMap>(PATH, watch, () => cluster.core.listNamespacedConfigMap({ namespace: NS }), false);
  const recorder = recordInformer(informer);
  t.after(() => informer.stop());
  await informer.start();
  await waitFor('the watch to open', () => cluster.server.openWatches === 1);
  const lastSeen = cluster.server.resourceVersion;

  cluster.server.stallWatches();
  seed(cluster, 'missed');

  await recorder.next((e) => e.type === 'add' && e.name === 'missed');
  assert.equal(watchRequests(cluster)[1]?.query.resourceVersion, lastSeen);
  assert.equal(recorder.events.filter((e) => e.type === 'error').length, 0);
});

test('GIVEN a running informer WHEN the next watch fails with 500 THEN it emits error carrying the status code and stops', async (t) => {
  const cluster = await startTestCluster(t);
  const { recorder } = await startInformer(t, cluster);
  cluster.server.failNext('watch', 'configmaps', 500);

  cluster.server.endWatches();

  const error = await recorder.next((e) => e.type === 'error');
  assert.equal(error.error?.statusCode, 500);
  assert.equal(cluster.server.openWatches, 0);
});

test('GIVEN a running informer WHEN it is stopped THEN client-node reports an AbortError through the error callback', async (t) => {
  const cluster = await startTestCluster(t);
  const { informer, recorder } = await startInformer(t, cluster);

  await informer.stop();

  const error = await recorder.next((e) => e.type === 'error');
  assert.equal(error.error?.name, 'AbortError');
});

test('GIVEN a resourceVersion older than the history WHEN a watch starts there THEN it gets an ERROR event with Status 410 Expired and ends', async (t) => {
  const cluster = await startTestCluster(t);
  seed(cluster, 'a');
  const old = cluster.server.resourceVersion;
  seed(cluster, 'b');
  cluster.server.compactHistory();

  const { events, done } = await rawWatch(t, cluster.kc, { resourceVersion: old });

  assert.equal(await done, null);
  assert.deepEqual(events.map((e) => [e.type, e.object.code, e.object.reason]), [['ERROR', 410, 'Expired']]);
});

test('GIVEN a watch from a resourceVersion WHEN it opens THEN it replays only later changes, each with its own resourceVersion', async (t) => {
  const cluster = await startTestCluster(t);
  seed(cluster, 'a');
  const from = cluster.server.resourceVersion;
  seed(cluster, 'b', 'a');

  const { events } = await rawWatch(t, cluster.kc, { resourceVersion: from });

  await waitFor('two events', () => events.length === 2);
  assert.deepEqual(events.map((e) => `${e.type}:${e.object.metadata?.name}:${e.object.metadata?.resourceVersion}`), [`ADDED:b:${Number(from) + 1}`, `MODIFIED:a:${Number(from) + 2}`]);
});

test('GIVEN a watch that allows bookmarks WHEN the server sends bookmarks THEN a BOOKMARK carries the current resourceVersion', async (t) => {
  const cluster = await startTestCluster(t);
  seed(cluster, 'a');
  const { events } = await rawWatch(t, cluster.kc, { resourceVersion: cluster.server.resourceVersion, allowWatchBookmarks: 'true' });
  await waitFor('the watch to open', () => cluster.server.openWatches === 1);

  cluster.server.sendBookmarks();

  await waitFor('a bookmark', () => events.length === 1);
  assert.deepEqual(events.map((e) => [e.type, e.object.metadata?.resourceVersion]), [['BOOKMARK', cluster.server.resourceVersion]]);
});

test('GIVEN timeoutSeconds=1 WHEN no events arrive THEN the server ends the watch cleanly', async (t) => {
  const cluster = await startTestCluster(t);

  const { events, done } = await rawWatch(t, cluster.kc, { resourceVersion: cluster.server.resourceVersion, timeoutSeconds: '1' });

  assert.equal(await done, null);
  assert.deepEqual(events, []);
});
