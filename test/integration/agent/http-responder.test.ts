import assert from 'node:assert/strict';
import { once } from 'node:events';
import { lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get, request } from 'node:http';
import { connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test, type TestContext } from 'node:test';
import { HEAD_TIMEOUT_MS, MAX_CONNECTIONS, MAX_HEADER_LINES, MAX_LINE_BYTES, refuseMethod, startHttpResponder, type HttpRequest, type Respond } from '../../../src/http-responder.ts';
import { until } from '../../support/poll.ts';

const HOST = '127.0.0.1';

/** A responder on a free port, closed after the test; `handle` defaults to echoing method and path. */
async function responder(t: TestContext, handle?: (req: HttpRequest, respond: Respond) => void, headTimeoutMs?: number): Promise<number> {
  return (await responderServer(t, handle, headTimeoutMs)).port;
}

async function responderServer(t: TestContext, handle?: (req: HttpRequest, respond: Respond) => void, headTimeoutMs?: number): Promise<{ port: number; server: Server }> {
  const errors: Error[] = [];
  const http = startHttpResponder({
    host: HOST,
    port: 0,
    handle: handle ?? ((req, respond) => respond(200, `${req.method} ${req.path}\n`)),
    onError: (err) => errors.push(err),
    ...(headTimeoutMs === undefined ? {} : { headTimeoutMs }),
  });
  t.after(() => http.close());
  await once(http.server, 'listening');
  t.after(() => assert.deepEqual(errors, []));
  return { port: (http.server.address() as AddressInfo).port, server: http.server };
}

/** Sends raw bytes (optionally in pieces), returns everything the server sent until it closed. */
async function raw(port: number, ...pieces: (string | Buffer)[]): Promise<string> {
  const socket = connect(port, HOST);
  let text = '';
  socket.setEncoding('latin1').on('data', (c: string) => (text += c));
  socket.on('error', () => undefined);
  const closed = new Promise((resolve) => socket.once('close', resolve));
  for (const p of pieces) socket.write(p);
  await closed;
  return text;
}

const status = (response: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1]);

test('GIVEN a GET WHEN node:http asks THEN it gets the handler\'s answer with content-length, no caching and connection: close', async (t) => {
  const port = await responder(t);
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => get({ host: HOST, port, path: '/readyz?x=1', agent: false }, resolve).on('error', reject));
  let body = '';
  for await (const chunk of res) body += String(chunk);
  assert.equal(res.statusCode, 200);
  assert.equal(body, 'GET /readyz\n');
  assert.equal(res.headers['content-length'], String(body.length));
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers.connection, 'close');
});

test('GIVEN fetch with keep-alive WHEN it asks twice THEN each request is answered on its own connection', async (t) => {
  const port = await responder(t);
  for (const path of ['/livez', '/metrics']) {
    const res = await fetch(`http://${HOST}:${port}${path}`);
    assert.equal(await res.text(), `GET ${path}\n`);
  }
});

