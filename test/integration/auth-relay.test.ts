/**
 * The msas' SMTP AUTH relay on loopback: an msa-side relay, a tap that records what crosses the "network", a
 * proxy-side relay, and a stand-in for Dovecot auth's unix socket (the real Dovecot path runs in msa-sasl and
 * every platform test that submits mail). What crosses is TLS, never the password; a peer without the key, in clear,
 * silent or trickling never reaches Dovecot auth and is cut at the handshake deadline; the connection cap holds; an
 * unreachable or silent proxy closes Postfix's connection within the connect deadline.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { authRelayHandshake, startAuthRelayClient, startAuthRelayServer, type RelayTarget } from '../../src/auth-relay/index.ts';
import { Registry } from '../../src/metrics/index.ts';
import { capturedLogger } from '../support/log-lines.ts';

const PROXY = '127.141.0.1';
const MSA = '127.141.0.2';
const TAP = '127.141.0.3';
const SECRET = 'relay-secret-for-this-test-only-0123456789';
const HANDSHAKE_MS = 1000;
/** Scheduling slack on a loaded 2-core machine. */
const SLACK_MS = 1500;
const HANDSHAKE = 'VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t42\nCUID\t7\nCOOKIE\t0123456789abcdef\nDONE\n';
const PASSWORD = 'correct horse battery staple';
/** What Postfix sends for AUTH PLAIN: the password inside base64, as it would cross in clear without the relay. */
const AUTH_LINE = `VERSION\t1\t2\nCPID\t99\nAUTH\t1\tPLAIN\tservice=smtp\tresp=${Buffer.from(`\0anna@example.com\0${PASSWORD}`).toString('base64')}\n`;

interface Upstream {
  path: string;
  /** Connections Dovecot auth's stand-in took, and what it read (all, and per connection). */
  connections: number;
  received: string;
  sockets: { socket: Socket; received: string }[];
}

function track(t: TestContext, server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return sockets;
}

/** Dovecot auth's stand-in on a unix socket: its handshake on connect (unless `greet` is false), `OK` to each AUTH line (unless `answer` is false). */
async function startUpstream(t: TestContext, { answer = true, greet = true } = {}): Promise<Upstream> {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-auth-relay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const upstream: Upstream = { path: join(dir, 'auth-relay'), connections: 0, received: '', sockets: [] };
  const server = createServer((socket) => {
    upstream.connections++;
    const own = { socket, received: '' };
    upstream.sockets.push(own);
    if (greet) socket.write(HANDSHAKE);
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      upstream.received += chunk;
      own.received += chunk;
      for (const [, id] of chunk.matchAll(/^AUTH\t(\d+)\t/gm)) if (answer) socket.write(`OK\t${id}\tuser=anna@example.com\n`);
    });
  });
  track(t, server);
  server.listen(upstream.path);
  await once(server, 'listening');
  return upstream;
}

