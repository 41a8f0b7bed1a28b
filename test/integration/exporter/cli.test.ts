/**
 * `mailfleet exporter postfix --log -` as a process: fed binary noise, 1 MB lines and real lines on stdin,
 * it counts every line, keeps serving /metrics, and its memory stays bounded. Addresses from 127.110.2.0/24.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { ensureBuilt } from '../../support/build.ts';
import { until } from '../../support/poll.ts';
import { noise } from '../../protocol/chunks.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const LISTEN = '127.110.2.1:0';
const ROUNDS = 40;
/** The design's memory bound for the exporter (Node with prom-client and pino idles at about 70 MB here). */
/** What reading may add: a chunk, a bounded line, the young generation; not the input. */
const MAX_GROWTH_BYTES = 32 * 1024 * 1024;
const WAIT_MS = 60_000;

const REAL = [
  'Dec 06 05:05:12 mx postfix/smtpd[11206]: connect from unknown[127.110.0.7]',
  'Dec 06 05:05:12 mx postfix/smtp[11213]: 798DD43E2F1: to=<x@ok.test>, relay=127.110.0.2[127.110.0.2]:2525, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)',
  'Dec 06 05:05:00 mx postfix/smtpd[10991]: warning: dict_nis_init: NIS domain name not set - NIS lookups disabled',
];

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

/** Starts the CLI; resolves with the process and the port it reports in its "listening" log line. */
async function startExporter(t: TestContext, args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; port: number }> {
  ensureBuilt();
  // As users run it: bin/mailfleet, which also sets the exporter's V8 flags.
  const child = spawn(join(REPO, 'bin', 'mailfleet'), ['exporter', 'postfix', ...args], { stdio: 'pipe' });
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  });
  child.stderr.resume();
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg === 'postfix exporter listening' && entry.port !== undefined) resolve(entry.port);
    });
    child.once('exit', (code) => reject(new Error(`exporter exited with ${code}`)));
  });
  return { child, port };
}

/** Every sample of the exposition, `name{labels}` → value. */
async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.110.2.1:${port}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

function total(samples: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [key, value] of samples) if (key === name || key.startsWith(`${name}{`)) sum += value;
  return sum;
}

/** Writes `chunk`, waiting for 'drain' when the pipe is full, as any well-behaved producer does. */
async function write(child: ChildProcessWithoutNullStreams, chunk: Buffer): Promise<void> {
  if (!child.stdin.write(chunk)) await once(child.stdin, 'drain');
}

test('GIVEN binary noise, 1 MB lines and real lines on stdin WHEN the exporter reads them THEN it counts every line and its memory stays bounded', async (t) => {
  const { child, port } = await startExporter(t, ['--log', '-', '--listen', LISTEN]);
  const pid = child.pid as number;
  const startRss = rssBytes(pid);
  let maxRss = startRss;
  const sampler = setInterval(() => {
    maxRss = Math.max(maxRss, rssBytes(pid));
  }, 20);
  t.after(() => clearInterval(sampler));

  let lines = 0;
  let lastByte = 0x0a;
  const send = async (bytes: Buffer) => {
    for (const byte of bytes) if (byte === 0x0a) lines++;
    lastByte = bytes.at(-1) ?? lastByte;
    await write(child, bytes);
  };
  const real = Buffer.from(`${REAL.join('\n')}\n`);
  for (let round = 0; round < ROUNDS; round++) {
    await send(noise(65_536, round + 1));
    await send(Buffer.from('\n'));
    await send(Buffer.concat([Buffer.from('Dec 06 05:05:12 mx postfix/cleanup[1]: '), Buffer.alloc(1 << 20, 0x41), Buffer.from('\n')]));
    await send(real);
  }
  await send(Buffer.from('a last line without its LF'));
  child.stdin.end();
  const expected = lines + (lastByte === 0x0a ? 0 : 1);

  const samples = await until('every line counted', async () => {
    const s = await scrape(port);
    return total(s, 'mailfleet_postfix_log_lines_total') === expected ? s : undefined;
  }, WAIT_MS);
  clearInterval(sampler);
  maxRss = Math.max(maxRss, rssBytes(pid));

  assert.equal(total(samples, 'mailfleet_postfix_smtpd_connects_total'), ROUNDS);
  assert.equal(samples.get('mailfleet_postfix_deliveries_total{transport="smtp",status="sent"}'), ROUNDS);
  assert.equal(samples.get('mailfleet_postfix_log_lines_truncated_total{service="cleanup"}'), ROUNDS);
  assert.equal(samples.get('mailfleet_postfix_log_lines_unsupported_total{service="smtpd",level="warning"}'), ROUNDS);
  // Every line but the understood ones (connect, delivery) is unsupported: noise, the 1 MB cleanup lines, the warning.
  assert.equal(total(samples, 'mailfleet_postfix_log_lines_unsupported_total'), expected - 2 * ROUNDS);
  assert.ok(maxRss - startRss < MAX_GROWTH_BYTES, `the exporter grew by ${Math.round((maxRss - startRss) / 1048576)} MB reading ${ROUNDS} MB of 1 MB lines`);
  assert.equal(child.exitCode, null, 'still running after its input ended');
});

test('GIVEN a log file WHEN --log FILE --from-start THEN its lines are counted and lines appended later too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-exporter-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'maillog');
  writeFileSync(file, `${REAL[0]}\n${REAL[0]}\n`);
  const { port } = await startExporter(t, ['--log', file, '--from-start', '--listen', LISTEN]);
  await until('the old lines', async () => (total(await scrape(port), 'mailfleet_postfix_smtpd_connects_total') === 2 ? true : undefined), WAIT_MS);
  appendFileSync(file, `${REAL[0]}\n`);
  await until('the new line', async () => (total(await scrape(port), 'mailfleet_postfix_smtpd_connects_total') === 3 ? true : undefined), WAIT_MS);
});

test('GIVEN the exporter WHEN asked for anything but /metrics THEN 404', async (t) => {
  const { port } = await startExporter(t, ['--log', '-', '--listen', LISTEN]);
  const response = await fetch(`http://127.110.2.1:${port}/`);
  assert.equal(response.status, 404);
});