test('GIVEN HEAD WHEN answered THEN the head carries the body\'s length and no body follows', async (t) => {
  const port = await responder(t);
  const response = await raw(port, 'HEAD /livez HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(status(response), 200);
  assert.match(response, /content-length: 12\r\n/);
  assert.ok(response.endsWith('\r\n\r\n'), JSON.stringify(response));
});

test('GIVEN a request head split into single bytes with bare LF line ends WHEN it arrives THEN it is answered', async (t) => {
  const port = await responder(t);
  const pieces = [...Buffer.from('GET /readyz HTTP/1.0\nHost: x\n\n')].map((b) => Buffer.from([b]));
  const response = await raw(port, ...pieces);
  assert.equal(status(response), 200);
  assert.ok(response.endsWith('GET /readyz\n'));
});

test('GIVEN a POST with a body WHEN the handler answers later THEN the answer arrives then and the body was not needed', async (t) => {
  let release: (() => void) | undefined;
  const port = await responder(t, (req, respond) => {
    release = () => respond(200, '{"completed":true}\n', 'application/json');
  });
  const answered = new Promise<{ status?: number; body: string }>((resolve, reject) => {
    const req = request({ host: HOST, port, path: '/drain', method: 'POST', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end('{"reason":"prestop"}');
  });
  while (!release) await new Promise((r) => setTimeout(r, 10));
  release();
  assert.deepEqual(await answered, { status: 200, body: '{"completed":true}\n' });
});

const BAD: readonly { given: string; bytes: string; expected: number }[] = [
  { given: 'binary noise', bytes: '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', expected: 400 },
  { given: 'HTTP/2 prior knowledge', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', expected: 400 },
  { given: 'an absolute-form target', bytes: 'GET http://x/readyz HTTP/1.1\r\n\r\n', expected: 400 },
  { given: 'a request line over the line limit', bytes: `GET /${'a'.repeat(MAX_LINE_BYTES)} HTTP/1.1\r\n\r\n`, expected: 431 },
  { given: 'a header line over the line limit', bytes: `GET / HTTP/1.1\r\nX: ${'a'.repeat(MAX_LINE_BYTES)}\r\n\r\n`, expected: 431 },
  { given: 'more header lines than allowed', bytes: `GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(MAX_HEADER_LINES + 1)}\r\n`, expected: 431 },
];

for (const { given, bytes, expected } of BAD) {
  test(`GIVEN ${given} WHEN sent THEN the answer is ${expected} and the connection ends, without reaching the handler`, async (t) => {
    let handled = 0;
    const port = await responder(t, (_req, respond) => {
      handled++;
      respond(200, 'ok\n');
    });
    assert.equal(status(await raw(port, Buffer.from(bytes, 'latin1'))), expected);
    assert.equal(handled, 0);
  });
}

test('GIVEN the start of a TLS ClientHello without a line feed in it WHEN sent to the plain HTTP port THEN 400 at once, not at the head deadline', async (t) => {
  let handled = 0;
  const port = await responder(t, (_req, respond) => {
    handled++;
    respond(200, 'ok\n');
  });
  const started = performance.now();
  // A handshake record (0x16, TLS 1.0 framing) holding the first bytes of a ClientHello: no LF to end a "line" on.
  const response = await raw(port, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x5a, 0x21]));
  assert.equal(status(response), 400);
  assert.ok(performance.now() - started < 2000, `answered after ${Math.round(performance.now() - started)} ms (head deadline ${HEAD_TIMEOUT_MS} ms)`);
  assert.equal(handled, 0);
});

test('GIVEN a handler that refuses a method WHEN asked THEN 405 names the allowed methods in allow', async (t) => {
  const port = await responder(t, (req, respond) => (req.method === 'GET' ? respond(200, 'ok\n') : refuseMethod(respond, ['GET', 'HEAD'])));
  const response = await raw(port, 'DELETE /livez HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(status(response), 405);
  assert.match(response, /\r\nallow: GET, HEAD\r\n/);
});

test('GIVEN a peer that trickles its head slower than the deadline WHEN the deadline passes THEN it gets 408 however often it sent a byte', async (t) => {
  const port = await responder(t, undefined, 300);
  const socket = connect(port, HOST);
  let text = '';
  socket.setEncoding('latin1').on('data', (c: string) => (text += c));
  socket.on('error', () => undefined);
  const trickle = setInterval(() => socket.write('X'), 50);
  socket.write('GET / HTTP/1.1\r\nX-Slow: ');
  await once(socket, 'close');
  clearInterval(trickle);
  assert.equal(status(text), 408);
});

test('GIVEN a peer that closes before its head is complete WHEN it does THEN the connection ends without an answer', async (t) => {
  const port = await responder(t);
  const socket = connect(port, HOST);
  let text = '';
  socket.setEncoding('latin1').on('data', (c: string) => (text += c));
  socket.end('GET /readyz HTTP/1.1\r\n');
  await once(socket, 'close');
  assert.equal(text, '');
});

test('GIVEN an answered request WHEN the peer keeps sending a body THEN the bytes are dropped and a flood ends the connection', async (t) => {
  const port = await responder(t);
  const socket = connect(port, HOST);
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.on('error', () => undefined);
  socket.write('POST /x HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n');
  const chunk = Buffer.alloc(16 * 1024, 0x61);
  const flood = setInterval(() => {
    if (!socket.destroyed) socket.write(chunk);
  }, 1);
  t.after(() => clearInterval(flood));
  await closed;
});

test('GIVEN open connections waiting for answers WHEN the responder closes THEN they are dropped and close resolves', async () => {
  const http = startHttpResponder({ host: HOST, port: 0, handle: () => undefined, onError: () => undefined });
  await once(http.server, 'listening');
  const { port } = http.server.address() as AddressInfo;
  const closed = Array.from({ length: 3 }, () => {
    const s = connect(port, HOST);
    s.on('error', () => undefined);
    s.write('GET /drain-forever HTTP/1.1\r\n\r\n');
    return new Promise((resolve) => s.once('close', resolve));
  });
  await new Promise((r) => setTimeout(r, 100));
  await http.close();
  await Promise.all(closed);
});

test('GIVEN a stale file at the path and a permissive umask WHEN a responder listens on a unix socket THEN the socket is 0600 from the start and answers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-unit-responder-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'agent.sock');
  writeFileSync(path, 'left by a killed agent');
  const umask = process.umask(0);
  let http: ReturnType<typeof startHttpResponder>;
  try {
    http = startHttpResponder({ path, handle: (req, respond) => respond(200, `${req.method} ${req.path}\n`), onError: (err) => assert.fail(err) });
  } finally {
    process.umask(umask);
  }
  t.after(() => http.close());
  // Before the event loop turns even once: no moment in which others could connect.
  const st = lstatSync(path);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
  await once(http.server, 'listening');
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => request({ socketPath: path, method: 'POST', path: '/drain', agent: false }, resolve).on('error', reject).end());
  let body = '';
  for await (const chunk of res) body += String(chunk);
  assert.equal(body, 'POST /drain\n');
});

/** How long the kubelet waits for a probe's answer by default (timeoutSeconds: 1). */
const PROBE_TIMEOUT_MS = 1000;

/** A request as a probe sends it, the whole head at once: the answer's status, or NaN when none came within PROBE_TIMEOUT_MS. */
async function probe(port: number): Promise<number> {
  const socket = connect(port, HOST);
  const timer = setTimeout(() => socket.destroy(), PROBE_TIMEOUT_MS);
  let text = '';
  socket.setEncoding('latin1').on('data', (c: string) => (text += c));
  socket.on('error', () => undefined);
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
  await closed;
  clearTimeout(timer);
  return status(text);
}

/** The server's side of its connections, in the order accepted, and the most it ever had open at once. */
function watchConnections(server: Server): { accepted: Socket[]; peak: () => number } {
  const accepted: Socket[] = [];
  const open = new Set<Socket>();
  let peak = 0;
  // Added after the responder's own listener: by now it has kept, made room for or refused the newcomer.
  server.on('connection', (socket: Socket) => {
    accepted.push(socket);
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    peak = Math.max(peak, [...open].filter((s) => !s.destroyed).length);
  });
  return { accepted, peak: () => peak };
}

/** Client connections that send nothing, destroyed after the test; resolves once the server has accepted them all. */
async function holdIdle(t: TestContext, port: number, watch: { accepted: Socket[] }, count: number): Promise<Socket[]> {
  const target = watch.accepted.length + count;
  const clients = Array.from({ length: count }, () => connect(port, HOST).on('error', () => undefined));
  t.after(() => clients.forEach((c) => c.destroy()));
  await until('the server to accept every connection', async () => (watch.accepted.length >= target ? true : undefined), 5000, 5);
  return clients;
}

test('GIVEN the cap held by connections that sent no complete head WHEN a probe connects THEN it is answered and the one waiting longest makes room, though it sent a byte last', async (t) => {
  const { port, server } = await responderServer(t);
  const watch = watchConnections(server);
  const clients = await holdIdle(t, port, watch, MAX_CONNECTIONS);
  const oldest = watch.accepted[0];
  assert.ok(oldest);
  clients.find((c) => c.localPort === oldest.remotePort)?.write('GET /livez HTTP/1.1\r\n');
  await once(oldest, 'data');

  assert.equal(await probe(port), 200);
  assert.equal(oldest.destroyed, true);
  assert.deepEqual(watch.accepted.slice(1, MAX_CONNECTIONS).filter((s) => s.destroyed), []);
});

test('GIVEN the cap held by idle connections and one answered whose peer does not close WHEN a probe connects THEN the answered one makes room, not the idle ones', async (t) => {
  const { port, server } = await responderServer(t);
  const watch = watchConnections(server);
  await holdIdle(t, port, watch, MAX_CONNECTIONS - 1);
  const lingering = connect({ port, host: HOST, allowHalfOpen: true }).on('error', () => undefined);
  t.after(() => lingering.destroy());
  lingering.resume().write('GET /livez HTTP/1.1\r\n\r\n');
  await once(lingering, 'end');
  const answered = watch.accepted[MAX_CONNECTIONS - 1];
  assert.ok(answered && !answered.destroyed);

  assert.equal(await probe(port), 200);
  assert.equal(answered.destroyed, true);
  assert.deepEqual(watch.accepted.slice(0, MAX_CONNECTIONS - 1).filter((s) => s.destroyed), []);
});

test('GIVEN the cap held by requests whose handler has not answered WHEN another connects THEN it is closed unanswered and the held ones get their answers', async (t) => {
  const pending: Respond[] = [];
  const port = await responder(t, (_req, respond) => void pending.push(respond));
  const held = Array.from({ length: MAX_CONNECTIONS }, () => raw(port, 'GET /readyz HTTP/1.1\r\n\r\n'));
  await until('every request to reach the handler', async () => (pending.length === MAX_CONNECTIONS ? true : undefined), 5000, 5);

  assert.ok(Number.isNaN(await probe(port)));
  for (const respond of pending) respond(200, 'ok\n');
  assert.deepEqual((await Promise.all(held)).map(status), Array<number>(MAX_CONNECTIONS).fill(200));
});

/**
 * Connections that never complete a head, each opened again as soon as the server closes it: some send nothing,
 * some a partial head and then a byte a second. Stopped (every socket destroyed) after the test.
 */
function startAttack(t: TestContext): { start(port: number, idle: number, dripping: number): void; closes: () => number; firstWaveOpen: () => number } {
  let stopped = false;
  let closes = 0;
  const open = new Set<Socket>();
  const dripping = new Set<Socket>();
  const firstWave = new Set<Socket>();
  const drip = setInterval(() => dripping.forEach((s) => s.write('x')), 1000);
  t.after(() => {
    stopped = true;
    clearInterval(drip);
    open.forEach((s) => s.destroy());
  });
  function connectOne(port: number, drips: boolean): Socket {
    const socket = connect(port, HOST);
    let connected = false;
    open.add(socket);
    socket.on('error', () => undefined).once('connect', () => (connected = true));
    if (drips) {
      dripping.add(socket);
      socket.write('GET /livez HTTP/1.1\r\nX-Slow: ');
    }
    socket.once('close', () => {
      open.delete(socket);
      dripping.delete(socket);
      firstWave.delete(socket);
      closes++;
      // Refused: the server is gone, nothing left to hold.
      if (!stopped && connected) connectOne(port, drips);
    });
    return socket;
  }
  return {
    start(port, idle, drips) {
      for (let i = 0; i < idle + drips; i++) firstWave.add(connectOne(port, i >= idle));
    },
    closes: () => closes,
    firstWaveOpen: () => firstWave.size,
  };
}

test('GIVEN 200 idle and 20 byte-dripping connections, each re-opened when closed WHEN /livez is probed during the attack THEN every probe is answered in time, the server never holds more than its cap, and the attacker\'s connections are closed', async (t) => {
  const IDLE = 200;
  const DRIPPING = 20;
  const PROBES = 20;
  const attack = startAttack(t);
  const { port, server } = await responderServer(t);
  const watch = watchConnections(server);
  attack.start(port, IDLE, DRIPPING);
  await until('the attack to fill the cap', async () => (attack.closes() >= IDLE + DRIPPING - MAX_CONNECTIONS ? true : undefined), 10_000, 5);

  const closesBefore = attack.closes();
  const statuses: number[] = [];
  for (let i = 0; i < PROBES; i++) statuses.push(await probe(port));
  assert.deepEqual(statuses, Array<number>(PROBES).fill(200));
  assert.ok(attack.closes() > closesBefore, 'the attack went on while probed');
  await until('every connection of the first wave to be closed', async () => (attack.firstWaveOpen() === 0 ? true : undefined), 10_000, 5);
  assert.equal(watch.peak(), MAX_CONNECTIONS);
});
