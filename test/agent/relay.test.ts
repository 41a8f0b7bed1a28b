import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const RELAY_CHILD = fileURLToPath(new URL('./fixtures/relay-child.ts', import.meta.url));

/**
 * Runs a daemon that writes `count` lines one at a time, `gapMs` apart, under the agent's relay (in a child
 * process: the relay writes to its stdout). What came out, and in how many turns of the relay's event loop.
 */
async function relayed(count: number, gapMs: number, extra = ''): Promise<{ lines: string[]; turns: number; seen: number }> {
  const runDir = mkdtempSync(join(tmpdir(), 'mailfleet-relay-'));
  try {
    const writer = `import os, time\n${extra}\nfor i in range(${count}):\n  os.write(1, b"line %d\\n" % i)\n  time.sleep(${gapMs / 1000})\n`;
    const child = spawn(process.execPath, [RELAY_CHILD, runDir, writer], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, err);
    const report = JSON.parse(err.trim().split('\n').at(-1) ?? '{}') as { turns: number; seen: number };
    const lines = out.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { msg: string }).msg);
    return { lines, ...report };
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

test('GIVEN a daemon writing its log a line at a time WHEN relayed THEN every line arrives, in order, in far fewer wake-ups than lines', async () => {
  const got = await relayed(150, 2);
  assert.deepEqual(got.lines, Array.from({ length: 150 }, (_, i) => `line ${i}`));
  assert.equal(got.seen, 150, 'the exporter hook saw every line');
  // Read as they come this would be 150 wake-ups (and as many writes); the run lasts about 300 ms, so about
  // 15 batches of 20 ms.
  assert.ok(got.turns <= 40, `${got.turns} wake-ups for 150 lines`);
});

test('GIVEN a line of 1 MB between short ones WHEN relayed THEN it is cut, and the lines around it arrive whole', async () => {
  const got = await relayed(3, 1, 'os.write(1, b"x" * (1024 * 1024) + b"\\n")');
  assert.equal(got.lines.length, 4);
  assert.ok((got.lines[0] ?? '').length < 1024 * 1024, 'the long line is cut');
  assert.deepEqual(got.lines.slice(1), ['line 0', 'line 1', 'line 2']);
});
