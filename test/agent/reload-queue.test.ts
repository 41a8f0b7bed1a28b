import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createReloadQueue, type ReloadKind } from '../../src/agent/index.ts';

/** A daemon whose reloads take `ms`, recording each and whether two ever overlapped. */
function fakeDaemon(ms: number, fail?: (n: number) => boolean) {
  const runs: { kind: ReloadKind; start: number; end: number }[] = [];
  let busy = false;
  let overlapped = false;
  return {
    runs,
    overlapped: () => overlapped,
    async run(kind: ReloadKind) {
      if (busy) overlapped = true;
      busy = true;
      const start = Date.now();
      await delay(ms);
      busy = false;
      runs.push({ kind, start, end: Date.now() });
      if (fail?.(runs.length)) throw new Error(`reload ${runs.length} failed`);
    },
  };
}

test('GIVEN three reload requests within the gather time WHEN served THEN one reload runs and all three resolve', async () => {
  const d = fakeDaemon(20);
  const q = createReloadQueue({ run: (k) => d.run(k), gatherMs: 50, settleMs: 0 });
  await Promise.all([q.request('config'), q.request('config'), q.request('config')]);
  assert.equal(d.runs.length, 1);
});

test('GIVEN a certificate reload and a config reload together WHEN served THEN the one reload is the config reload, which loads both', async () => {
  const d = fakeDaemon(10);
  const q = createReloadQueue({ run: (k) => d.run(k), gatherMs: 30, settleMs: 0 });
  await Promise.all([q.request('certificates'), q.request('config')]);
  assert.deepEqual(d.runs.map((r) => r.kind), ['config']);
});

test('GIVEN a request while a reload runs WHEN served THEN a second reload follows, never overlapping, at least settleMs after the first ended', async () => {
  const d = fakeDaemon(80);
  const q = createReloadQueue({ run: (k) => d.run(k), gatherMs: 10, settleMs: 150 });
  const first = q.request('config');
  await delay(40); // the first reload is running now
  const second = q.request('certificates');
  await Promise.all([first, second]);
  assert.equal(d.runs.length, 2);
  assert.equal(d.overlapped(), false);
  const [a, b] = d.runs;
  assert.ok(a && b);
  assert.ok(b.start - a.end >= 145, `second began ${b.start - a.end} ms after the first ended`);
  assert.equal(b.kind, 'certificates');
});

test('GIVEN a reload that fails WHEN served THEN its requests reject with the error and the next request is served anew', async () => {
  const d = fakeDaemon(5, (n) => n === 1);
  const q = createReloadQueue({ run: (k) => d.run(k), gatherMs: 5, settleMs: 5 });
  await assert.rejects(q.request('config'), /reload 1 failed/);
  await q.request('config');
  assert.equal(d.runs.length, 2);
});
