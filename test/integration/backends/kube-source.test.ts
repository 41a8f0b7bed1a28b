import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createEndpointBook, plan, type Backend, type DirectorHost } from '../../../src/backends/index.ts';
import { createEndpointSliceSource, runWithLease } from '../../../src/backends/kube.ts';
import { createLogger } from '../../../src/log.ts';
import { startTestCluster, waitFor, type TestCluster } from '../../support/kube/client.ts';

const NS = 'mail';
const log = createLogger('test', { level: 'silent' });

interface Ep { name: string; address: string; ready: boolean; serving: boolean; terminating: boolean }

function slice(name: string, endpoints: Ep[]) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: NS, labels: { 'kubernetes.io/service-name': 'mailbox' } },
    addressType: 'IPv4',
    ports: [{ name: 'lmtp', port: 24, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.address],
      conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
      targetRef: { kind: 'Pod', namespace: NS, name: e.name },
    })),
  };
}

const ep = (name: string, address: string, over: Partial<Ep> = {}): Ep => ({ name, address, ready: true, serving: true, terminating: false, ...over });
const strip = (list: Backend[] | undefined) => list?.map(({ readySince: _r, ...b }) => b);

async function startSource(t: TestContext, cluster: TestCluster, relistMs = 60_000) {
  const source = createEndpointSliceSource({ kubeConfig: cluster.kc, namespace: NS, service: 'mailbox', log, relistMs });
  let changes = 0;
  source.onChange(() => changes++);
  const abort = new AbortController();
  const running = source.start(abort.signal);
  t.after(async () => {
    abort.abort();
    await running;
  });
  await waitFor('source synced', () => source.list() !== undefined);
  return { source, changes: () => changes };
}

test('GIVEN mailbox EndpointSlices WHEN the source lists them THEN it yields one backend per address with ready and terminating conditions', async (t) => {
  const cluster = await startTestCluster(t);
  cluster.server.put(slice('mailbox-a', [ep('mailbox-0', '10.1.0.10'), ep('mailbox-1', '10.1.0.11', { ready: false, serving: false })]));
  cluster.server.put(slice('mailbox-b', [ep('mailbox-2', '10.1.0.12', { ready: false, serving: true, terminating: true })]));
  cluster.server.put({ ...slice('other', [ep('x-0', '10.9.9.9')]), metadata: { name: 'other', namespace: NS, labels: { 'kubernetes.io/service-name': 'other' } } });
  const { source } = await startSource(t, cluster);
  assert.deepEqual(strip(source.list()), [
    { name: 'mailbox-0', address: '10.1.0.10', ready: true, terminating: false },
    { name: 'mailbox-1', address: '10.1.0.11', ready: false, terminating: false },
    { name: 'mailbox-2', address: '10.1.0.12', ready: false, terminating: true },
  ]);
});

test('GIVEN the same endpoints from Kubernetes and from the single-host runtime WHEN planned THEN the plans are equal', async (t) => {
  const cluster = await startTestCluster(t);
  const endpoints = [ep('mailbox-0', '10.1.0.10'), ep('mailbox-1', '10.1.0.11', { ready: false, serving: false }), ep('mailbox-3', '10.1.0.13', { ready: false, terminating: true })];
  cluster.server.put(slice('mailbox-a', endpoints));
  const { source } = await startSource(t, cluster);
  const book = createEndpointBook();
  for (const e of endpoints) book.apply({ type: 'ADDED', endpoint: { role: 'mailbox', ...e } });
  const actual: DirectorHost[] = [
    { address: '10.1.0.11', vhosts: 100, up: true, users: 2 },
    { address: '10.1.0.13', vhosts: 100, up: true, users: 5 },
    { address: '10.1.0.99', vhosts: 100, up: true, users: 1 },
  ];
  const opts = { vhostCount: 100, drainTimeoutMs: 60_000, now: 0 };
  const fromKube = plan(source.list() ?? [], actual, new Map(), opts);
  assert.deepEqual(fromKube, plan(book.list(), actual, new Map(), opts));
  assert.deepEqual(fromKube.map((s) => `${s.op} ${s.address}`), ['add 10.1.0.10', 'down 10.1.0.11', 'update 10.1.0.13', 'flush 10.1.0.13', 'update 10.1.0.99', 'flush 10.1.0.99', 'remove 10.1.0.99']);
});