/** A TCP tap on TAP that forwards to `to` and records every byte either way. */
async function startTap(t: TestContext, to: RelayTarget): Promise<{ port: number; bytes: () => Buffer }> {
  const chunks: Buffer[] = [];
  const server = createServer((client) => {
    const upstream = connect({ host: to.host, port: to.port });
    upstream.on('error', () => client.destroy());
    client.on('data', (c: Buffer) => {
      chunks.push(c);
      upstream.write(c);
    });
    upstream.on('data', (c: Buffer) => {
      chunks.push(c);
      client.write(c);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  track(t, server);
  server.listen(0, TAP);
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, bytes: () => Buffer.concat(chunks) };
}

async function startProxySide(t: TestContext, upstream: Upstream, extra: { maxConnections?: number } = {}) {
  const registry = new Registry();
  const { log, lines } = capturedLogger();
  const server = await startAuthRelayServer({ host: PROXY, port: 0, secret: SECRET, upstreamPath: upstream.path, log, registry, handshakeTimeoutMs: HANDSHAKE_MS, ...extra });
  t.after(() => server.close());
  const count = async (result: string) => (await registry.getSingleMetric('mailfleet_auth_relay_server_connections_total')!.get()).values.find((v) => v.labels.result === result)?.value;
  return { server, registry, lines, count };
}

async function startMsaSide(t: TestContext, target: () => RelayTarget | undefined, connectTimeoutMs = HANDSHAKE_MS) {
  const registry = new Registry();
  const { log, lines } = capturedLogger();
  const client = await startAuthRelayClient({ host: MSA, port: 0, target, secret: SECRET, identity: 'msa-0', localAddress: MSA, log, registry, connectTimeoutMs });
  t.after(() => client.close());
  const count = async (result: string) => (await registry.getSingleMetric('mailfleet_auth_relay_client_connections_total')!.get()).values.find((v) => v.labels.result === result)?.value;
  return { client, lines, count };
}

/** Connects as Postfix does, sends `text` and resolves with everything read until the peer closes or `waitMs` passes. */
async function converse(host: string, port: number, text: string | undefined, waitMs: number): Promise<{ read: string; closedAfterMs: number | undefined }> {
  const socket = connect({ host, port });
  socket.on('error', () => undefined);
  const started = Date.now();
  let read = '';
  socket.setEncoding('latin1').on('data', (c: string) => (read += c));
  if (text !== undefined) socket.write(text);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
  const result = await Promise.race([closed, delay(waitMs, undefined)]);
  socket.destroy();
  return { read, closedAfterMs: result };
}

test('GIVEN an msa relay, a tap and a proxy relay WHEN Postfix sends AUTH PLAIN THEN Dovecot auth gets the bytes as sent and answers, and only TLS crossed', { timeout: 30_000 }, async (t) => {
  const upstream = await startUpstream(t);
  const proxy = await startProxySide(t, upstream);
  const tap = await startTap(t, { host: PROXY, port: proxy.server.port });
  const msa = await startMsaSide(t, () => ({ host: TAP, port: tap.port }));
  const socket = connect({ host: MSA, port: msa.client.port });
  let read = '';
  socket.setEncoding('latin1').on('data', (c: string) => (read += c));
  socket.write(AUTH_LINE);
  for (let i = 0; i < 50 && !read.includes('OK\t1\t'); i++) await delay(100);
  socket.destroy();
  assert.ok(read.startsWith(HANDSHAKE), `Postfix gets Dovecot's handshake through the relay: ${JSON.stringify(read)}`);
  assert.match(read, /OK\t1\tuser=anna@example\.com\n/);
  assert.equal(upstream.received, AUTH_LINE, 'Dovecot auth reads exactly what Postfix sent');
  const wire = tap.bytes();
  assert.equal(wire[0], 0x16, 'the first byte on the wire opens a TLS handshake');
  const base64 = Buffer.from(AUTH_LINE.split('resp=')[1]!.trim());
  for (const secret of [Buffer.from(PASSWORD), base64, Buffer.from('VERSION\t1'), Buffer.from('anna@example.com')]) {
    assert.equal(wire.indexOf(secret), -1, `${JSON.stringify(secret.toString())} never crossed in clear`);
  }
  assert.equal(await proxy.count('relayed'), 1);
  assert.equal(await msa.count('relayed'), 1);
});

test('GIVEN a proxy relay WHEN a peer speaks Dovecot auth in clear, has the wrong key, sends garbage or stays silent THEN none reaches Dovecot auth, each is cut by the handshake deadline, and the relay still serves', { timeout: 60_000 }, async (t) => {
  const upstream = await startUpstream(t);
  const proxy = await startProxySide(t, upstream);
  const target = { host: PROXY, port: proxy.server.port };

  const clear = await converse(PROXY, target.port, AUTH_LINE, HANDSHAKE_MS + SLACK_MS);
  assert.ok(!clear.read.includes('VERSION'), `a client in clear gets no Dovecot handshake: ${JSON.stringify(clear.read)}`);
  assert.notEqual(clear.closedAfterMs, undefined, 'a client in clear is hung up on');

  await assert.rejects(authRelayHandshake(target, 'another-secret-of-the-same-length-0123456', 'msa-0', HANDSHAKE_MS + SLACK_MS), /Dovecot auth at/);
  await assert.rejects(authRelayHandshake(target, SECRET, 'not an identity!', HANDSHAKE_MS + SLACK_MS), /Dovecot auth at/);

  const garbage = await converse(PROXY, target.port, Buffer.alloc(64 * 1024, 0x41).toString('latin1'), HANDSHAKE_MS + SLACK_MS);
  assert.notEqual(garbage.closedAfterMs, undefined, 'garbage is hung up on');

  const silent = await converse(PROXY, target.port, undefined, HANDSHAKE_MS + SLACK_MS + 1000);
  assert.ok(silent.closedAfterMs !== undefined && silent.closedAfterMs >= HANDSHAKE_MS - 100, `a silent peer is cut at the handshake deadline, not before: ${silent.closedAfterMs} ms`);

  // A trickle (a TLS record header, a byte every 300 ms) does not restart the deadline.
  const trickler = connect({ host: PROXY, port: target.port });
  trickler.on('error', () => undefined);
  const started = Date.now();
  const trickle = setInterval(() => trickler.write(Buffer.from([0x16])), 300);
  await new Promise((resolve) => trickler.once('close', resolve));
  clearInterval(trickle);
  const lasted = Date.now() - started;
  assert.ok(lasted < HANDSHAKE_MS + SLACK_MS, `a trickling peer is cut at the handshake deadline: ${lasted} ms`);

  assert.equal(upstream.connections, 0, 'no peer without the key reached Dovecot auth');
  assert.ok((await proxy.count('refused'))! >= 5, `refusals counted: ${await proxy.count('refused')}`);
  assert.ok(proxy.lines().some((l) => /refused/.test(String(l.msg))), 'a refusal is logged');
  assert.deepEqual(await authRelayHandshake(target, SECRET, 'msa-0', HANDSHAKE_MS + SLACK_MS), ['PLAIN'], 'the relay still serves a peer with the key');
});

test('GIVEN a proxy relay capped at 3 connections WHEN 5 keyed peers hold connections THEN 3 are relayed, the others are closed at accept, and a place frees when one leaves', { timeout: 30_000 }, async (t) => {
  const upstream = await startUpstream(t);
  const proxy = await startProxySide(t, upstream, { maxConnections: 3 });
  const msa = await startMsaSide(t, () => ({ host: PROXY, port: proxy.server.port }));
  const held = await Promise.all(Array.from({ length: 5 }, () => converse(MSA, msa.client.port, undefined, 1500)));
  // converse() destroyed each after its wait; count what the five saw while they held.
  const greeted = held.filter((h) => h.read.startsWith('VERSION')).length;
  assert.equal(greeted, 3, `three relayed at once: ${JSON.stringify(held)}`);
  assert.equal(upstream.connections, 3);
  await delay(200);
  const later = await converse(MSA, msa.client.port, undefined, 1500);
  assert.ok(later.read.startsWith('VERSION'), 'once they left, a newcomer is relayed');
});

test('GIVEN an msa relay WHEN there is no proxy, the proxy port is closed, silent, or Dovecot auth is gone THEN Postfix\'s connection is closed within the connect deadline and each is counted', { timeout: 30_000 }, async (t) => {
  let target: RelayTarget | undefined;
  const msa = await startMsaSide(t, () => target);
  const none = await converse(MSA, msa.client.port, AUTH_LINE, SLACK_MS);
  assert.notEqual(none.closedAfterMs, undefined, 'no proxy known: closed');
  assert.equal(await msa.count('no_target'), 1);

  const closed = createServer();
  closed.listen(0, '127.141.0.9');
  await once(closed, 'listening');
  const closedPort = (closed.address() as { port: number }).port;
  closed.close();
  target = { host: '127.141.0.9', port: closedPort };
  const refused = await converse(MSA, msa.client.port, AUTH_LINE, SLACK_MS);
  assert.notEqual(refused.closedAfterMs, undefined, 'nothing on the proxy port: closed');

  const silentServer = createServer(() => undefined);
  track(t, silentServer);
  silentServer.listen(0, '127.141.0.10');
  await once(silentServer, 'listening');
  target = { host: '127.141.0.10', port: (silentServer.address() as { port: number }).port };
  const silent = await converse(MSA, msa.client.port, AUTH_LINE, HANDSHAKE_MS + SLACK_MS);
  assert.ok(silent.closedAfterMs !== undefined && silent.closedAfterMs >= HANDSHAKE_MS - 100, `a silent proxy: closed at the connect deadline (${silent.closedAfterMs} ms)`);
  assert.equal(await msa.count('failed'), 2);
  assert.ok(msa.lines().some((l) => /not reached/.test(String(l.msg))), 'the failure is logged');

  const upstream = await startUpstream(t);
  const proxy = await startProxySide(t, { ...upstream, path: `${upstream.path}.gone` });
  target = { host: PROXY, port: proxy.server.port };
  const gone = await converse(MSA, msa.client.port, AUTH_LINE, SLACK_MS);
  assert.notEqual(gone.closedAfterMs, undefined, 'Dovecot auth gone: closed');
  assert.ok(!gone.read.includes('VERSION'));
  assert.equal(await proxy.count('upstream_failed'), 1);
});

/** A Postfix-like client of the msa relay: what it read, and a wait for text to appear in it. */
async function postfixClient(t: TestContext, port: number) {
  const socket = connect({ host: MSA, port });
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  const state = { read: '', closed: false };
  socket.setEncoding('latin1').on('data', (c: string) => (state.read += c));
  socket.on('close', () => (state.closed = true));
  const waitFor = async (pattern: RegExp, what: string) => {
    for (let i = 0; i < 50 && !pattern.test(state.read) && !state.closed; i++) await delay(100);
    assert.match(state.read, pattern, what);
  };
  return { socket, state, waitFor };
}

test('GIVEN a Postfix session relayed to a proxy WHEN the proxy closes it between logins THEN the next AUTH on the same connection goes over a new one, after the remembered client handshake, and Postfix sees one server handshake', { timeout: 30_000 }, async (t) => {
  const upstream = await startUpstream(t);
  const proxy = await startProxySide(t, upstream);
  const msa = await startMsaSide(t, () => ({ host: PROXY, port: proxy.server.port }));
  const postfix = await postfixClient(t, msa.client.port);
  postfix.socket.write('VERSION\t1\t2\nCPID\t99\n');
  await postfix.waitFor(/DONE\n/, 'the server handshake');
  postfix.socket.write('AUTH\t1\tPLAIN\tservice=smtp\tresp=AGFubmEAc2VjcmV0\n');
  await postfix.waitFor(/OK\t1\t/, 'the first login answered');
  // The proxy restarts: its end of the connection goes.
  upstream.sockets[0]!.socket.destroy();
  await delay(300);
  assert.equal(postfix.state.closed, false, 'Postfix keeps its connection: no login was under way');
  postfix.socket.write('AUTH\t2\tPLAIN\tservice=smtp\tresp=AGFubmEAc2VjcmV0\n');
  await postfix.waitFor(/OK\t2\t/, 'the second login answered over a new connection');
  assert.equal(upstream.connections, 2);
  assert.ok(upstream.sockets[1]!.received.startsWith('VERSION\t1\t2\nCPID\t99\nAUTH\t2\t'), `the new connection got the client handshake first: ${JSON.stringify(upstream.sockets[1]!.received)}`);
  assert.equal(postfix.state.read.match(/^VERSION\t/gm)?.length, 1, 'the new server handshake was not passed on');
  assert.equal(await msa.count('resumed'), 1);
  assert.equal(await msa.count('relayed'), 2);
});

test('GIVEN a Postfix session WHEN the proxy closes during a login, or before its handshake reached Postfix THEN Postfix\'s connection is closed (it is waiting for an answer)', { timeout: 30_000 }, async (t) => {
  const upstream = await startUpstream(t, { answer: false });
  const proxy = await startProxySide(t, upstream);
  const mute = await startUpstream(t, { greet: false });
  const muteProxy = await startProxySide(t, mute);
  let target = { host: PROXY, port: proxy.server.port };
  const msa = await startMsaSide(t, () => target);
  const during = await postfixClient(t, msa.client.port);
  during.socket.write('VERSION\t1\t2\nCPID\t99\n');
  await during.waitFor(/DONE\n/, 'the server handshake');
  during.socket.write('AUTH\t1\tPLAIN\tservice=smtp\tresp=AGFubmEAc2VjcmV0\n');
  for (let i = 0; i < 50 && !upstream.received.includes('AUTH\t1'); i++) await delay(50);
  upstream.sockets[0]!.socket.destroy();
  for (let i = 0; i < 30 && !during.state.closed; i++) await delay(100);
  assert.equal(during.state.closed, true, 'closed during a login');

  // A proxy that closes right after the TLS handshake, before Dovecot's handshake: Postfix is waiting for it.
  target = { host: PROXY, port: muteProxy.server.port };
  const early = await postfixClient(t, msa.client.port);
  early.socket.write('VERSION\t1\t2\nCPID\t98\n');
  for (let i = 0; i < 50 && mute.sockets.length < 1; i++) await delay(50);
  mute.sockets[0]!.socket.destroy();
  for (let i = 0; i < 30 && !early.state.closed; i++) await delay(100);
  assert.equal(early.state.closed, true, 'closed before its handshake');
  assert.equal(await msa.count('resumed'), 0);
});
