/**
 * The agent's relay of Dovecot's metrics against stand-ins for Dovecot's stats listener that answer as it does,
 * stay silent, drip, send too much or send something else: the agent's own scrape is served every time, and what
 * went wrong is counted by reason.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { createDovecotMetricsRelay, type DovecotScrapeError } from '../../../src/agent/dovecot-metrics.ts';
import { startHealth } from '../../../src/agent/health.ts';
import { instanceRegistry, type Registry } from '../../../src/metrics/index.ts';

/** The agent's health port, in this file's own part of the 127.149.0.0/16 pool (platforms count up from .0.1). */
const HOST = '127.149.250.1';
const DOVECOT = readFileSync(new URL('../../protocol/fixtures/dovecot-2.3.19-mailbox.openmetrics', import.meta.url), 'utf8');
const LABELS = { role: 'mailbox', instance: 'mailbox-0' };
const log = pino({ level: 'silent' });

/** A fresh directory for the stand-ins' sockets, removed after the test. */
function socketDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-relay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A unix socket that answers every connection with `serve` once it has read the request head; closed after the test. */
async function standIn(t: TestContext, serve: (socket: Socket) => void): Promise<{ path: string; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      serve(socket);
    };
    socket.on('data', onData);
  });
  const path = join(socketDir(t), 'http');
  server.listen(path);
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { path, connections: () => connections };
}

const answer = (status: string, body: string, headers = ''): string =>
  `HTTP/1.1 ${status}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${headers}\r\n${body}`;

async function errorsOf(registry: Registry, reason: DovecotScrapeError): Promise<number> {
  const m = new RegExp(`^mailfleet_agent_dovecot_scrape_errors_total\\{reason="${reason}"[^}]*\\} (\\d+)$`, 'm').exec(await registry.metrics());
  assert.ok(m, `no error counter for ${reason}`);
  return Number(m[1]);
}

function relay(socketPath: string, options: { timeoutMs?: number; maxBytes?: number } = {}): { registry: Registry; scrape: () => Promise<string> } {
  const registry = instanceRegistry(LABELS.role, LABELS.instance);
  return { registry, scrape: createDovecotMetricsRelay({ socketPath, registry, labels: LABELS, log, ...options }) };
}

test('GIVEN Dovecot answering as 2.3.19 does WHEN relayed THEN its metrics come converted, with the agent\'s labels, and no error is counted', async (t) => {
  const dovecot = await standIn(t, (s) => s.end(answer('200 OK', DOVECOT, 'Content-Type: application/openmetrics-text; version=0.0.1; charset=utf-8\r\n')));
  const r = relay(dovecot.path);
  const text = await r.scrape();
  assert.match(text, /^# TYPE dovecot_imap_command_total counter$/m);
  assert.match(text, /^dovecot_imap_command_total\{cmd_name="SELECT",tagged_reply_state="OK",role="mailbox",instance="mailbox-0"\} 5$/m);
  assert.doesNotMatch(text, /# EOF/);
  for (const reason of ['connect', 'timeout', 'oversize', 'response', 'invalid_lines'] as const) assert.equal(await errorsOf(r.registry, reason), 0, reason);
});

test('GIVEN no socket, or a listener that hangs up WHEN relayed THEN nothing comes and a connect error is counted', async (t) => {
  const hangsUp = await standIn(t, (s) => s.destroy());
  for (const path of [join(socketDir(t), 'http'), hangsUp.path]) {
    const r = relay(path);
    assert.equal(await r.scrape(), '');
    assert.equal(await errorsOf(r.registry, 'connect'), 1);
  }
});

test('GIVEN a listener that never answers WHEN relayed THEN the deadline ends the fetch and a timeout is counted', async (t) => {
  const dovecot = await standIn(t, () => {});
  const r = relay(dovecot.path, { timeoutMs: 300 });
  const started = Date.now();
  assert.equal(await r.scrape(), '');
  assert.ok(Date.now() - started < 5000, 'the fetch ended long after its deadline');
  assert.equal(await errorsOf(r.registry, 'timeout'), 1);
});

test('GIVEN a listener that drips its answer a byte at a time WHEN relayed THEN the deadline holds (no restart per byte)', async (t) => {
  const dovecot = await standIn(t, (s) => {
    const bytes = Buffer.from(answer('200 OK', DOVECOT));
    let i = 0;
    const drip = setInterval(() => (i < bytes.length && !s.destroyed ? s.write(bytes.subarray(i, ++i)) : clearInterval(drip)), 20);
    s.once('close', () => clearInterval(drip));
  });
  const r = relay(dovecot.path, { timeoutMs: 500 });
  assert.equal(await r.scrape(), '');
  assert.equal(await errorsOf(r.registry, 'timeout'), 1);
});

test('GIVEN an answer larger than the bound WHEN relayed THEN it is dropped and counted as oversize', async (t) => {
  const dovecot = await standIn(t, (s) => s.end(answer('200 OK', `${'x_total 1\n'.repeat(20_000)}`)));
  const r = relay(dovecot.path, { maxBytes: 64 * 1024 });
  assert.equal(await r.scrape(), '');
  assert.equal(await errorsOf(r.registry, 'oversize'), 1);
});

test('GIVEN a 404, or bytes that are not HTTP WHEN relayed THEN nothing comes and each counts as a bad response', async (t) => {
  const notFound = await standIn(t, (s) => s.end(answer('404 Path Not Found', 'Path Not Found\r\n')));
  const junk = await standIn(t, (s) => s.end(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x0a, 0x0a])));
  for (const path of [notFound.path, junk.path]) {
    const r = relay(path);
    assert.equal(await r.scrape(), '');
    assert.equal(await errorsOf(r.registry, 'response'), 1);
  }
});

