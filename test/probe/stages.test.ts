import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isProtocolError } from '../../src/protocol/index.ts';
import { STAGES, type Stage } from '../../src/probe/settings.ts';
import { ProbeStageError, runStages, type PathSteps, type StageStep } from '../../src/probe/stages.ts';

/** Steps for every stage, `override` replacing some; records which ran and whether close ran. */
function fakeSteps(override: Partial<Record<Stage, StageStep>> = {}) {
  const ran: Stage[] = [];
  let closed = 0;
  let seen: AbortSignal | undefined;
  const make = (signal: AbortSignal): PathSteps => {
    seen = signal;
    return {
      steps: STAGES.map((stage) => [stage, async (s: AbortSignal) => {
        ran.push(stage);
        await (override[stage] ?? (async () => undefined))(s);
      }] as const),
      close: async () => {
        closed++;
      },
    };
  };
  return { make, ran, closed: () => closed, signal: () => seen };
}

const never = (): Promise<void> => new Promise(() => undefined);

test('GIVEN every stage succeeds WHEN the path runs THEN it succeeded with every stage timed, in order, and close ran once', async () => {
  const fake = fakeSteps();
  const result = await runStages('msa', 'tag-1', fake.make, 1000, new AbortController().signal);
  assert.equal(result.outcome, 'succeeded');
  assert.deepEqual(result.stages.map((s) => s.stage), [...STAGES]);
  assert.ok(result.stages.every((s) => s.durationMs >= 0));
  assert.equal(result.failure, undefined);
  assert.equal(fake.closed(), 1);
});

test('GIVEN the server refuses at the smtp stage WHEN the path runs THEN it failed there with the reply, later stages never ran, and the path\'s sockets were told to go', async () => {
  const fake = fakeSteps({ smtp: async () => { throw new ProbeStageError('REFUSED', 'AUTH PLAIN refused with 535', '535 5.7.8 Error: authentication failed'); } });
  const result = await runStages('msa', 'tag-2', fake.make, 1000, new AbortController().signal);
  assert.equal(result.outcome, 'failed');
  assert.deepEqual(result.failure, { stage: 'smtp', code: 'REFUSED', message: 'AUTH PLAIN refused with 535', reply: '535 5.7.8 Error: authentication failed' });
  assert.deepEqual(fake.ran, ['connect', 'smtp']);
  assert.deepEqual(result.stages.map((s) => s.stage), ['connect']);
  assert.equal(fake.signal()?.aborted, true);
  assert.equal(fake.closed(), 1);
});

test('GIVEN a stage that hangs and ignores its signal WHEN its deadline passes THEN the path failed there with DEADLINE, on time', async () => {
  const fake = fakeSteps({ delivery_imap: never });
  const started = performance.now();
  const result = await runStages('mta', 'tag-3', fake.make, 50, new AbortController().signal);
  assert.equal(result.outcome, 'failed');
  assert.equal(result.failure?.stage, 'delivery_imap');
  assert.equal(result.failure?.code, 'DEADLINE');
  assert.match(result.failure?.message ?? '', /delivery_imap did not finish within 50 ms/);
  assert.ok(performance.now() - started < 1000, 'the deadline ends the stage, whatever the step awaits');
  assert.deepEqual(fake.ran, ['connect', 'smtp', 'delivery_imap']);
});

test('GIVEN a stage whose dialog fails with its step once aborted WHEN its deadline passes THEN the DEADLINE failure names that step and address', async () => {
  // As the protocol clients do: the path's signal destroys the socket and the dialog rejects saying where it was.
  const dialog = (s: AbortSignal) => new Promise<void>((_, reject) => {
    s.addEventListener('abort', () => setImmediate(() => reject(Object.assign(new Error('dialog aborted (127.0.0.1:993, login)'), { code: 'PROTOCOL_ABORTED', address: '127.0.0.1:993', step: 'login' }))), { once: true });
  });
  const fake = fakeSteps({ delivery_imap: dialog });
  const result = await runStages('mta', 'tag-4', fake.make, 50, new AbortController().signal);
  assert.deepEqual(result.failure, { stage: 'delivery_imap', code: 'DEADLINE', message: 'delivery_imap did not finish within 50 ms', step: 'login', address: '127.0.0.1:993' });
});

test('GIVEN each stage well inside its deadline WHEN the stages together take longer than one deadline THEN the path still succeeds: deadlines are per stage', async () => {
  const slow = (s: AbortSignal) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, 30);
    s.addEventListener('abort', () => { clearTimeout(timer); reject(new Error('aborted')); }, { once: true });
  });
  const fake = fakeSteps({ connect: slow, smtp: slow, delivery_imap: slow, fetch_imap: slow });
  const result = await runStages('msa', 'tag-4', fake.make, 80, new AbortController().signal);
  assert.equal(result.outcome, 'succeeded', JSON.stringify(result.failure));
});

test('GIVEN a protocol error WHEN a stage fails with it THEN its code, step, address and reply are kept', async () => {
  const err = Object.assign(new Error('expected OK, got NO (127.1.2.3:993, login)'), { code: 'PROTOCOL_UNEXPECTED_REPLY', step: 'login', address: '127.1.2.3:993', reply: 'a1 NO [AUTHENTICATIONFAILED] Authentication failed.' });
  assert.ok(isProtocolError(err));
  const fake = fakeSteps({ delivery_imap: async () => { throw err; } });
  const result = await runStages('mta', 'tag-5', fake.make, 1000, new AbortController().signal);
  assert.deepEqual(result.failure, { stage: 'delivery_imap', code: 'PROTOCOL_UNEXPECTED_REPLY', message: err.message, step: 'login', address: '127.1.2.3:993', reply: err.reply });
});

test('GIVEN anything else thrown WHEN a stage fails THEN it is FAILED with its message', async () => {
  const fake = fakeSteps({ fetch_pop3: async () => { throw new TypeError('boom'); } });
  const result = await runStages('mta', 'tag-6', fake.make, 1000, new AbortController().signal);
  assert.deepEqual(result.failure, { stage: 'fetch_pop3', code: 'FAILED', message: 'boom' });
});

test('GIVEN the prober stops during a stage WHEN the path ends THEN it is aborted, not failed, and close still ran', async () => {
  const stop = new AbortController();
  const fake = fakeSteps({ delivery_pop3: async () => { stop.abort(); await never(); } });
  const result = await runStages('msa', 'tag-7', fake.make, 5000, stop.signal);
  assert.equal(result.outcome, 'aborted');
  assert.equal(result.failure, undefined);
  assert.equal(fake.closed(), 1);
});

test('GIVEN the prober already stopped WHEN a path starts THEN no step runs', async () => {
  const stop = new AbortController();
  stop.abort();
  const fake = fakeSteps();
  const result = await runStages('msa', 'tag-8', fake.make, 1000, stop.signal);
  assert.equal(result.outcome, 'aborted');
  assert.deepEqual(fake.ran, []);
});
