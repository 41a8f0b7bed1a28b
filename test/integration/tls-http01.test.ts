/**
 * The HTTP-01 responder faces the internet on port 80: it answers key authorizations of orders in flight and
 * nothing else, with bounded headers, time and connections.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { isMailfleetError } from '../../src/errors.ts';
import { startHttp01Responder } from '../../src/tls/index.ts';

// 127.151.0.0/16: this file shares the pool of tls-local-ca.test.ts, on its own addresses.
const HOST = '127.151.1.1';

/** Sends raw bytes and collects everything until the server closes (or `ms` passes). */
function raw(port: number, bytes: string | Buffer, ms = 8000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, ms);
    socket.setEncoding('latin1').on('data', (c: string) => (text += c));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    socket.write(bytes);
  });
}

test('GIVEN an HTTP-01 responder with one token WHEN asked THEN only that path answers, with the key authorization', async (t) => {
  const responder = await startHttp01Responder(`${HOST}:0`, pino({ level: 'silent' }));
  t.after(() => responder.close());
  const { port } = responder.address;
  responder.add('tok_en-1', 'tok_en-1.thumbprint');
  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`http://${HOST}:${port}${path}`, { method });
    return { status: res.status, body: await res.text() };
  };
  assert.deepEqual(await get('/.well-known/acme-challenge/tok_en-1'), { status: 200, body: 'tok_en-1.thumbprint' });
  assert.deepEqual(await get('/.well-known/acme-challenge/tok_en-1', 'HEAD'), { status: 200, body: '' });
  for (const path of ['/', '/.well-known/acme-challenge/', '/.well-known/acme-challenge/other', '/.well-known/acme-challenge/tok_en-1?x=1', '/.well-known/acme-challenge/tok_en-1/', '/.well-known/acme-challenge/%74ok_en-1']) {
    assert.equal((await get(path)).status, 404, path);
  }
  // fetch would resolve the dots itself: the raw request line goes as written.
  const dots = await raw(port, `GET /.well-known/acme-challenge/../acme-challenge/tok_en-1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
  assert.match(dots.text, /^HTTP\/1\.1 404 /);
  assert.equal((await get('/.well-known/acme-challenge/tok_en-1', 'POST')).status, 405);
  responder.remove('tok_en-1');
  assert.equal((await get('/.well-known/acme-challenge/tok_en-1')).status, 404, 'gone once the order removed it');
});

test('GIVEN an HTTP-01 responder WHEN a peer sends oversized headers, garbage or nothing THEN it is refused or cut off, and the responder keeps answering', async (t) => {
  const responder = await startHttp01Responder(`${HOST}:0`, pino({ level: 'silent' }));
  t.after(() => responder.close());
  const { port } = responder.address;
  responder.add('t', 'k');
  const big = await raw(port, `GET /.well-known/acme-challenge/t HTTP/1.1\r\nhost: x\r\nx-pad: ${'a'.repeat(8192)}\r\n\r\n`);
  assert.match(big.text, /^HTTP\/1\.1 431 /);
  const garbage = await raw(port, Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10, 13, 10]));
  assert.match(garbage.text, /^HTTP\/1\.1 400 /);
  assert.equal(garbage.closed, true);
  // A peer that sends half a request line and then nothing is cut off by the header deadline.
  const silent = await raw(port, 'GET /.well-known/acme', 15_000);
  assert.equal(silent.closed, true, 'closed by the server');
  const res = await fetch(`http://${HOST}:${port}/.well-known/acme-challenge/t`);
  assert.equal(await res.text(), 'k');
});

test('GIVEN an HTTP-01 responder WHEN a peer trickles a request a byte every 200 ms THEN it is answered 408 and closed at the header deadline, not kept by each byte', { timeout: 30_000 }, async (t) => {
  const responder = await startHttp01Responder(`${HOST}:0`, pino({ level: 'silent' }));
  t.after(() => responder.close());
  const socket = connect({ host: HOST, port: responder.address.port });
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  const started = Date.now();
  let read = '';
  socket.setEncoding('latin1').on('data', (c: string) => (read += c));
  const request = `GET /.well-known/acme-challenge/t HTTP/1.1\r\nhost: x\r\nx-pad: ${'a'.repeat(500)}`;
  let sent = 0;
  const trickle = setInterval(() => {
    if (sent < request.length && !socket.destroyed) socket.write(request[sent++] ?? '');
  }, 200);
  t.after(() => clearInterval(trickle));
  await new Promise((resolve) => socket.once('close', resolve));
  clearInterval(trickle);
  const lasted = Date.now() - started;
  assert.ok(lasted < 9000, `closed ${lasted} ms after the connect (header deadline 5 s, checked every second)`);
  assert.match(read, /^HTTP\/1\.1 408 /);
});

test('GIVEN an address already taken WHEN a responder starts there THEN TLS_ISSUE_FAILED names spec.tls.acme.http01Listen', async (t) => {
  const first = await startHttp01Responder(`${HOST}:0`, pino({ level: 'silent' }));
  t.after(() => first.close());
  await assert.rejects(startHttp01Responder(`${HOST}:${first.address.port}`, pino({ level: 'silent' })), (err: unknown) => isMailfleetError(err, 'TLS_ISSUE_FAILED') && err.message.includes('spec.tls.acme.http01Listen') && err.message.includes('EADDRINUSE'));
});
