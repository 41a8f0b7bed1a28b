/**
 * Backend sync as the single-host runtime assembles it (a real endpoint feed, directors found among its
 * proxy endpoints) against the in-memory director ring instead of Dovecot: the real controller, plan,
 * ring sync and waits, in milliseconds.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import {
  createBackendMetrics, createBackendSync, createEndpointFeed, createFeedSource, createMemoryDirectors, directorsFromEndpoints, type BackendSync, type Election,
  type EndpointFeed, type MemoryDirectors,
} from '../../src/backends/index.ts';
import { isMailfleetError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { until } from '../support/poll.ts';

const log = createLogger('test', { level: process.env.MAILFLEET_TEST_LOG ?? 'silent' });
const VHOSTS = 10;
const WAIT_MS = 5_000;

interface Harness {
  ring: MemoryDirectors;
  feed: EndpointFeed;
  sync: BackendSync;
  metrics: ReturnType<typeof createBackendMetrics>;
  /** Publishes a mailbox endpoint (ready unless told otherwise). */
  mailbox(name: string, address: string, over?: { ready?: boolean; terminating?: boolean }): void;
  /** Publishes a proxy endpoint and starts its director, knowing `servers`. */
  proxy(name: string, address: string, servers?: string[]): void;
  /** The host list of the director at `address`, as `address ready/weight/users` lines. */
  hosts(address: string): Promise<string[]>;
}

function startSync(t: TestContext, opts: { resyncMs?: number; drainTimeoutMs?: number; elect?: Election } = {}): Harness {
  const ring = createMemoryDirectors();
  const feed = createEndpointFeed();
  const metrics = createBackendMetrics();
  const sync = createBackendSync({
    source: createFeedSource(feed),
    directors: directorsFromEndpoints(() => feed.list(), 8080),
    connect: ring.connect,
    vhostCount: VHOSTS,
    resyncMs: opts.resyncMs ?? 60_000,
    drainTimeoutMs: opts.drainTimeoutMs ?? 60_000,
    log,
    metrics,
    ...(opts.elect ? { elect: opts.elect } : {}),
  });
  const abort = new AbortController();
  const done = sync.start(abort.signal);
  t.after(async () => {
    abort.abort();
    await done;
  });
  return {
    ring,
    feed,
    sync,
    metrics,
    mailbox(name, address, over = {}) {
      const ready = over.ready ?? true;
      const terminating = over.terminating ?? false;
      feed.upsert({ role: 'mailbox', name, address, ready: ready && !terminating, serving: ready, terminating });
    },
    proxy(name, address, servers = []) {
      ring.start(address, servers);
      feed.upsert({ role: 'proxy', name, address, ready: true, serving: true, terminating: false });
    },
    async hosts(address) {
      return (await ring.connect({ address, url: '' }).list()).map((h) => `${h.address} ${h.up ? 'up' : 'down'}/${h.vhosts}/${h.users}`);
    },
  };
}

