import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelayMs, BACKOFF_MAX_MS, createWorkQueue } from '../../../../src/runtime/kube/operator/queue.ts';

test('GIVEN a key added many times before a worker takes it WHEN taken THEN it comes once', async (t) => {
  const queue = createWorkQueue();
  t.after(() => queue.close());
  const abort = new AbortController();

  for (let i = 0; i < 5; i++) queue.add('ns/a');
  queue.add('ns/b');

  assert.deepEqual([await queue.next(abort.signal), await queue.next(abort.signal)], ['ns/a', 'ns/b']);
  abort.abort();
  assert.equal(await queue.next(abort.signal), undefined);
});

test('GIVEN consecutive failures WHEN backoff grows THEN it doubles from 200 ms up to its cap', () => {
  assert.deepEqual([1, 2, 3, 4].map(backoffDelayMs), [200, 400, 800, 1600]);
  assert.equal(backoffDelayMs(40), BACKOFF_MAX_MS);
});

test('GIVEN a key in error backoff WHEN an event adds it THEN it waits for the backoff; after forget an event queues it at once', async (t) => {
  const queue = createWorkQueue();
  t.after(() => queue.close());
  const abort = new AbortController();
  t.after(() => abort.abort());

  queue.addRateLimited('ns/a');
  queue.add('ns/a');
  queue.add('ns/b');
  assert.equal(await queue.next(abort.signal), 'ns/b');
  const started = Date.now();
  assert.equal(await queue.next(abort.signal), 'ns/a');
  assert.ok(Date.now() - started >= 150, 'ns/a came after its backoff');

  queue.forget('ns/a');
  queue.addAfter('ns/a', 60_000);
  queue.add('ns/a');
  assert.equal(await queue.next(abort.signal), 'ns/a');
});
