import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRAIN_OVERRUN_MS, liveness, type LivenessInput } from '../../src/agent/liveness.ts';

const NOW = 1_000_000_000;
const BUDGET_MS = 30_000;
const HUNG_MS = 30_000;

/** A running daemon that answered just now and was never asked to drain, with `change` applied. */
function input(change: Partial<LivenessInput> = {}): LivenessInput {
  return { now: NOW, daemonRunning: true, drainStartedAt: undefined, drainBudgetMs: BUDGET_MS, lastReadyAt: NOW, hungAfterMs: HUNG_MS, ...change };
}

test('GIVEN a running daemon that answers WHEN liveness is asked THEN it is alive', () => {
  assert.deepEqual(liveness(input()), { ok: true, detail: 'ok' });
});

test('GIVEN the daemon process is gone WHEN liveness is asked THEN it fails, draining or not', () => {
  assert.equal(liveness(input({ daemonRunning: false })).ok, false);
  assert.equal(liveness(input({ daemonRunning: false, drainStartedAt: NOW })).ok, false);
});

test('GIVEN a daemon silent for longer than the hung threshold WHEN not draining THEN liveness fails; at the threshold it holds', () => {
  assert.equal(liveness(input({ lastReadyAt: NOW - HUNG_MS })).ok, true);
  const hung = liveness(input({ lastReadyAt: NOW - HUNG_MS - 1 }));
  assert.equal(hung.ok, false);
  assert.match(hung.detail, /unresponsive/);
});

test('GIVEN a drain within its budget WHEN the daemon no longer answers (readiness fails on purpose) THEN the agent is alive', () => {
  const r = liveness(input({ drainStartedAt: NOW - BUDGET_MS, lastReadyAt: NOW - BUDGET_MS - HUNG_MS }));
  assert.deepEqual(r, { ok: true, detail: 'draining' });
});

test('GIVEN a drain past its budget but within the margin WHEN liveness is asked THEN the agent is still alive', () => {
  assert.equal(liveness(input({ drainStartedAt: NOW - BUDGET_MS - DRAIN_OVERRUN_MS })).ok, true);
});

test('GIVEN a drain that outlived its budget and the margin WHEN liveness is asked THEN it fails, so the stuck instance is restarted', () => {
  const r = liveness(input({ drainStartedAt: NOW - BUDGET_MS - DRAIN_OVERRUN_MS - 1 }));
  assert.equal(r.ok, false);
  assert.match(r.detail, /past the drain budget of 30000 ms/);
});

test('GIVEN a finished drain long ago WHEN the pod was never stopped THEN liveness fails: a drain is never for good', () => {
  // What the drain reported does not matter: an instance drained and left running serves no one.
  assert.equal(liveness(input({ drainStartedAt: NOW - 3_600_000, lastReadyAt: NOW })).ok, false);
});

test('GIVEN a short budget WHEN the drain outlives it THEN the limit follows the budget, not a fixed time', () => {
  assert.equal(liveness(input({ drainBudgetMs: 1000, drainStartedAt: NOW - 1000 - DRAIN_OVERRUN_MS })).ok, true);
  assert.equal(liveness(input({ drainBudgetMs: 1000, drainStartedAt: NOW - 1000 - DRAIN_OVERRUN_MS - 1 })).ok, false);
});