async function counter(h: Harness, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await h.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

test('GIVEN ready mailbox endpoints and a director WHEN sync runs THEN the director lists each up with its weight and new users land on them', async (t) => {
  const h = startSync(t);
  h.proxy('proxy-0', '10.0.1.1');
  for (const i of [0, 1, 2]) h.mailbox(`mailbox-${i}`, `10.0.0.${i + 1}`);
  for (const i of [0, 1, 2]) await h.sync.waitRoutable({ name: `mailbox-${i}`, address: `10.0.0.${i + 1}` }, WAIT_MS);
  assert.deepEqual(await h.hosts('10.0.1.1'), ['10.0.0.1 up/10/0', '10.0.0.2 up/10/0', '10.0.0.3 up/10/0']);
  const landed = new Set(Array.from({ length: 60 }, (_, i) => h.ring.login('10.0.1.1', `user${i}@example.com`)));
  assert.deepEqual([...landed].sort(), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
});

test('GIVEN a director that agrees with the endpoints WHEN periodic resyncs run THEN nothing more is written', async (t) => {
  const h = startSync(t, { resyncMs: 20 });
  h.proxy('proxy-0', '10.0.1.1');
  h.mailbox('mailbox-0', '10.0.0.1');
  await h.sync.waitRoutable({ name: 'mailbox-0', address: '10.0.0.1' }, WAIT_MS);
  const before = await counter(h, 'mailfleet_backends_reconciles_total', { result: 'noop' });
  const writes = h.ring.writes();
  await until('three more no-op reconciles', async () => ((await counter(h, 'mailfleet_backends_reconciles_total', { result: 'noop' })) >= before + 3 ? true : undefined), WAIT_MS, 10);
  assert.deepEqual(h.ring.writes(), writes);
  assert.deepEqual(writes, ['add 10.0.0.1 10 via 10.0.1.1']);
});

test('GIVEN a backend with users WHEN its endpoint turns terminating THEN it gets weight 0, is flushed, then removed, and its users land elsewhere', async (t) => {
  const h = startSync(t);
  h.proxy('proxy-0', '10.0.1.1');
  h.mailbox('mailbox-0', '10.0.0.1');
  h.mailbox('mailbox-1', '10.0.0.2');
  await h.sync.waitRoutable({ name: 'mailbox-1', address: '10.0.0.2' }, WAIT_MS);
  const users = Array.from({ length: 40 }, (_, i) => `user${i}@example.com`);
  const onLeaving = users.filter((u) => h.ring.login('10.0.1.1', u) === '10.0.0.2');
  assert.ok(onLeaving.length > 0);

  h.mailbox('mailbox-1', '10.0.0.2', { terminating: true });
  assert.equal(await h.sync.waitRemoved('10.0.0.2', WAIT_MS), true);
  assert.deepEqual(h.ring.writes().filter((w) => w.includes('10.0.0.2')), ['add 10.0.0.2 10 via 10.0.1.1', 'update 10.0.0.2 0 via 10.0.1.1', 'flush 10.0.0.2 via 10.0.1.1', 'remove 10.0.0.2 via 10.0.1.1']);
  for (const u of onLeaving) assert.equal(h.ring.login('10.0.1.1', u), '10.0.0.1');
});

test('GIVEN a routable backend, the only one WHEN its endpoint turns unready THEN it is marked down, the gauge says 0 up (a series the no-backend-up alert sees, not a missing one), and up again once ready', async (t) => {
  const h = startSync(t);
  h.proxy('proxy-0', '10.0.1.1');
  h.mailbox('mailbox-0', '10.0.0.1');
  await h.sync.waitRoutable({ name: 'mailbox-0', address: '10.0.0.1' }, WAIT_MS);
  h.mailbox('mailbox-0', '10.0.0.1', { ready: false });
  await until('marked down', async () => ((await h.hosts('10.0.1.1')).join() === '10.0.0.1 down/10/0' ? true : undefined), WAIT_MS, 10);
  const states = async () => (await h.metrics.registry.getSingleMetric('mailfleet_backends')?.get())?.values.map((v) => `${String(v.labels.state)}=${v.value}`).sort();
  await until('the gauge to follow', async () => ((await states())?.join() === 'down=1,draining=0,up=0' ? true : undefined), WAIT_MS, 10);
  h.mailbox('mailbox-0', '10.0.0.1');
  await h.sync.waitRoutable({ name: 'mailbox-0', address: '10.0.0.1' }, WAIT_MS);
});

test('GIVEN a synced director WHEN a backend is removed behind the controller\'s back THEN the periodic resync adds it again', async (t) => {
  const h = startSync(t, { resyncMs: 50 });
  h.proxy('proxy-0', '10.0.1.1');
  h.mailbox('mailbox-0', '10.0.0.1');
  await h.sync.waitRoutable({ name: 'mailbox-0', address: '10.0.0.1' }, WAIT_MS);
  await h.ring.connect({ address: '10.0.1.1', url: '' }).apply({ op: 'remove', address: '10.0.0.1', reason: 'by hand' });
  assert.deepEqual(await h.hosts('10.0.1.1'), []);
  await h.sync.waitRoutable({ name: 'mailbox-0', address: '10.0.0.1' }, WAIT_MS);
});

test('GIVEN two directors in one ring WHEN a proxy comes back on a new address THEN the ring takes it in, drops the old one, and a new backend is routable in both', async (t) => {
  const h = startSync(t);
  h.proxy('proxy-0', '10.0.1.1', ['10.0.1.2']);
  h.proxy('proxy-1', '10.0.1.2', ['10.0.1.1']);
  h.mailbox('mailbox-0', '10.0.0.1');
  await h.sync.waitRoutable({ name: 'mailbox-0', address: '10.0.0.1' }, WAIT_MS);

  // proxy-1 restarts on a new address; its director_servers name the live proxies, proxy-0 knows only the old one.
  h.ring.stop('10.0.1.2');
  h.feed.remove('proxy-1', '10.0.1.2');
  h.proxy('proxy-1', '10.0.1.9', ['10.0.1.1']);
  await until('one ring again', async () => {
    const rings = await Promise.all(['10.0.1.1', '10.0.1.9'].map((a) => h.ring.connect({ address: a, url: '' }).ring()));
    return rings.every((r) => r.join() === '10.0.1.1,10.0.1.9') ? true : undefined;
  }, WAIT_MS, 10);
  assert.deepEqual(await h.hosts('10.0.1.9'), ['10.0.0.1 up/10/0'], 'the returning director took the ring\'s host list');

  h.mailbox('mailbox-1', '10.0.0.2');
  await h.sync.waitRoutable({ name: 'mailbox-1', address: '10.0.0.2' }, WAIT_MS);
  for (const d of ['10.0.1.1', '10.0.1.9']) assert.ok((await h.hosts(d)).includes('10.0.0.2 up/10/0'), d);
});

test('GIVEN a director that does not answer WHEN a backend becomes ready THEN waiting for it to be routable fails naming that director, and once the director is back the backend is added', async (t) => {
  const h = startSync(t);
  h.proxy('proxy-0', '10.0.1.1');
  h.ring.stop('10.0.1.1');
  h.mailbox('mailbox-0', '10.0.0.1');
  await assert.rejects(h.sync.waitRoutable({ name: 'mailbox-0', address: '10.0.0.1' }, 300), (err: unknown) => {
    assert.ok(isMailfleetError(err, 'BACKEND_NOT_ROUTABLE'));
    assert.match(err.message, /mailbox-0 \(10\.0\.0\.1\)/);
    assert.match(err.details.join('\n'), /director 10\.0\.1\.1 does not answer/);
    return true;
  });
  h.ring.start('10.0.1.1');
  await h.sync.waitRoutable({ name: 'mailbox-0', address: '10.0.0.1' }, WAIT_MS);
  assert.ok((await counter(h, 'mailfleet_backends_errors_total', { kind: 'unreachable' })) > 0);
});

test('GIVEN an election not won yet WHEN backends are ready THEN nothing is written and the standby reports ready; once leading, the backends are added', async (t) => {
  let win: () => void = () => undefined;
  const won = new Promise<void>((resolve) => {
    win = resolve;
  });
  const elect: Election = async (signal, lead) => {
    await Promise.race([won, new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))]);
    if (!signal.aborted) await lead(signal);
  };
  const h = startSync(t, { elect });
  h.proxy('proxy-0', '10.0.1.1');
  h.mailbox('mailbox-0', '10.0.0.1');
  await assert.rejects(h.sync.waitRoutable({ name: 'mailbox-0', address: '10.0.0.1' }, 200), (err: unknown) => isMailfleetError(err, 'BACKEND_NOT_ROUTABLE'));
  assert.deepEqual(h.ring.writes(), []);
  assert.equal(h.sync.ready(), true, 'a standby is ready to take over');
  win();
  await h.sync.waitRoutable({ name: 'mailbox-0', address: '10.0.0.1' }, WAIT_MS);
});

test('GIVEN a backend still routed WHEN removal is awaited past the deadline THEN the wait says it was not removed', async (t) => {
  const h = startSync(t);
  h.proxy('proxy-0', '10.0.1.1');
  h.mailbox('mailbox-0', '10.0.0.1');
  await h.sync.waitRoutable({ name: 'mailbox-0', address: '10.0.0.1' }, WAIT_MS);
  assert.equal(await h.sync.waitRemoved('10.0.0.1', 100), false);
});
