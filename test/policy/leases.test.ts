import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLeaseStore } from '../../src/policy/leases.ts';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

test('GIVEN units lent for a key WHEN requests of cost 1 spend them THEN each takes one until none are left; other keys and costs take none', () => {
  const c = clock();
  const store = createLeaseStore({ now: c.now });
  store.lend('a', 2);
  assert.deepEqual(store.spend(['a', 'b'], [1, 1]), [true, false]);
  assert.deepEqual(store.spend(['a'], [500]), [false], 'a byte count never spends');
  assert.deepEqual(store.spend(['a'], [1]), [true]);
  assert.deepEqual(store.spend(['a'], [1]), [false]);
});

test('GIVEN a request refused elsewhere WHEN its spent units are refunded THEN they can be spent again; an ended lease keeps them lost', () => {
  const c = clock();
  const store = createLeaseStore({ now: c.now, lifetimeMs: 1000 });
  store.lend('a', 1);
  const spent = store.spend(['a', 'b'], [1, 1]);
  store.refund(['a', 'b'], spent);
  assert.deepEqual(store.spend(['a'], [1]), [true]);
  store.refund(['a'], [true]);
  c.advance(1000);
  store.refund(['a'], [true]);
  assert.deepEqual(store.spend(['a'], [1]), [false], 'ended: nothing to spend');
  assert.equal(store.size, 0);
});

test('GIVEN a lease WHEN its lifetime passes THEN it is over; lending more to a live one extends it', () => {
  const c = clock();
  const store = createLeaseStore({ now: c.now, lifetimeMs: 1000 });
  store.lend('a', 5);
  c.advance(900);
  store.lend('a', 1);
  c.advance(900);
  assert.deepEqual(store.spend(['a'], [1]), [true], 'alive 900 ms after the second lending');
  c.advance(1000);
  assert.deepEqual(store.spend(['a'], [1]), [false]);
  store.lend('b', 0);
  assert.equal(store.size, 0, 'nothing lent, nothing kept');
});

test('GIVEN a full store WHEN more is lent THEN ended leases make room, live ones are kept and the newcomer is not', () => {
  const c = clock();
  const store = createLeaseStore({ now: c.now, lifetimeMs: 1000, maxEntries: 2 });
  store.lend('a', 1);
  store.lend('b', 1);
  store.lend('c', 1);
  assert.equal(store.size, 2);
  assert.deepEqual(store.spend(['a', 'b', 'c'], [1, 1, 1]), [true, true, false]);
  c.advance(1000);
  store.lend('c', 3);
  assert.equal(store.size, 1, 'the two ended ones swept');
  assert.deepEqual(store.spend(['c'], [1]), [true]);
  store.clear();
  assert.deepEqual(store.spend(['c'], [1]), [false]);
});

test('GIVEN a request asking for a loan of a key WHEN another of the key goes to Redis before its answer THEN only the first asks', () => {
  const store = createLeaseStore();
  assert.equal(store.ask('a'), 16);
  assert.equal(store.ask('a'), 0, 'one loan asked at a time');
  assert.equal(store.ask('b'), 16);
  store.settled('a');
  assert.equal(store.ask('a'), 16);
});
