/**
 * The handshake is a dialog step like any other: it has one deadline, which bytes trickling in do
 * not extend, and an abort ends it at once. The stalling servers are relays in front of a real
 * TLS server that pass on only part of its answer, or pass it on one byte at a time.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, test, type TestContext } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { imapCapability, openSmtpSession, pop3Capa, smtpEhlo } from '../../../src/protocol/index.ts';
import { makeTestPki, type TestPki } from '../../support/test-pki.ts';
import { startFakeServer, type FakeServer } from './fake-server.ts';

const TEST = { timeout: 10_000 };
const HOST = '127.104.1.1';
const SHORT_TIMEOUT_MS = 300;
/** Far more than the handshake's few hundred bytes can cross at one byte per tick within the deadline. */
const TRICKLE_INTERVAL_MS = 20;

let pki: TestPki;
before(() => {
  pki = makeTestPki(['mx.example.test', HOST]);
});
after(() => pki.remove());

/** A real TLS server that greets with `220 ready` once the handshake is done and answers every line with 250. */
async function startRealTls(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createTlsServer({ key: pki.key, cert: pki.cert }, (socket) => {
    socket.on('error', () => {});
    socket.write('220 ready\r\n');
    socket.on('data', () => socket.write('250 ok\r\n'));
  });
  server.on('connection', (socket: Socket) => sockets.add(socket));
  server.on('tlsClientError', () => {});
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/**
 * A relay to the real TLS server: the client's bytes go through whole; of the server's, the first
 * `passBytes` go through at once and the rest one byte every `trickleMs` (or never, when undefined).
 */
async function startRelay(t: TestContext, passBytes: number, trickleMs?: number): Promise<FakeServer & { clientSpoke: Promise<void> }> {
  const upstreamPort = await startRealTls(t);
  const timers = new Set<NodeJS.Timeout>();
  t.after(() => timers.forEach((timer) => clearInterval(timer)));
  let spoke: () => void = () => {};
  const clientSpoke = new Promise<void>((resolve) => {
    spoke = resolve;
  });
  const server = await startFakeServer(t, (peer) => {
    const upstream = connect({ host: HOST, port: upstreamPort });
    upstream.on('error', () => {});
    void peer.closed.then(() => upstream.destroy());
    const client = peer.socket;
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      spoke();
    });
    let held = Buffer.alloc(0);
    let passed = 0;
    upstream.on('data', (chunk: Buffer) => {
      const free = Math.max(0, passBytes - passed);
      if (free > 0) client.write(chunk.subarray(0, free));
      passed += Math.min(free, chunk.length);
      held = Buffer.concat([held, chunk.subarray(free)]);
    });
    if (trickleMs === undefined) return;
    const timer = setInterval(() => {
      if (held.length === 0) return;
      client.write(held.subarray(0, 1));
      held = held.subarray(1);
    }, trickleMs);
    timers.add(timer);
  }, { host: HOST });
  return { ...server, clientSpoke };
}

const tls = () => ({ mode: 'implicit', ca: pki.ca, servername: 'mx.example.test' }) as const;

test('GIVEN the relay passes everything WHEN an implicit-TLS session opens THEN the handshake succeeds (the relay itself is sound)', TEST, async (t) => {
  const relay = await startRelay(t, Number.MAX_SAFE_INTEGER);
  const result = await smtpEhlo({ host: HOST, port: relay.port, tls: tls(), timeoutMs: 2_000 });
  assert.equal(result.detail.tls?.authorized, true);
});

test('GIVEN a server stalling in the middle of its handshake WHEN a client connects with implicit TLS THEN it rejects with PROTOCOL_TIMEOUT at tls', TEST, async (t) => {
  const relay = await startRelay(t, 40);
  await assert.rejects(smtpEhlo({ host: HOST, port: relay.port, tls: tls(), timeoutMs: SHORT_TIMEOUT_MS }), { code: 'PROTOCOL_TIMEOUT', step: 'tls' });
});

test('GIVEN a server stalling in the middle of its handshake WHEN the client times out THEN the server sees the connection closed', TEST, async (t) => {
  const relay = await startRelay(t, 40);
  await smtpEhlo({ host: HOST, port: relay.port, tls: tls(), timeoutMs: SHORT_TIMEOUT_MS }).catch(() => undefined);
  await (await relay.firstPeer).closed;
});

test('GIVEN a server trickling its handshake one byte at a time WHEN a client connects THEN the deadline still ends the step', TEST, async (t) => {
  const relay = await startRelay(t, 0, TRICKLE_INTERVAL_MS);
  await assert.rejects(openSmtpSession({ host: HOST, port: relay.port, tls: tls(), timeoutMs: SHORT_TIMEOUT_MS }), { code: 'PROTOCOL_TIMEOUT', step: 'tls' });
});

test('GIVEN a silent server WHEN imapCapability connects with implicit TLS THEN it rejects with PROTOCOL_TIMEOUT at tls', TEST, async (t) => {
  const server = await startFakeServer(t, () => {}, { host: HOST });
  await assert.rejects(imapCapability({ host: HOST, port: server.port, tls: tls(), timeoutMs: SHORT_TIMEOUT_MS }), { code: 'PROTOCOL_TIMEOUT', step: 'tls' });
});

test('GIVEN a handshake in progress WHEN the signal aborts THEN it rejects with PROTOCOL_ABORTED at tls', TEST, async (t) => {
  const relay = await startRelay(t, 40);
  const controller = new AbortController();
  const dialog = pop3Capa({ host: HOST, port: relay.port, tls: tls(), signal: controller.signal });
  await relay.clientSpoke;
  controller.abort();
  await assert.rejects(dialog, { code: 'PROTOCOL_ABORTED', step: 'tls' });
});
