import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plan, recordStep, type Backend, type DirectorHost, type DrainState } from '../../src/backends/index.ts';

const OPTS = { vhostCount: 100, drainTimeoutMs: 60_000, now: 1_000_000 };
const b = (address: string, over: Partial<Backend> = {}): Backend => ({ name: `mailbox-${address.split('.').pop()}`, address, ready: true, terminating: false, ...over });
const h = (address: string, over: Partial<DirectorHost> = {}): DirectorHost => ({ address, vhosts: 100, up: true, users: 0, ...over });
const ops = (steps: { op: string; address: string }[]) => steps.map((s) => `${s.op} ${s.address}`);

test('GIVEN desired and actual agree WHEN planned THEN nothing is written', () => {
  assert.deepEqual(plan([b('10.0.0.1'), b('10.0.0.2')], [h('10.0.0.1'), h('10.0.0.2')], new Map(), OPTS), []);
});

test('GIVEN a new ready backend WHEN planned THEN it is added with its weight', () => {
  const steps = plan([b('10.0.0.1'), b('10.0.0.2')], [h('10.0.0.1')], new Map(), OPTS);
  assert.deepEqual(steps.map((s) => ({ ...s, reason: undefined })), [{ op: 'add', address: '10.0.0.2', vhosts: 100, reason: undefined }]);
});

test('GIVEN a backend that is not ready and not terminating WHEN planned THEN it is marked down, and up again when ready', () => {
  assert.deepEqual(ops(plan([b('10.0.0.1', { ready: false })], [h('10.0.0.1')], new Map(), OPTS)), ['down 10.0.0.1']);
  assert.deepEqual(ops(plan([b('10.0.0.1')], [h('10.0.0.1', { up: false })], new Map(), OPTS)), ['up 10.0.0.1']);
});

test('GIVEN an unready backend the director does not know WHEN planned THEN it is not added', () => {
  assert.deepEqual(plan([b('10.0.0.1', { ready: false })], [], new Map(), OPTS), []);
});

test('GIVEN a terminating backend WHEN planned THEN weight 0 and flush come first and removal waits', () => {
  const steps = plan([b('10.0.0.1'), b('10.0.0.2', { terminating: true })], [h('10.0.0.1'), h('10.0.0.2', { users: 7 })], new Map(), OPTS);
  assert.deepEqual(ops(steps), ['update 10.0.0.2', 'flush 10.0.0.2']);
  assert.equal(steps[0]?.op === 'update' && steps[0].vhosts, 0);
});

test('GIVEN a flushed terminating backend with users left WHEN planned before the deadline THEN nothing more happens', () => {
  const drains = new Map<string, DrainState>([['10.0.0.2', { since: OPTS.now - 1000, flushed: true }]]);
  assert.deepEqual(plan([b('10.0.0.2', { terminating: true })], [h('10.0.0.2', { vhosts: 0, users: 3 })], drains, OPTS), []);
});

test('GIVEN a flushed terminating backend WHEN its users are gone THEN it is removed', () => {
  const drains = new Map<string, DrainState>([['10.0.0.2', { since: OPTS.now - 1000, flushed: true }]]);
  assert.deepEqual(ops(plan([b('10.0.0.2', { terminating: true })], [h('10.0.0.2', { vhosts: 0, users: 0 })], drains, OPTS)), ['remove 10.0.0.2']);
});

test('GIVEN a draining backend past its deadline WHEN planned THEN it is removed even with users left', () => {
  const drains = new Map<string, DrainState>([['10.0.0.2', { since: OPTS.now - 60_000, flushed: true }]]);
  assert.deepEqual(ops(plan([b('10.0.0.2', { terminating: true })], [h('10.0.0.2', { vhosts: 0, users: 3 })], drains, OPTS)), ['remove 10.0.0.2']);
});

test('GIVEN a backend gone from the source WHEN planned THEN it is drained and removed at once', () => {
  assert.deepEqual(ops(plan([b('10.0.0.1')], [h('10.0.0.1'), h('10.0.0.9', { users: 4 })], new Map(), OPTS)), ['update 10.0.0.9', 'flush 10.0.0.9', 'remove 10.0.0.9']);
});

test('GIVEN a backend back on a new address WHEN planned THEN the new one is added and the old one drained and removed', () => {
  assert.deepEqual(ops(plan([b('10.0.0.7', { name: 'mailbox-1' })], [h('10.0.0.3')], new Map(), OPTS)), ['add 10.0.0.7', 'update 10.0.0.3', 'flush 10.0.0.3', 'remove 10.0.0.3']);
});

test('GIVEN a drained backend that is ready again WHEN planned THEN its weight is restored', () => {
  const steps = plan([b('10.0.0.2')], [h('10.0.0.2', { vhosts: 0 })], new Map(), OPTS);
  assert.deepEqual(ops(steps), ['update 10.0.0.2']);
  assert.equal(steps[0]?.op === 'update' && steps[0].vhosts, 100);
});

test('GIVEN steps applied WHEN recorded THEN drains start at weight 0, are flushed by flush and end with remove', () => {
  const drains = new Map<string, DrainState>();
  recordStep(drains, { op: 'update', address: 'a', vhosts: 0, reason: '' }, 5);
  assert.deepEqual(drains.get('a'), { since: 5, flushed: false });
  recordStep(drains, { op: 'flush', address: 'a', reason: '' }, 6);
  assert.deepEqual(drains.get('a'), { since: 5, flushed: true });
  recordStep(drains, { op: 'remove', address: 'a', reason: '' }, 7);
  assert.equal(drains.has('a'), false);
});
