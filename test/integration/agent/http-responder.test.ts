import assert from 'node:assert/strict';
import { once } from 'node:events';
import { lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get, request } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { MAX_HEADER_LINES, MAX_LINE_BYTES, startHttpResponder, type HttpRequest, type Respond } from '../../../src/agent/http-responder.ts';

const HOST = '127.0.0.1';

/** A responder on a free port, closed after the test; `handle` defaults to echoing method and path. */
async function responder(t: TestContext, handle?: (req: HttpRequest, respond: Respond) => void, headTimeoutMs?: number): Promise<number> {
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
  return (http.server.address() as AddressInfo).port;
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
