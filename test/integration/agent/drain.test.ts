/**
 * A mailbox's drain (the preStop hook's work) against directors that answer and directors that do not:
 * only a director's answer may end it as done.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { instanceContext } from '../../../src/agent/index.ts';
import { drainRole } from '../../../src/agent/drain.ts';
import type { Peers } from '../../../src/config/index.ts';
import { doveadmCa, issueInternalCertificate } from '../../../src/internal-tls/index.ts';
import { createLogger } from '../../../src/log.ts';
import { parseSpec, withSecrets } from '../../../src/spec/index.ts';
import { ensureBuilt } from '../../support/build.ts';

const log = createLogger('test', { level: process.env.MAILFLEET_TEST_LOG ?? 'silent' });
const BUDGET_MS = 600;
const example = parseSpec(readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8'));

const API_KEY = 'drain-test-key-0123456789';

function mailboxInput(doveadmPort: number, proxies: number) {
  const spec = withSecrets({ ...example.spec, ports: { ...example.spec.ports, doveadm: doveadmPort } }, { doveadmApiKey: API_KEY });
  const peers = { ldap: [], kvs: [], mailbox: [], proxy: Array.from({ length: proxies }, (_, i) => ({ name: `proxy-${i}`, host: '127.0.0.1' })), mta: [], msa: [] } as Peers;
  const instance = { ...instanceContext('/nonexistent', 'mailbox', 'mailbox-0', '127.0.0.1'), address: '127.0.0.1' };
  return { spec, peers, instance };
}

async function listen(t: TestContext, server: Server | ReturnType<typeof createTlsServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('GIVEN directors nobody can reach WHEN a mailbox drains THEN the drain fails, saying no director answered', async () => {
  const port = await closedPort();

  const report = await drainRole(mailboxInput(port, 2), BUDGET_MS, log);

  assert.equal(report.completed, false);
  assert.match(report.detail, /could not reach any director/);
});

test('GIVEN a director that no longer lists the backend WHEN a mailbox drains THEN it is done', async (t) => {
  // Over TLS, as a proxy's doveadm listener serves it: a certificate of the CA derived from the API key.
  const served = issueInternalCertificate(doveadmCa(API_KEY), { hosts: ['127.0.0.1'], validityDays: 1 });
  const director = createTlsServer({ key: served.pem, cert: served.pem }, (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([['doveadmResponse', [{ 'mail server ip': '10.9.9.9', vhosts: '100', state: 'up', users: '3' }], 'x']])));
  });
  const port = await listen(t, director);

  const report = await drainRole(mailboxInput(port, 1), BUDGET_MS, log);

  assert.deepEqual([report.completed, report.detail], [true, 'no users routed here']);
});

test('GIVEN a platform without proxies (or the single host stopping them first) WHEN a mailbox drains THEN it has no director to leave and is done', async () => {
  const report = await drainRole(mailboxInput(await closedPort(), 0), BUDGET_MS, log);

  assert.deepEqual([report.completed, report.detail], [true, 'no director to leave']);
});

test('GIVEN an agent whose drain could not reach any director WHEN the preStop hook asks it to drain THEN the hook prints the report and exits 1', async (t) => {
  const report = { role: 'mailbox', completed: false, detail: 'could not reach any director: connect ECONNREFUSED', durationMs: 600 };
  const agent = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(report) + '\n'));
  });
  // The agent's control socket, as the preStop hook finds it in the pod's run dir.
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-test-drain-hook-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'agent.sock');
  await new Promise<void>((resolve) => agent.listen(socket, resolve));
  t.after(() => agent.close());

  const child = spawn(process.execPath, [ensureBuilt(), 'agent', 'drain', '--socket', socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  // 'close' comes after stdout has ended, 'exit' may come before.
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));

  assert.equal(code, 1);
  assert.deepEqual(JSON.parse(out), report);
});

test('GIVEN a director that answers in plain HTTP WHEN a mailbox drains THEN the key is not sent and the drain fails, saying TLS was refused', async (t) => {
  let requests = 0;
  const director = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => res.writeHead(200).end('[]'));
  });
  const port = await listen(t, director);

  const report = await drainRole(mailboxInput(port, 1), BUDGET_MS, log);

  assert.equal(report.completed, false);
  assert.match(report.detail, /TLS refused/);
  assert.equal(requests, 0);
});
