/**
 * Queue metrics read at scrape time from a showq socket that misbehaves: silent, garbage, too large,
 * gone. A scrape never fails; a failed read counts as an error and leaves the previous values.
 * (A real showq is read in postfix-exporter.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { createPostfixExporter, type PostfixExporterOptions } from '../../../src/exporter/index.ts';
import { series } from '../../exporter/series.ts';

const NOW_MS = 1_796_534_000_000;
const P = 'mailfleet_postfix_queue_';

function fields(...parts: string[]): Buffer {
  return Buffer.from(parts.map((part) => `${part}\0`).join(''));
}

function message(queue: string, id: string, time: number, size: number): Buffer {
  return fields('queue_name', queue, 'queue_id', id, 'time', String(time), 'size', String(size), 'forced_expire', '0', 'sender', 's@x.test', 'recipient', 'r@x.test', 'reason', '', '');
}

const GREETING = fields('protocol', 'mail_queue_list_protocol', '');
const END = fields('');
const NOW_S = NOW_MS / 1000;

/** A showq stand-in on a unix socket: answers every connection with `answer`; counts connections. */
async function fakeShowq(t: TestContext, answer: (socket: Socket) => void): Promise<{ path: string; connections: () => number }> {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-showq-'));
  const path = join(dir, 'showq');
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    answer(socket);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, connections: () => connections };
}

function exporter(showqPath: string, clock: { ms: number }, extra: Partial<PostfixExporterOptions> = {}) {
  const registry = new Registry();
  createPostfixExporter({ registry, showqPath, now: () => clock.ms, showqTimeoutMs: 300, queueCacheMs: 1000, ...extra });
  return registry;
}

test('GIVEN a listing of deferred and held messages WHEN scraped THEN depth, bytes and oldest age per queue, every queue present', async (t) => {
  const listing = Buffer.concat([GREETING, message('deferred', 'AAAAAA1', NOW_S - 600, 1000), message('deferred', 'AAAAAA2', NOW_S - 60, 3000), message('hold', 'AAAAAA3', NOW_S - 7200, 500), END]);
  const showq = await fakeShowq(t, (socket) => socket.end(listing));
  const registry = exporter(showq.path, { ms: NOW_MS });
  assert.deepEqual(await series(registry, `${P}messages`), {
    '{queue="maildrop"}': 0, '{queue="incoming"}': 0, '{queue="active"}': 0, '{queue="deferred"}': 2, '{queue="hold"}': 1,
  });
  assert.deepEqual(await series(registry, `${P}size_bytes`), {
    '{queue="maildrop"}': 0, '{queue="incoming"}': 0, '{queue="active"}': 0, '{queue="deferred"}': 4000, '{queue="hold"}': 500,
  });
  assert.deepEqual(await series(registry, `${P}oldest_message_age_seconds`), {
    '{queue="maildrop"}': 0, '{queue="incoming"}': 0, '{queue="active"}': 0, '{queue="deferred"}': 600, '{queue="hold"}': 7200,
  });
  const ages = await series(registry, `${P}message_age_seconds`);
  assert.deepEqual([ages['_bucket{le="60",queue="deferred"}'], ages['_bucket{le="900",queue="deferred"}'], ages['_count{queue="deferred"}'], ages['_count{queue="active"}']], [1, 2, 2, 0]);
  const sizes = await series(registry, `${P}message_size_bytes`);
  assert.deepEqual([sizes['_bucket{le="1000",queue="deferred"}'], sizes['_sum{queue="deferred"}'], sizes['_sum{queue="hold"}']], [1, 4000, 500]);
  assert.deepEqual(await series(registry, `${P}scrape_errors_total`), { '{}': 0 });
});

test('GIVEN two scrapes within the cache time WHEN scraped THEN showq is read once; after it, again', async (t) => {
  const showq = await fakeShowq(t, (socket) => socket.end(Buffer.concat([GREETING, END])));
  const clock = { ms: NOW_MS };
  const registry = exporter(showq.path, clock);
  await registry.metrics();
  await registry.metrics();
  assert.equal(showq.connections(), 1);
  clock.ms += 1001;
  await registry.metrics();
  assert.equal(showq.connections(), 2);
});

test('GIVEN a showq that never answers WHEN scraped THEN the scrape ends after the deadline with one error counted', async (t) => {
  const showq = await fakeShowq(t, () => undefined);
  const registry = exporter(showq.path, { ms: NOW_MS });
  const text = await registry.metrics();
  assert.doesNotMatch(text, /mailfleet_postfix_queue_messages\{/);
  assert.deepEqual(await series(registry, `${P}scrape_errors_total`), { '{}': 1 });
});

const BROKEN: readonly { given: string; answer: (socket: Socket) => void; extra?: Partial<PostfixExporterOptions> }[] = [
  { given: 'garbage', answer: (socket) => socket.end(Buffer.from('-Queue ID-  --Size-- ----Arrival Time----\n')) },
  { given: 'a listing cut before its end', answer: (socket) => socket.end(Buffer.concat([GREETING, message('hold', 'AAAAAA1', NOW_S, 1)])) },
  { given: 'a listing larger than the byte bound', answer: (socket) => socket.end(Buffer.concat([GREETING, ...Array.from({ length: 100 }, (_, i) => message('active', `AAAAA${i}`, NOW_S, 1)), END])), extra: { showqMaxBytes: 2000 } },
  { given: 'a connection closed at once', answer: (socket) => socket.destroy() },
];

for (const { given, answer, extra } of BROKEN) {
  test(`GIVEN a good read, then ${given} WHEN scraped THEN one error is counted and the previous values stay`, async (t) => {
    let good = true;
    const showq = await fakeShowq(t, (socket) => {
      if (good) socket.end(Buffer.concat([GREETING, message('hold', 'AAAAAA1', NOW_S - 10, 100), END]));
      else answer(socket);
    });
    const clock = { ms: NOW_MS };
    const registry = exporter(showq.path, clock, extra);
    await registry.metrics();
    good = false;
    clock.ms += 5000;
    await registry.metrics();
    assert.deepEqual(await series(registry, `${P}scrape_errors_total`), { '{}': 1 });
    assert.equal((await series(registry, `${P}messages`))['{queue="hold"}'], 1);
  });
}

test('GIVEN a showq path where nothing listens WHEN scraped THEN an error is counted and the scrape succeeds', async () => {
  const registry = exporter(join(tmpdir(), 'mailfleet-no-such-showq', 'showq'), { ms: NOW_MS });
  assert.match(await registry.metrics(), /mailfleet_postfix_queue_scrape_errors_total 1\n/);
});
