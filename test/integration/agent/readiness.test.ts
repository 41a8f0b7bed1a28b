/**
 * The readiness dialogues of the roles with TLS listeners: `msa` asks its health-check smtpd, plain and with
 * implicit TLS (not the public 587 and 465, which clients may hold), `proxy` asks LMTP, 143, 110, 993 and 995, and
 * Dovecot auth for its handshake, on its socket and through the agent's SMTP AUTH relay with the relay key. On the implicit-TLS ports the handshake (in an `openssl s_client`
 * process) must succeed and the daemon greet over it; the certificate is not verified (the agent
 * checks its own daemon by address).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test, type TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { readinessCheck, TLS_RECHECK_MS, type ReadinessCheck } from '../../../src/agent/readiness.ts';
import { startAuthRelayServer } from '../../../src/auth-relay/index.ts';
import { Registry } from '../../../src/metrics/index.ts';
import { REPO } from '../../support/platform.ts';
import { makeTestPki, type TestPki } from '../../support/test-pki.ts';
import { testSpec } from '../../support/spec.ts';
import { answering, startFakeServer, type Script } from '../protocol/fake-server.ts';

const TEST = { timeout: 10_000 };
const HOST = '127.104.4.1';
const TIMEOUT_MS = 2_000;

let pki: TestPki;
before(() => {
  // A certificate for a name the check never asks for, from a CA the agent does not hold.
  pki = makeTestPki(['mx.example.test']);
});
after(() => pki.remove());

const SMTP = answering('220 msa ESMTP\r\n', '250-msa\r\n250 PIPELINING\r\n', '221 Bye\r\n');
const LMTP = answering('220 proxy LMTP\r\n', '250-proxy\r\n250 PIPELINING\r\n', '221 Bye\r\n');
const IMAP = answering('* OK ready\r\n', '* CAPABILITY IMAP4rev1\r\na1 OK done\r\n', '* BYE\r\na2 OK done\r\n');
const POP3 = answering('+OK ready\r\n', '+OK\r\nUIDL\r\n.\r\n', '+OK bye\r\n');
/** Dovecot auth's handshake, sent on connect whatever the client says (the msas' SMTP AUTH goes there). */
const AUTH = 'VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t42\nCUID\t7\nCOOKIE\t0123456789abcdef\nDONE\n';
const RELAY_SECRET = 'readiness-relay-secret-0123456789abcdef';

/** `script` after a TLS handshake. */
function onTls(script: Script): Script {
  return async (peer) => {
    await peer.startTls();
    await script(peer);
  };
}

const run = (check: ReadinessCheck): Promise<void> => check(new AbortController().signal);

async function listen(t: TestContext, script: Script): Promise<number> {
  return (await startFakeServer(t, script, { host: HOST, tls: { key: pki.key, cert: pki.cert } })).port;
}

async function msaCheck(t: TestContext, submissions: Script): Promise<ReadinessCheck> {
  const spec = testSpec(`ports: { smtpHealth: ${await listen(t, SMTP)}, submissionsHealth: ${await listen(t, submissions)} }`);
  return readinessCheck('msa', spec, HOST, TIMEOUT_MS);
}

