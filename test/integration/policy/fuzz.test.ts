/**
 * Hostile clients against a policy server in its own process, all at once: random bytes, oversized lines, thousands
 * of attributes, requests never finished, a byte at a time, and clients that pipeline megabytes and never read. It
 * must not crash, must hang up on each without a reply, must keep answering a well-behaved client correctly, and
 * its memory must stay bounded.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { until } from '../../support/poll.ts';
import { noise } from '../../protocol/chunks.ts';
import { freePort, openPolicyClient, policyHost, policyRequest, SKIP, startRedis } from './harness.ts';

const FIXTURE = fileURLToPath(new URL('./fuzz-server.ts', import.meta.url));
const HOST = policyHost(41);
const REQUEST_TIMEOUT_MS = 1000;
/**
 * How far the server's peak RSS may rise above its idle RSS. Measured about 20-30 MB; the bound's own arithmetic:
 * ~180 connections, each at most 64 KiB of input and 16 KiB of unread replies held, plus what the heap keeps
 * between collections.
 */
const RSS_RISE_BOUND_MB = 120;
const SINKS = 2;
/**
 * The V8 flags bin/mailfleet runs `mailfleet policy` with (its young generation and how far the old one may grow
 * past its last collection), so that the memory measured is the pod's. With Node's defaults the old generation may
 * grow to four times what a collection kept before the next one, and a CI run saw the peak 130 MB above idle.
 */
const POLICY_V8_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=30'];

