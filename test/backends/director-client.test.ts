/**
 * The doveadm HTTP client against in-process HTTPS servers standing in for a proxy's doveadm listener: what crosses
 * (only over TLS, to a certificate of the doveadm CA), and what a hostile or broken server gets.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { createDirectorSink, DirectorError } from '../../src/backends/index.ts';
import { deriveInternalCa, doveadmCa, issueInternalCertificate, type InternalCa } from '../../src/internal-tls/index.ts';

const KEY = 'doveadm-api-key-for-the-client-test';
type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function listen(t: TestContext, server: Server | ReturnType<typeof createHttpServer>): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A doveadm listener serving a certificate of `ca` for `hosts`; records every request it is given. */
async function director(t: TestContext, handler: Handler, opts: { ca?: InternalCa; hosts?: string[] } = {}): Promise<{ url: string; seen: { auth: string; body: string }[] }> {
  const served = issueInternalCertificate(opts.ca ?? doveadmCa(KEY), { hosts: opts.hosts ?? ['127.0.0.1'], validityDays: 1 });
  const seen: { auth: string; body: string }[] = [];
  const server = createServer({ key: served.pem, cert: served.pem }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ auth: req.headers.authorization ?? '', body });
      handler(req, body, res);
    });
  });
  return { url: `https://${await listen(t, server)}`, seen };
}

const answer: Handler = (_req, body, res) => {
  const [command, , tag] = (JSON.parse(body) as [string, unknown, string][])[0] ?? [];
  const rows = command === 'directorStatus' ? [{ 'mail server ip': '127.0.0.9', vhosts: '100', state: 'up', users: '3' }] : [];
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([['doveadmResponse', rows, tag]]));
};

const sink = (url: string, timeoutMs = 2000) => createDirectorSink({ apiKey: KEY, endpoints: () => [{ url }], timeoutMs });

async function failure(p: Promise<unknown>): Promise<DirectorError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof DirectorError, `a DirectorError, got ${String(err)}`);
  return err;
}

test('GIVEN a proxy serving a certificate of the doveadm CA WHEN the director is asked THEN the call goes over TLS with the API key', async (t) => {
  const d = await director(t, answer);
  assert.deepEqual(await sink(d.url).list(), [{ address: '127.0.0.9', vhosts: 100, up: true, users: 3 }]);
  assert.equal(d.seen.length, 1);
  assert.equal(d.seen[0]?.auth, `X-Dovecot-API ${Buffer.from(KEY).toString('base64')}`);
});

test('GIVEN a server with a certificate of another CA, or for another name WHEN called THEN it is refused as tls and never sees the key', async (t) => {
  const other = await director(t, answer, { ca: deriveInternalCa(KEY, 'backend') });
  const err = await failure(sink(other.url).list());
  assert.equal(err.kind, 'tls');
  assert.match(err.message, /TLS refused/);
  const elsewhere = await director(t, answer, { hosts: ['127.0.0.2'] });
  assert.equal((await failure(sink(elsewhere.url).list())).kind, 'tls');
  assert.equal(other.seen.length + elsewhere.seen.length, 0, 'no request reached them');
});

test('GIVEN a plain HTTP URL WHEN called THEN nothing is sent and the error says https only', async (t) => {
  let connections = 0;
  const plain = createHttpServer((_req, res) => res.end());
  plain.on('connection', () => connections++);
  const hostPort = await listen(t, plain);
  const err = await failure(sink(`http://${hostPort}`).list());
  assert.equal(err.kind, 'failed');
  assert.match(err.message, /https only/);
  assert.equal(connections, 0);
});

test('GIVEN an https URL to a server speaking plain HTTP (a proxy not yet upgraded) WHEN called THEN it is a tls failure, and the ring is asked through the next proxy', async (t) => {
  const plain = createHttpServer((_req, res) => res.end('[]'));
  const old = `https://${await listen(t, plain)}`;
  assert.equal((await failure(sink(old).list())).kind, 'tls');
  const good = await director(t, answer);
  const ring = createDirectorSink({ apiKey: KEY, endpoints: () => [{ url: old }, { url: good.url }], timeoutMs: 2000 });
  assert.equal((await ring.list()).length, 1);
});

test('GIVEN a director that trickles its reply WHEN called THEN the deadline covers the whole exchange and is not restarted by each byte', async (t) => {
  const d = await director(t, (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const timer = setInterval(() => res.write(' '), 50);
    res.on('close', () => clearInterval(timer));
  });
  const started = Date.now();
  const err = await failure(sink(d.url, 400).list());
  const took = Date.now() - started;
  assert.equal(err.kind, 'unreachable');
  assert.ok(took < 1500, `failed after ${took} ms, deadline 400 ms`);
});

test('GIVEN a reply over the bound WHEN called THEN the call fails without holding it', async (t) => {
  const d = await director(t, (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const push = (): void => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', push);
    };
    push();
  });
  const err = await failure(sink(d.url).list());
  assert.equal(err.kind, 'failed');
  assert.match(err.message, /a reply over 4194304 bytes/);
});

test('GIVEN a refused key or a reply that is not JSON WHEN called THEN each is its own failure', async (t) => {
  const refusing = await director(t, (_req, _body, res) => res.writeHead(401).end());
  assert.equal((await failure(sink(refusing.url).list())).kind, 'auth');
  const garbled = await director(t, (_req, _body, res) => res.writeHead(200).end('<html>'));
  const err = await failure(sink(garbled.url).list());
  assert.equal(err.kind, 'failed');
  assert.match(err.message, /not JSON/);
});