/** Dovecot auth's stand-in on a unix socket, sending `greeting` (null: silent) on connect, with the relay in front. */
async function authBehindRelay(t: TestContext, greeting: string | null): Promise<{ socketPath: string; port: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-readiness-'));
  const socketPath = join(dir, 'auth-relay');
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    if (greeting !== null) socket.write(greeting);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const relay = await startAuthRelayServer({ host: HOST, port: 0, secret: RELAY_SECRET, upstreamPath: socketPath, log: pino({ level: 'silent' }), registry: new Registry() });
  t.after(async () => {
    await relay.close();
    for (const s of sockets) s.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { socketPath, port: relay.port };
}

async function proxyCheck(t: TestContext, imaps: Script, pop3s: Script, auth: string | null = AUTH): Promise<ReadinessCheck> {
  const relay = await authBehindRelay(t, auth);
  const ports = { lmtp: await listen(t, LMTP), imap: await listen(t, IMAP), pop3: await listen(t, POP3), imaps: await listen(t, imaps), pop3s: await listen(t, pop3s), auth: relay.port };
  const spec = testSpec(`ports: { lmtp: ${ports.lmtp}, imap: ${ports.imap}, pop3: ${ports.pop3}, imaps: ${ports.imaps}, pop3s: ${ports.pop3s}, auth: ${ports.auth} }`);
  return readinessCheck('proxy', spec, HOST, TIMEOUT_MS, Date.now, { authRelay: { socketPath: relay.socketPath, secret: RELAY_SECRET, identity: 'proxy-0-readiness' } });
}

test('GIVEN an msa whose health-check smtpd answers EHLO, plain and on TLS WHEN its readiness is checked THEN it passes without verifying the certificate', TEST, async (t) => {
  await run(await msaCheck(t, onTls(SMTP)));
});

test('GIVEN an msa whose TLS health-check port speaks plaintext WHEN its readiness is checked THEN it fails at the handshake', TEST, async (t) => {
  await assert.rejects(run(await msaCheck(t, SMTP)), /TLS on 127\.104\.4\.1:\d+: handshake failed/);
});

test('GIVEN a proxy answering on all five ports, 993 and 995 on TLS, its auth with a handshake on its socket and through the relay WHEN its readiness is checked THEN it passes', TEST, async (t) => {
  await run(await proxyCheck(t, onTls(IMAP), onTls(POP3)));
});

test('GIVEN a proxy whose Dovecot auth answers no handshake WHEN its readiness is checked THEN it fails: the msas would have no SMTP AUTH there', TEST, async (t) => {
  await assert.rejects(run(await proxyCheck(t, onTls(IMAP), onTls(POP3), '220 not dovecot auth\r\n')), /expected VERSION 1/);
  await assert.rejects(run(await proxyCheck(t, onTls(IMAP), onTls(POP3), null)), /no handshake within/);
});

test('GIVEN a proxy whose relay does not hold the relay key the agent checks with WHEN its readiness is checked THEN it fails at the relay', TEST, async (t) => {
  const relay = await authBehindRelay(t, AUTH);
  const ports = { lmtp: await listen(t, LMTP), imap: await listen(t, IMAP), pop3: await listen(t, POP3), imaps: await listen(t, onTls(IMAP)), pop3s: await listen(t, onTls(POP3)) };
  const spec = testSpec(`ports: { lmtp: ${ports.lmtp}, imap: ${ports.imap}, pop3: ${ports.pop3}, imaps: ${ports.imaps}, pop3s: ${ports.pop3s}, auth: ${relay.port} }`);
  const check = readinessCheck('proxy', spec, HOST, TIMEOUT_MS, Date.now, { authRelay: { socketPath: relay.socketPath, secret: 'another-relay-secret-0123456789abcdef', identity: 'proxy-0-readiness' } });
  await assert.rejects(run(check), /\(relay\)/);
});

test('GIVEN a proxy whose 993 speaks plaintext WHEN its readiness is checked THEN it fails at the handshake', TEST, async (t) => {
  await assert.rejects(run(await proxyCheck(t, IMAP, onTls(POP3))), /handshake failed/);
});

test('GIVEN a proxy whose 995 greets with -ERR on TLS WHEN its readiness is checked THEN it fails naming the greeting', TEST, async (t) => {
  const pop3sRefusing = onTls(answering('-ERR not now\r\n'));
  await assert.rejects(run(await proxyCheck(t, onTls(IMAP), pop3sRefusing)), /unexpected greeting "-ERR not now\\r"/);
});

test('GIVEN a proxy whose 993 handshakes but never greets WHEN its readiness is checked THEN it fails within the timeout', TEST, async (t) => {
  const mute: Script = async (peer) => {
    await peer.startTls();
    await new Promise((r) => setTimeout(r, TIMEOUT_MS + 1000));
  };
  await assert.rejects(run(await proxyCheck(t, mute, onTls(POP3))), /no greeting within 2000 ms/);
});

test('GIVEN an msa whose TLS check passed WHEN it breaks THEN probes pass until TLS_RECHECK_MS has gone by, and then each probe asks again', TEST, async (t) => {
  let clock = 0;
  let handshakes = 0;
  // The first connection gets a handshake; every later one plaintext, which no TLS client accepts.
  const breaking: Script = async (peer) => {
    handshakes++;
    await (handshakes === 1 ? onTls(SMTP) : SMTP)(peer);
  };
  const spec = testSpec(`ports: { smtpHealth: ${await listen(t, SMTP)}, submissionsHealth: ${await listen(t, breaking)} }`);
  const check = readinessCheck('msa', spec, HOST, TIMEOUT_MS, () => clock);
  await run(check);
  clock += TLS_RECHECK_MS - 1;
  await run(check);
  assert.equal(handshakes, 1, '465 was not dialled again within TLS_RECHECK_MS');
  clock += 1;
  await assert.rejects(run(check), /handshake failed/);
  await assert.rejects(run(check), /handshake failed/);
  assert.equal(handshakes, 3);
});

/** Runs `role`'s check in a fresh Node against a silent listener and says whether node:tls got loaded. */
function loadsTls(role: 'mta' | 'msa'): boolean {
  const script = `
    import { once } from 'node:events';
    import { createServer } from 'node:net';
    import { readinessCheck } from './src/agent/readiness.ts';
    import { testSpec } from './test/support/spec.ts';
    const silent = createServer(() => {}).listen(0, '${HOST}');
    await once(silent, 'listening');
    const port = silent.address().port;
    const spec = testSpec(\`ports: { smtpHealth: \${port}, submissionsHealth: \${port} }\`);
    await readinessCheck('${role}', spec, '${HOST}', 200)(new AbortController().signal).catch(() => undefined);
    silent.close();
    silent.unref();
    process.stdout.write(String(process.moduleLoadList.some((m) => m === 'NativeModule tls')));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' });
  return out.trim() === 'true';
}

test('GIVEN an mta agent WHEN its plaintext readiness check runs THEN node:tls is never loaded', TEST, () => {
  assert.equal(loadsTls('mta'), false);
});

test('GIVEN an msa agent WHEN its readiness check runs its TLS dialogue THEN node:tls is not loaded either: the handshake runs in openssl', TEST, () => {
  assert.equal(loadsTls('msa'), false);
});