function memoryMb(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

/** A hostile connection: what it received, and a promise of its end (the server hanging up). */
interface Hostile {
  received: number;
  readonly closed: Promise<void>;
  readonly socket: Socket;
}

async function hostile(port: number, send: (socket: Socket) => void, opts: { read?: boolean } = {}): Promise<Hostile> {
  const socket = createConnection({ host: HOST, port });
  socket.on('error', () => {});
  const h: Hostile = { received: 0, closed: new Promise<void>((resolve) => socket.once('close', () => resolve())), socket };
  if (opts.read === false) socket.pause();
  else socket.on('data', (chunk: Buffer) => void (h.received += chunk.length));
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  try {
    send(socket);
  } catch {
    // The server hung up in the middle of our writes: what this client is for.
  }
  return h;
}

test('GIVEN hostile clients of every kind at once WHEN they hit the policy server THEN it hangs up on each without a reply, serves a good client, and stays within its memory bound', { timeout: 120_000, skip: SKIP }, async (t) => {
  const redis = await startRedis(t);
  const [port, metricsPort] = [await freePort(HOST), await freePort(HOST)];
  const options = {
    listen: { host: HOST, port },
    metrics: { host: HOST, port: metricsPort },
    redis: { host: redis.host, port: redis.port },
    rules: { rules: [{ name: 'rcpt', key: 'client_address', count: 'recipients', windows: [{ limit: 3, seconds: 3600 }] }] },
    tuning: { requestTimeoutMs: REQUEST_TIMEOUT_MS, idleTimeoutMs: 60_000 },
  };
  const launcher = readFileSync(fileURLToPath(new URL('../../../bin/mailfleet', import.meta.url)), 'utf8');
  assert.ok(launcher.includes(`v8=(${POLICY_V8_FLAGS.join(' ')})`), 'bin/mailfleet runs mailfleet policy with POLICY_V8_FLAGS');
  const child = spawn(process.execPath, [...POLICY_V8_FLAGS, FIXTURE, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  await until('the fuzz server listening', async () => {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${output}`);
    return output.includes(`listening ${port}`) ? true : undefined;
  }, 20_000, 20);
  const pid = child.pid as number;
  const idle = memoryMb(pid).now;

  const valid = policyRequest({ protocol_state: 'RCPT', client_address: '192.0.2.200', recipient: 'r@example.org' });
  const attacks: Promise<Hostile>[] = [];
  // Random bytes, with line ends among them.
  for (let i = 0; i < 100; i++) attacks.push(hostile(port, (s) => s.write(Buffer.concat([noise(8192, i + 1), Buffer.from('\n\n')]))));
  // One line of a megabyte, written in pieces.
  for (let i = 0; i < 20; i++) attacks.push(hostile(port, (s) => { for (let k = 0; k < 16; k++) s.write(Buffer.alloc(65536, 0x61)); }));
  // Thousands of attributes.
  for (let i = 0; i < 20; i++) attacks.push(hostile(port, (s) => s.write(`request=smtpd_access_policy\n${'x=1\n'.repeat(5000)}\n`)));
  // A request that never ends (no empty line), and a request one byte every 100 ms.
  for (let i = 0; i < 20; i++) attacks.push(hostile(port, (s) => s.write(valid.slice(0, -1))));
  const dribblers: NodeJS.Timeout[] = [];
  t.after(() => dribblers.forEach(clearInterval));
  for (let i = 0; i < 20; i++) {
    attacks.push(hostile(port, (s) => {
      let at = 0;
      const timer = setInterval(() => (at < valid.length && !s.destroyed ? s.write(valid[at++] ?? '') : clearInterval(timer)), 100);
      dribblers.push(timer);
    }));
  }
  // Pipelining 400,000 requests (20 MB) each and never reading a reply: the kernel's socket buffers take the
  // first 4 MB or so of replies, then the server must stop reading and, after the request timeout, hang up.
  const mail = policyRequest({ protocol_state: 'MAIL', sender: 'a@example.org' });
  const sinks: Hostile[] = [];
  for (let i = 0; i < SINKS; i++) sinks.push(await hostile(port, (s) => s.write(mail.repeat(400_000)), { read: false }));
  const attackers = await Promise.all(attacks);

  // A good client meanwhile is answered, each request in order (judged, or failed open when the flood holds the
  // server past the deadline: either way within it, never stalled).
  const good = await openPolicyClient(t, HOST, port);
  const during = await good.askAll(Array<Record<string, string>>(5).fill({ protocol_state: 'RCPT', client_address: '198.51.100.1', recipient: 'r@example.org' }));
  for (const reply of during) assert.match(reply, /^(DUNNO|DEFER_IF_PERMIT 4\.7\.1 rate limit exceeded)$/);

  // Every hostile client is hung up on. A paused socket does not see its peer's reset, so the server's own count
  // of open connections says it for the clients that never read.
  await Promise.all(attackers.map((h) => h.closed));
  const scrape = async (): Promise<string> => (await fetch(`http://${HOST}:${metricsPort}/metrics`)).text();
  await until('only the good client connected', async () => (/^mailfleet_policy_connections 1$/m.test(await scrape()) ? true : undefined), 15_000, 100);
  for (const sink of sinks) sink.socket.destroy();
  assert.deepEqual(attackers.map((h) => h.received).filter((n) => n > 0), [], 'no reply to a broken request');
  assert.equal(child.exitCode, null, 'still running');
  const peak = memoryMb(pid).peak;
  assert.ok(peak - idle < RSS_RISE_BOUND_MB, `peak RSS ${peak.toFixed(0)} MB, ${(peak - idle).toFixed(0)} MB above idle ${idle.toFixed(0)} MB`);
  t.diagnostic(`idle RSS ${idle.toFixed(0)} MB, peak ${peak.toFixed(0)} MB`);

  // Once they are gone, the same connection is judged exactly.
  const after = await good.askAll(Array<Record<string, string>>(5).fill({ protocol_state: 'RCPT', client_address: '198.51.100.2', recipient: 'r@example.org' }));
  assert.deepEqual(after.map((r) => r.split(' ')[0]), ['DUNNO', 'DUNNO', 'DUNNO', 'DEFER_IF_PERMIT', 'DEFER_IF_PERMIT']);

  const text = await scrape();
  const errors = (code: string): number => Number(new RegExp(`^mailfleet_policy_protocol_errors_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  assert.equal(errors('PROTOCOL_LINE_TOO_LONG'), 20);
  assert.equal(errors('PROTOCOL_REQUEST_TOO_LARGE'), 20);
  assert.equal(errors('PROTOCOL_TIMEOUT'), 20 + 20 + SINKS, 'the unfinished, the dribbling and the non-reading clients');
  assert.ok(errors('PROTOCOL_MALFORMED_REQUEST') + errors('PROTOCOL_LINE_TOO_LONG') >= 100 + 20, 'the noise');
  assert.equal(good.socket.destroyed, false);

  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
