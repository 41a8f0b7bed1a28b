/**
 * The `/metrics`, `/livez` and `/readyz` of the processes other than the agent (policy, prober, exporter, controller,
 * operator, the single host's runtime), asked with node:http as a scraper or a probe would, and held by a peer that
 * opens connections and sends nothing.
 */
import assert from 'node:assert/strict';
import { get, request, type IncomingMessage } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { MAX_CONNECTIONS, serveProbeEndpoints, verdict, type ProbeEndpointsOptions, type ProbeVerdict } from '../../src/http-responder.ts';
import { capturedLogger } from '../support/log-lines.ts';

const HOST = '127.0.0.1';
const TEXT = '# TYPE x counter\nx 1\n';
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

async function endpoints(t: TestContext, extra: Partial<ProbeEndpointsOptions> = {}): Promise<number> {
  const served = await serveProbeEndpoints({ host: HOST, port: 0, metrics: { metrics: async () => TEXT, contentType: CONTENT_TYPE }, log: pino({ level: 'silent' }), ...extra });
  t.after(() => served.close());
  return served.address.port;
}

async function ask(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string; allow?: string }> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => request({ host: HOST, port, path, method, agent: false, timeout: 5000 }, resolve).on('error', reject).end());
  let body = '';
  for await (const chunk of res) body += String(chunk);
  return { status: res.statusCode ?? 0, type: res.headers['content-type'], body, ...(res.headers.allow === undefined ? {} : { allow: res.headers.allow }) };
}

test('GIVEN probe endpoints WHEN scraped and probed THEN /metrics has the text and its type, the verdicts answer 200 or 503 with their detail, HEAD has no body', async (t) => {
  let ready: ProbeVerdict = verdict(false, 'not synced');
  const port = await endpoints(t, { live: () => verdict(true), ready: () => ready });
  assert.deepEqual(await ask(port, '/metrics'), { status: 200, type: CONTENT_TYPE, body: TEXT });
  assert.deepEqual(await ask(port, '/metrics', 'HEAD'), { status: 200, type: CONTENT_TYPE, body: '' });
  assert.equal((await ask(port, '/livez')).body, 'ok\n');
  assert.deepEqual({ ...(await ask(port, '/readyz')), type: undefined }, { status: 503, type: undefined, body: 'not synced\n' });
  ready = verdict(true);
  assert.equal((await ask(port, '/readyz')).status, 200);
  assert.equal((await ask(port, '/nothing')).status, 404);
  assert.deepEqual(await ask(port, '/metrics', 'POST'), { status: 405, type: 'text/plain; charset=utf-8', body: 'method not allowed\n', allow: 'GET, HEAD' });
});

test('GIVEN a listener for scrapes only WHEN /livez or /readyz is asked THEN 404', async (t) => {
  const port = await endpoints(t);
  assert.equal((await ask(port, '/livez')).status, 404);
  assert.equal((await ask(port, '/readyz')).status, 404);
  assert.equal((await ask(port, '/metrics')).status, 200);
});

test('GIVEN collecting the metrics fails WHEN scraped THEN 500, and the failure is logged', async (t) => {
  const { log, lines } = capturedLogger();
  const port = await endpoints(t, { metrics: { metrics: () => Promise.reject(new Error('registry broke')), contentType: CONTENT_TYPE }, log });
  assert.deepEqual(await ask(port, '/metrics'), { status: 500, type: 'text/plain; charset=utf-8', body: 'metrics failed\n' });
  assert.ok(lines().some((l) => l.msg === 'metrics failed' && String(l.err).includes('registry broke')), JSON.stringify(lines()));
});

test('GIVEN the port is taken WHEN the endpoints start THEN they reject with the listen error', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, HOST, resolve));
  t.after(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  await assert.rejects(serveProbeEndpoints({ host: HOST, port, metrics: { metrics: async () => TEXT, contentType: CONTENT_TYPE }, log: pino({ level: 'silent' }) }), /EADDRINUSE/);
});

test('GIVEN a peer holding twice the cap of connections open without a request WHEN the kubelet probes and the scraper scrapes THEN both are answered', async (t) => {
  const port = await endpoints(t, { live: () => verdict(true), ready: () => verdict(true) });
  const held: Socket[] = [];
  t.after(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < 2 * MAX_CONNECTIONS; i++) {
    const s = connect(port, HOST);
    s.on('error', () => undefined);
    await new Promise((resolve) => s.once('connect', resolve));
    held.push(s);
  }
  for (const path of ['/livez', '/readyz', '/metrics']) {
    const res = await new Promise<IncomingMessage>((resolve, reject) => get({ host: HOST, port, path, agent: false, timeout: 5000 }, resolve).on('error', reject));
    res.resume();
    assert.equal(res.statusCode, 200, path);
  }
});