test('GIVEN an answer with broken lines WHEN relayed THEN the valid rest is served and the scrape counted as invalid_lines', async (t) => {
  const dovecot = await standIn(t, (s) => s.end(answer('200 OK', '# TYPE dovecot_a counter\ndovecot_a_total 3\ndovecot_b{x="1 2\n\u0000\u0001 garbage\n# EOF\n')));
  const r = relay(dovecot.path);
  assert.equal(await r.scrape(), '# TYPE dovecot_a_total counter\ndovecot_a_total{role="mailbox",instance="mailbox-0"} 3\n');
  assert.equal(await errorsOf(r.registry, 'invalid_lines'), 1);
});

test('GIVEN scrapes arriving together WHEN relayed THEN they share one fetch', async (t) => {
  const dovecot = await standIn(t, (s) => setTimeout(() => s.end(answer('200 OK', DOVECOT)), 100));
  const r = relay(dovecot.path);
  const texts = await Promise.all([r.scrape(), r.scrape(), r.scrape()]);
  assert.equal(dovecot.connections(), 1);
  assert.ok(texts.every((x) => x === texts[0] && x.includes('dovecot_imap_command_total')));
});

test('GIVEN Dovecot down WHEN the agent is scraped THEN /metrics still answers 200 with the agent\'s own metrics and the error', async (t) => {
  const socketPath = join(socketDir(t), 'http');
  const registry = instanceRegistry(LABELS.role, LABELS.instance);
  const health = startHealth({
    host: HOST,
    port: 0,
    check: async () => {},
    state: { daemonRunning: () => true, drainStartedAt: () => undefined },
    log,
    drainBudgetMs: 10_000,
    registry,
    relay: createDovecotMetricsRelay({ socketPath, registry, labels: LABELS, log }),
  });
  t.after(() => health.close());
  await once(health.server, 'listening');
  const res = await fetch(`http://${HOST}:${(health.server.address() as AddressInfo).port}/metrics`);
  const body = await res.text();
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  assert.match(body, /^mailfleet_agent_daemon_up\{role="mailbox",instance="mailbox-0"\} 1$/m);
  assert.match(body, /^mailfleet_agent_dovecot_scrape_errors_total\{reason="connect",role="mailbox",instance="mailbox-0"\} 1$/m);
  assert.doesNotMatch(body, /^dovecot_/m);
});