test('GIVEN a running source WHEN a slice changes THEN a change is signalled and the list follows', async (t) => {
  const cluster = await startTestCluster(t);
  cluster.server.put(slice('mailbox-a', [ep('mailbox-0', '10.1.0.10')]));
  const { source, changes } = await startSource(t, cluster);
  const before = changes();
  cluster.server.put(slice('mailbox-a', [ep('mailbox-0', '10.1.0.10'), ep('mailbox-1', '10.1.0.11')]));
  await waitFor('change seen', () => changes() > before && source.list()?.length === 2);
});

test('GIVEN a watch whose history was compacted WHEN the connection drops THEN the informer relists (410 Gone) and deletions made meanwhile are seen', async (t) => {
  const cluster = await startTestCluster(t);
  cluster.server.put(slice('mailbox-a', [ep('mailbox-0', '10.1.0.10')]));
  cluster.server.put(slice('mailbox-b', [ep('mailbox-1', '10.1.0.11')]));
  const { source } = await startSource(t, cluster);
  await waitFor('both listed', () => source.list()?.length === 2);
  cluster.server.stallWatches();
  cluster.server.remove('discovery.k8s.io/v1', 'EndpointSlice', NS, 'mailbox-b');
  cluster.server.compactHistory();
  cluster.server.dropWatches();
  await waitFor('deletion seen after relist', () => source.list()?.length === 1, 15_000);
  assert.equal(source.list()?.[0]?.address, '10.1.0.10');
});

test('GIVEN a dropped watch connection WHEN the informer stops THEN it is restarted with backoff and later changes arrive', async (t) => {
  const cluster = await startTestCluster(t);
  cluster.server.put(slice('mailbox-a', [ep('mailbox-0', '10.1.0.10')]));
  const { source } = await startSource(t, cluster);
  cluster.server.dropWatches();
  await waitFor('informer restarted', () => source.restarts() >= 1, 15_000);
  cluster.server.put(slice('mailbox-a', [ep('mailbox-0', '10.1.0.20')]));
  await waitFor('change after restart', () => source.list()?.[0]?.address === '10.1.0.20', 15_000);
});

test('GIVEN a silently stalled watch WHEN endpoints change THEN the watchdog relist catches the change', async (t) => {
  const cluster = await startTestCluster(t);
  cluster.server.put(slice('mailbox-a', [ep('mailbox-0', '10.1.0.10')]));
  const { source } = await startSource(t, cluster, 300);
  cluster.server.stallWatches();
  cluster.server.put(slice('mailbox-a', [ep('mailbox-0', '10.1.0.10'), ep('mailbox-1', '10.1.0.11')]));
  await waitFor('watchdog relisted', () => source.list()?.length === 2, 10_000);
  // The repaired source keeps following: a fresh informer replaced the stalled one.
  cluster.server.put(slice('mailbox-a', [ep('mailbox-0', '10.1.0.10'), ep('mailbox-1', '10.1.0.11'), ep('mailbox-2', '10.1.0.12')]));
  await waitFor('later change seen', () => source.list()?.length === 3, 10_000);
  const lists = cluster.server.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/endpointslices') && r.query.watch === undefined);
  assert.ok(lists.length >= 2, `expected a relist, saw ${lists.length} LIST requests`);
});

test('GIVEN two replicas WHEN they compete for the Lease THEN exactly one leads, and the other takes over when it stops', async (t) => {
  const cluster = await startTestCluster(t);
  const leading = new Set<string>();
  const everLed: string[] = [];
  const replica = (identity: string) => {
    const abort = new AbortController();
    const done = runWithLease({ kubeConfig: cluster.kc, namespace: NS, name: 'backend-sync', identity, log, leaseDurationMs: 1500, renewMs: 300 }, abort.signal, async (signal) => {
      leading.add(identity);
      everLed.push(identity);
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      leading.delete(identity);
    });
    return { abort, done };
  };
  const a = replica('a');
  const b = replica('b');
  t.after(async () => {
    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.done, b.done]);
  });
  const first = await waitFor('a leader', () => [...leading][0]);
  assert.equal(leading.size, 1);
  const [winner, other] = first === 'a' ? [a, 'b'] : [b, 'a'];
  winner.abort.abort();
  await winner.done;
  await waitFor('the other replica leads', () => leading.has(other), 10_000);
  assert.equal(leading.size, 1);
  assert.deepEqual(everLed, [first, other]);
});
