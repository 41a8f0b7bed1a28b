import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHeldBudget, HELD_AFTER_SHEDDING, type HeldBudget } from '../../src/policy/held-budget.ts';

/** Holders as sessions are: they report their changes, and going to 0 when destroyed. */
function setUp(perHolder: number, maxHolders: number) {
  const holders = new Map<string, number>();
  const destroyed: string[] = [];
  const reports: { heldBytes: number; closed: number; largest: number }[] = [];
  const list = () => [...holders.keys()].map((name) => ({
    held: () => holders.get(name) ?? 0,
    destroy: () => {
      destroyed.push(name);
      budget.change(-(holders.get(name) ?? 0));
      holders.delete(name);
    },
  }));
  const budget: HeldBudget = createHeldBudget({ perHolder, maxHolders, holders: list, shed: (r) => reports.push(r) });
  const hold = (name: string, bytes: number): void => {
    const before = holders.get(name) ?? 0;
    holders.set(name, bytes);
    budget.change(bytes - before);
  };
  return { budget, hold, destroyed, reports };
}

test('GIVEN holders within the budget WHEN they hold up to it THEN none is closed', () => {
  const { budget, hold, destroyed } = setUp(100, 10);
  for (let i = 0; i < 10; i++) hold(`h${i}`, 100);
  assert.equal(budget.total(), 1000);
  assert.deepEqual(destroyed, []);
});

test('GIVEN the budget spent WHEN one more byte is held THEN those holding most are closed until the rest hold three quarters of it', () => {
  const { budget, hold, destroyed, reports } = setUp(100, 10);
  hold('small', 50);
  for (const [name, bytes] of [['a', 300], ['b', 250], ['c', 200], ['d', 150]] as const) hold(name, bytes);
  assert.equal(budget.total(), 950);
  hold('e', 120);
  // 1,070 held: without a (300) still 770, above 750; without b too, 520.
  assert.deepEqual(destroyed, ['a', 'b']);
  assert.equal(budget.total(), 520);
  assert.ok(budget.total() <= 1000 * HELD_AFTER_SHEDDING);
  assert.deepEqual(reports, [{ heldBytes: 1070, closed: 2, largest: 300 }]);
});

test('GIVEN holders each within their share WHEN together past the budget THEN none of them is closed, only those above it', () => {
  const { budget, hold, destroyed } = setUp(100, 10);
  for (let i = 0; i < 12; i++) hold(`postfix${i}`, 90);
  hold('flood', 5000);
  assert.deepEqual(destroyed, ['flood']);
  assert.equal(budget.total(), 12 * 90, 'over the budget still, but nobody holds more than a share');
  hold('postfix0', 95);
  assert.deepEqual(destroyed, ['flood']);
});
