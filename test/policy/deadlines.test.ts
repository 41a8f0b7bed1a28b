import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { createDeadlineQueue } from '../../src/policy/deadlines.ts';
import { createLogThrottle } from '../../src/policy/log-throttle.ts';

test('GIVEN deadlines set in a row WHEN some end in time THEN only the others fire, in order, once each', async () => {
  const queue = createDeadlineQueue(20);
  const fired: string[] = [];
  let last: () => void = () => {};
  const done = new Promise<void>((resolve) => (last = resolve));
  queue.add(() => fired.push('a'));
  const b = queue.add(() => fired.push('b'));
  queue.add(() => fired.push('c'));
  queue.add(() => {
    fired.push('d');
    last();
  });
  b.end();
  await done;
  assert.deepEqual(fired, ['a', 'c', 'd']);
});

test('GIVEN a cleared queue WHEN its deadlines pass THEN none fires', async () => {
  const queue = createDeadlineQueue(5);
  let fired = 0;
  queue.add(() => fired++);
  queue.clear();
  // A later queue's deadline firing proves the cleared one's time has passed.
  await new Promise<void>((resolve) => createDeadlineQueue(30).add(resolve));
  assert.equal(fired, 0);
});

test('GIVEN deadlines ended in the order they were set WHEN each ends THEN the queue holds only those still waiting', () => {
  const queue = createDeadlineQueue(60_000);
  const set = Array.from({ length: 5000 }, () => queue.add(() => assert.fail('an ended deadline fired')));
  assert.equal(queue.size(), 5000);
  for (const d of set.slice(0, 4000)) d.end();
  assert.equal(queue.size(), 1000, 'the ended ones at the head are released at once, not when their time comes');
  set[4500]?.end();
  assert.equal(queue.size(), 1000, 'one ended behind a waiting one stays until the head reaches it');
  for (const d of set.slice(4000)) d.end();
  assert.equal(queue.size(), 0);
  queue.clear();
});

test('GIVEN a warning repeated within the interval WHEN logged THEN one line, then one line saying how many were left out', () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
  let now = 0;
  const throttle = createLogThrottle(pino({ base: {} }, sink), 10_000, () => now);
  for (let i = 0; i < 100; i++) throttle.warn('redis', { i }, 'down');
  throttle.warn('other', {}, 'another kind');
  now = 10_001;
  throttle.warn('redis', { i: 100 }, 'down');
  assert.deepEqual(lines.map((l) => [l.msg, l.i, l.suppressed]), [['down', 0, undefined], ['another kind', undefined, undefined], ['down', 100, 99]]);
});
