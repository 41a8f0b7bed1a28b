import assert from 'node:assert/strict';
import { test } from 'node:test';
import { longestIdle } from '../src/eviction.ts';

const idle = (since: number | undefined) => ({ idleSince: () => since });

test('GIVEN connections idle for various times and busy ones WHEN room is needed THEN the one idle longest is chosen, if idle long enough', () => {
  const a = idle(900);
  const b = idle(100);
  const busy = idle(undefined);
  assert.deepEqual(longestIdle([a, busy, b], 500, 1000), { item: b, idleMs: 900 });
  assert.equal(longestIdle([a, busy], 500, 1000), undefined, 'a: idle 100 ms only, busy: not idle');
  assert.equal(longestIdle([], 0, 1000), undefined);
  const c = idle(500);
  assert.equal(longestIdle([c], 500, 1000)?.item, c, 'exactly the minimum counts');
});
