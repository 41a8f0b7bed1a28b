/**
 * `mailfleet logs-gateway` as Loki's pod runs it, in front of a stand-in for Loki on loopback (Loki itself is not
 * packaged for Debian): pushes and reads pass whole, in both directions; what deletes logs or stops Loki never
 * reaches it, however the path is spelled; bodies over the bound are cut off; a Loki that does not answer gives 502.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { ensureBuilt } from '../support/build.ts';
import { until } from '../support/poll.ts';

const GATEWAY = { host: '127.157.0.1', port: 3100 };
const LOKI = { host: '127.157.0.2', port: 3101 };
const MAX_BODY = 16 * 1024 * 1024;

interface Seen {
  method: string;
  url: string;
  bytes: number;
  headers: IncomingMessage['headers'];
}

/** Loki's stand-in: records each request it gets and answers 204 to a push, a JSON body to anything else. */
async function standIn(t: TestContext): Promise<Seen[]> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', bytes, headers: req.headers });
      if (req.url === '/loki/api/v1/push') return void res.writeHead(204).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { url: req.url } }));
    });
  });
  server.listen(LOKI.port, LOKI.host);
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return seen;
}

function send(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ ...GATEWAY, method, path, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

test('GIVEN the logs gateway in front of Loki WHEN pods push, read and try the rest THEN only pushes and reads reach Loki', { timeout: 120_000 }, async (t) => {
  const seen = await standIn(t);
  const child = spawn(process.execPath, [ensureBuilt(), 'logs-gateway', '--listen', `${GATEWAY.host}:${GATEWAY.port}`, '--upstream', `${LOKI.host}:${LOKI.port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGKILL');
    await gone;
  });
  await until('the gateway listening', async () => ((await send('GET', '/livez')).status === 200 ? true : undefined), 30_000, 100);

  await t.test('a push of 1 MiB and a query pass whole, with their answers', async () => {
    const push = Buffer.alloc(1024 * 1024, 7);
    assert.equal((await send('POST', '/loki/api/v1/push', push, { 'content-type': 'application/x-protobuf' })).status, 204);
    const q = await send('GET', '/loki/api/v1/query_range?query=%7Brole%3D%22mta%22%7D&limit=10');
    assert.equal(q.status, 200);
    assert.equal((JSON.parse(q.text) as { data: { url: string } }).data.url, '/loki/api/v1/query_range?query=%7Brole%3D%22mta%22%7D&limit=10');
    const pushed = seen.find((s) => s.url === '/loki/api/v1/push');
    assert.equal(pushed?.bytes, push.length);
    assert.equal(pushed?.headers['content-type'], 'application/x-protobuf');
    assert.equal(pushed?.headers.host, `${LOKI.host}:${LOKI.port}`);
  });

  await t.test('deleting logs, flushing, shutting the ingester down and spellings of them are refused and never reach Loki', async () => {
    const before = seen.length;
    for (const [method, path] of [
      ['POST', '/loki/api/v1/delete?query=%7Brole%3D%22mta%22%7D&start=0'], ['DELETE', '/loki/api/v1/delete'], ['GET', '/loki/api/v1/delete'],
      ['POST', '/flush'], ['POST', '/ingester/shutdown'], ['GET', '/config'], ['GET', '/loki/api/v1/%64elete'], ['GET', '/loki/api/v1/push/../delete'],
      ['GET', '/loki//api/v1/delete'], ['GET', '/loki/api/v1/push'],
    ] as const) {
      const r = await send(method, path);
      assert.ok(r.status === 403 || r.status === 405 || r.status === 400, `${method} ${path}: HTTP ${r.status}`);
    }
    assert.equal(seen.length, before, 'nothing reached Loki');
    assert.match(output, /request refused/);
  });

  await t.test('a body over 16 MiB is refused, whether announced or streamed without a length', async () => {
    const before = seen.length;
    const announced = await send('POST', '/loki/api/v1/push', undefined, { 'content-length': String(MAX_BODY + 1) });
    assert.equal(announced.status, 413);
    // Chunked: the gateway counts as it streams and cuts the request off past the bound.
    const streamed = await new Promise<number | string>((resolve) => {
      const req = request({ ...GATEWAY, method: 'POST', path: '/loki/api/v1/push', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (err) => resolve(err.message));
      const chunk = Buffer.alloc(1024 * 1024, 1);
      let sent = 0;
      const more = () => {
        while (sent <= MAX_BODY + chunk.length) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', more);
        }
        req.end();
      };
      more();
    });
    assert.ok(streamed === 413 || typeof streamed === 'string', `streamed: ${streamed}`);
    assert.ok(seen.slice(before).every((s) => s.bytes <= MAX_BODY), 'Loki never got more than the bound');
  });

  await t.test('a client that sends half a request head and stalls is cut off', async () => {
    const socket = connect(GATEWAY.port, GATEWAY.host);
    await once(socket, 'connect');
    socket.write('GET /loki/api/v1/query HTTP/1.1\r\nHost: x\r\n');
    const started = Date.now();
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    await once(socket, 'close');
    assert.match(answer, /^HTTP\/1\.1 4\d\d /);
    assert.ok(Date.now() - started < 20_000, `closed after ${Date.now() - started} ms`);
  });

  await t.test('a client that trickles its request head a byte every 200 ms is cut off at the head deadline, not kept by each byte', async () => {
    const socket = connect(GATEWAY.port, GATEWAY.host);
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    const head = `GET /loki/api/v1/query HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(200)}`;
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < head.length && !socket.destroyed) socket.write(head[sent++] ?? '');
    }, 200);
    const started = Date.now();
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    await new Promise((resolve) => socket.once('close', resolve));
    clearInterval(trickle);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started < 20_000, `closed after ${Date.now() - started} ms (head deadline 10 s, ${sent} bytes sent)`);
  });

  await t.test('with Loki gone, a read gets 502 at once', async () => {
    assert.equal((await send('GET', '/ready')).status, 200, 'through to a Loki that answers');
    // A port nothing listens on: the same gateway binary, pointed there.
    const other = spawn(process.execPath, [ensureBuilt(), 'logs-gateway', '--listen', '127.157.0.3:3100', '--upstream', '127.157.0.4:3101'], { stdio: 'ignore' });
    t.after(async () => {
      if (other.exitCode !== null || other.signalCode !== null) return;
      const gone = once(other, 'exit');
      other.kill('SIGKILL');
      await gone;
    });
    const status = await until('the second gateway answering', async () => {
      const r = await new Promise<number>((resolve, reject) => {
        request({ host: '127.157.0.3', port: 3100, path: '/ready' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject).end();
      });
      return r;
    }, 30_000, 100);
    assert.equal(status, 502);
  });

  const stopping = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await stopping;
  assert.equal(code, 0, output);
});
