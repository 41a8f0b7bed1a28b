/**
 * An agent in a pod waiting for what its daemon needs (clamd: signatures): what its HTTP port answers meanwhile,
 * the log line that names the directory again and again, and the two ends of the wait (startable, or stopped).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino, type Logger } from 'pino';
import type { StartBlocker } from '../../../src/agent/daemon.ts';
import { waitUntilStartable } from '../../../src/agent/start-wait.ts';
import { instanceRegistry } from '../../../src/metrics/index.ts';

const HOST = '127.128.15.1';
const DIRECTORY = '/var/lib/clamav';
const BLOCKED: StartBlocker = { detail: `no signatures in ${DIRECTORY} yet`, directory: DIRECTORY };

/** A logger whose JSON lines land in `lines`. */
function capturingLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const log: Logger = pino({ level: 'info' }, sink);
  return { log, lines };
}

/** status and body of a GET, or the connection error's code. */
async function get(port: number, path: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, HOST);
    let text = '';
    socket.setEncoding('utf8').on('data', (c: string) => (text += c));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    socket.on('close', () => {
      if (text === '') return;
      const [head = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), body });
    });
  });
}

async function until(deadlineMs: number, check: () => boolean | Promise<boolean>): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

test('GIVEN a daemon that cannot start WHEN the agent waits THEN it is alive and unready naming the directory, logs it repeatedly, and starts once nothing blocks it', async (t) => {
  const port = 18181;
  const { log, lines } = capturingLog();
  const registry = instanceRegistry('av', 'av-0');
  let blocked: StartBlocker | undefined = BLOCKED;
  const controller = new AbortController();
  t.after(() => controller.abort());
  const waited = waitUntilStartable({ blocker: () => blocked, host: HOST, port, registry, log, pollMs: 20, logEveryMs: 150 }, controller.signal);

  assert.ok(await until(5000, async () => 'status' in (await get(port, '/readyz'))), 'the port answers while waiting');
  assert.deepEqual(await get(port, '/readyz'), { status: 503, body: `waiting: no signatures in ${DIRECTORY} yet\n` });
  assert.deepEqual(await get(port, '/livez'), { status: 200, body: `waiting: no signatures in ${DIRECTORY} yet\n` });
  const metrics = await get(port, '/metrics');
  assert.ok('body' in metrics && /^mailfleet_agent_waiting_to_start\{[^}]*\} 1$/m.test(metrics.body), JSON.stringify(metrics));
  assert.ok(/^mailfleet_agent_ready\{[^}]*\} 0$/m.test(metrics.body) && /^mailfleet_agent_daemon_up\{[^}]*\} 0$/m.test(metrics.body), 'the alerts on an unready instance see it');

  const waits = () => lines.filter((l) => l.msg === 'waiting to start the daemon');
  assert.ok(await until(5000, () => waits().length >= 3), 'the wait is logged again every logEveryMs');
  assert.ok(waits().every((l) => l.directory === DIRECTORY && l.level === 40), JSON.stringify(waits()));

  blocked = undefined;
  assert.equal(await waited, true);
  assert.ok(lines.some((l) => l.msg === 'daemon can start'));
  assert.ok('error' in (await get(port, '/readyz')), 'the port is free again for the agent\'s own health server');
  const after = await registry.metrics();
  assert.match(after, /^mailfleet_agent_waiting_to_start\{[^}]*\} 0$/m);
  assert.doesNotMatch(after, /mailfleet_agent_ready|mailfleet_agent_daemon_up/, 'left for the health server to register');
});

test('GIVEN an agent waiting to start WHEN it is told to stop THEN the wait ends at once without starting and frees its port', async () => {
  const port = 18182;
  const { log, lines } = capturingLog();
  const controller = new AbortController();
  const waited = waitUntilStartable({ blocker: () => BLOCKED, host: HOST, port, registry: instanceRegistry('av', 'av-0'), log, pollMs: 10_000 }, controller.signal);
  assert.ok(await until(5000, async () => 'status' in (await get(port, '/livez'))));
  const started = Date.now();
  controller.abort();
  assert.equal(await waited, false);
  assert.ok(Date.now() - started < 2000, 'a stop does not wait for the next look');
  assert.ok(lines.some((l) => l.msg === 'stopped while waiting to start the daemon'));
  assert.ok('error' in (await get(port, '/livez')));
});

test('GIVEN a daemon that can start WHEN asked to wait THEN it returns at once and opens no port', async () => {
  const port = 18183;
  const { log, lines } = capturingLog();
  assert.equal(await waitUntilStartable({ blocker: () => undefined, host: HOST, port, registry: instanceRegistry('av', 'av-0'), log }, new AbortController().signal), true);
  assert.ok('error' in (await get(port, '/livez')));
  assert.deepEqual(lines, []);
});
