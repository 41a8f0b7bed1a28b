/** Following a log file like `tail -F`: new lines, a file that appears late, rotation, truncation. */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { followFile, readLines } from '../../src/exporter/follow.ts';
import { until } from '../support/poll.ts';

const POLL_MS = 20;
const WAIT_MS = 5_000;

function follow(t: TestContext, fromStart = false): { path: string; lines: string[]; logged: string[]; started: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-follow-'));
  const path = join(dir, 'maillog');
  const lines: string[] = [];
  const logged: string[] = [];
  const log = pino({ level: 'info' }, { write: (entry: string) => logged.push((JSON.parse(entry) as { msg: string }).msg) });
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  t.after(async () => {
    abort.abort();
    await running;
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    path,
    lines,
    logged,
    started: () => {
      running = followFile(path, (line) => lines.push(line.toString()), abort.signal, { fromStart, pollMs: POLL_MS, log });
    },
  };
}

/** Waits until `lines` holds `expected` (and then checks nothing more arrived). */
async function expectLines(lines: string[], expected: string[]): Promise<void> {
  await until(`lines ${JSON.stringify(expected)}`, async () => (lines.length >= expected.length ? true : undefined), WAIT_MS, POLL_MS);
  assert.deepEqual(lines, expected);
}

test('GIVEN a file with old lines WHEN followed THEN only lines written after the start come out', async (t) => {
  const f = follow(t);
  writeFileSync(f.path, 'old 1\nold 2\n');
  f.started();
  // The follower records the end before it reads; give it a line to prove it is reading.
  await until('the follower to open the file', async () => {
    appendFileSync(f.path, 'probe\n');
    return f.lines.length > 0 ? true : undefined;
  }, WAIT_MS, POLL_MS * 5);
  appendFileSync(f.path, 'new 1\nnew 2\n');
  await until('the new lines', async () => (f.lines.includes('new 2') ? true : undefined), WAIT_MS, POLL_MS);
  assert.deepEqual(f.lines.filter((line) => line !== 'probe'), ['new 1', 'new 2']);
});

test('GIVEN --from-start WHEN followed THEN the old lines come out first', async (t) => {
  const f = follow(t, true);
  writeFileSync(f.path, 'old 1\nold 2\n');
  f.started();
  await expectLines(f.lines, ['old 1', 'old 2']);
  appendFileSync(f.path, 'new\n');
  await expectLines(f.lines, ['old 1', 'old 2', 'new']);
});

test('GIVEN a file that does not exist yet WHEN it appears THEN its lines come out from its start', async (t) => {
  const f = follow(t);
  f.started();
  await until('the follower to find no file', async () => (f.logged.includes('waiting for the log file') ? true : undefined), WAIT_MS, POLL_MS);
  writeFileSync(f.path, 'first\n');
  await expectLines(f.lines, ['first']);
});

test('GIVEN a rotated file WHEN a new one takes its place THEN the rest of the old one and all of the new one come out', async (t) => {
  const f = follow(t, true);
  writeFileSync(f.path, 'a\n');
  f.started();
  await expectLines(f.lines, ['a']);
  appendFileSync(f.path, 'b\n');
  renameSync(f.path, `${f.path}.1`);
  writeFileSync(f.path, 'c\n');
  await expectLines(f.lines, ['a', 'b', 'c']);
});

test('GIVEN a truncated file WHEN new lines are written THEN they come out from its start', async (t) => {
  const f = follow(t, true);
  writeFileSync(f.path, 'a long first line\n');
  f.started();
  await expectLines(f.lines, ['a long first line']);
  truncateSync(f.path, 0);
  // Shorter than what was read: the follower sees the file end before where it was, whenever it looks.
  appendFileSync(f.path, 'x\n');
  await expectLines(f.lines, ['a long first line', 'x']);
});

test('GIVEN a stream WHEN read THEN every line comes out, the last one even without LF', async () => {
  const lines: string[] = [];
  await readLines(Readable.from([Buffer.from('a\nb'), Buffer.from('c\nd')]), (line) => lines.push(line.toString()), new AbortController().signal);
  assert.deepEqual(lines, ['a', 'bc', 'd']);
});
