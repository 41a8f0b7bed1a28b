/** The SMTP clients on TLS: STARTTLS (then EHLO again), implicit TLS, verification, AUTH only over TLS. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openSmtpSession, smtpEhlo, type TlsClientOptions } from '../../../src/protocol/index.ts';
import { makeTestPki, type TestPki } from '../../support/test-pki.ts';
import { startFakeServer, type FakePeer, type Script } from './fake-server.ts';

const TEST = { timeout: 10_000 };
const HOST = '127.104.0.1';
const NAME = 'mx.example.test';
const BANNER = '220 mx.example.test ESMTP\r\n';
const EHLO_PLAIN = '250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n';
const EHLO_TLS = '250-mx.example.test\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n';

let pki: TestPki;
before(() => {
  pki = makeTestPki([NAME, HOST]);
});
after(() => pki.remove());

const serverTls = () => ({ key: pki.key, cert: pki.cert });
const starttls = (extra: Partial<TlsClientOptions> = {}): TlsClientOptions => ({ mode: 'starttls', ca: pki.ca, servername: NAME, ...extra });

/** Answers every later line: AUTH with 235, QUIT with 221 and a hang-up, anything else with 250. */
async function answerRest(peer: FakePeer): Promise<void> {
  for (;;) {
    const line = await peer.nextLine();
    if (line === 'QUIT') {
      peer.send('221 2.0.0 Bye\r\n');
      peer.end();
      return;
    }
    peer.send(line.startsWith('AUTH ') ? '235 2.7.0 Authentication successful\r\n' : '250 2.0.0 Ok\r\n');
  }
}

/** Banner, EHLO offering STARTTLS, `goAhead` to STARTTLS; then, on TLS, EHLO and the rest. */
function startTlsServer(goAhead = '220 2.0.0 Ready to start TLS\r\n', onSni?: (name: string | undefined) => void): Script {
  return async (peer) => {
    peer.send(BANNER);
    await peer.nextLine();
    peer.send(EHLO_PLAIN);
    await peer.nextLine();
    peer.send(goAhead);
    const { servername } = await peer.startTls();
    onSni?.(servername);
    await peer.nextLine();
    peer.send(EHLO_TLS);
    await answerRest(peer);
  };
}

/** Implicit TLS (465): the handshake first, then banner, EHLO and the rest. */
const IMPLICIT: Script = async (peer) => {
  await peer.startTls();
  peer.send(BANNER);
  await peer.nextLine();
  peer.send(EHLO_TLS);
  await answerRest(peer);
};

/** A plaintext server offering no STARTTLS that answers everything, AUTH with 530 as Postfix does before TLS. */
const PLAINTEXT: Script = async (peer) => {
  peer.send(BANNER);
  await peer.nextLine();
  peer.send('250-mx.example.test\r\n250 PIPELINING\r\n');
  for (;;) {
    const line = await peer.nextLine();
    peer.send(line.startsWith('AUTH ') ? '530 5.7.0 Must issue a STARTTLS command first\r\n' : '250 2.0.0 Ok\r\n');
  }
};

test('GIVEN a server offering STARTTLS WHEN a session opens with tls starttls THEN it says EHLO again on TLS', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer(), { host: HOST, tls: serverTls() });
  const session = await openSmtpSession({ host: HOST, port: server.port, heloName: 'client.test', tls: starttls() });
  await session.quit();
  assert.deepEqual(server.received, ['EHLO client.test', 'STARTTLS', 'EHLO client.test', 'QUIT']);
});

test('GIVEN a server offering STARTTLS WHEN a session opens with tls starttls THEN its capabilities are those said on TLS', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer(), { host: HOST, tls: serverTls() });
  const session = await openSmtpSession({ host: HOST, port: server.port, tls: starttls() });
  t.after(() => session.quit());
  assert.deepEqual(session.capabilities, ['PIPELINING', 'AUTH PLAIN']);
});

test('GIVEN the CA that signed the certificate WHEN STARTTLS completes THEN the session is verified TLS 1.2 or newer', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer(), { host: HOST, tls: serverTls() });
  const session = await openSmtpSession({ host: HOST, port: server.port, tls: starttls() });
  t.after(() => session.quit());
  assert.equal(session.tls?.authorized, true);
  assert.match(session.tls?.protocol ?? '', /^TLSv1\.[23]$/);
  assert.match(session.tls?.subjectAltName ?? '', /DNS:mx\.example\.test/);
});

test('GIVEN tls.servername WHEN STARTTLS runs THEN the server receives it as SNI', TEST, async (t) => {
  let sni: string | undefined = 'none yet';
  const server = await startFakeServer(t, startTlsServer(undefined, (name) => (sni = name)), { host: HOST, tls: serverTls() });
  const session = await openSmtpSession({ host: HOST, port: server.port, tls: starttls() });
  await session.quit();
  assert.equal(sni, NAME);
});

test('GIVEN an IP address as host and no servername WHEN STARTTLS runs THEN no SNI is sent and the IP in the certificate verifies', TEST, async (t) => {
  let sni: string | undefined = 'none yet';
  const server = await startFakeServer(t, startTlsServer(undefined, (name) => (sni = name)), { host: HOST, tls: serverTls() });
  const session = await openSmtpSession({ host: HOST, port: server.port, tls: { mode: 'starttls', ca: pki.ca } });
  await session.quit();
  assert.deepEqual({ sni, authorized: session.tls?.authorized }, { sni: undefined, authorized: true });
});

test('GIVEN a server that does not offer STARTTLS WHEN a session asks for it THEN it rejects with PROTOCOL_TLS_UNAVAILABLE without sending STARTTLS', TEST, async (t) => {
  const server = await startFakeServer(t, PLAINTEXT, { host: HOST });
  await assert.rejects(openSmtpSession({ host: HOST, port: server.port, tls: starttls() }), { code: 'PROTOCOL_TLS_UNAVAILABLE', step: 'starttls' });
  await (await server.firstPeer).closed;
  assert.deepEqual(server.received, ['EHLO localhost']);
});

test('GIVEN a server that answers STARTTLS with 454 WHEN a session asks for it THEN it rejects with PROTOCOL_TLS_UNAVAILABLE and the code', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer('454 4.7.0 TLS not available due to local problem\r\n'), { host: HOST, tls: serverTls() });
  await assert.rejects(openSmtpSession({ host: HOST, port: server.port, tls: starttls() }), {
    code: 'PROTOCOL_TLS_UNAVAILABLE',
    step: 'starttls',
    replyCode: 454,
  });
});

test('GIVEN a server that answers STARTTLS with binary noise WHEN a session asks for it THEN it rejects with PROTOCOL_MALFORMED_REPLY', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer('\u0016\u0003\u0001\u0000\u00ff\r\n'), { host: HOST, tls: serverTls() });
  await assert.rejects(openSmtpSession({ host: HOST, port: server.port, tls: starttls() }), { code: 'PROTOCOL_MALFORMED_REPLY', step: 'starttls' });
});

test('GIVEN a server that says go ahead and then speaks plaintext WHEN the handshake runs THEN it rejects with PROTOCOL_TLS_HANDSHAKE_FAILED', TEST, async (t) => {
  const server = await startFakeServer(t, async (peer) => {
    peer.send(BANNER);
    await peer.nextLine();
    peer.send(EHLO_PLAIN);
    await peer.nextLine();
    peer.send('220 2.0.0 Ready to start TLS\r\n');
    await new Promise((resolve) => setImmediate(resolve));
    peer.send('250 this is not a ServerHello\r\n');
  }, { host: HOST });
  await assert.rejects(openSmtpSession({ host: HOST, port: server.port, tls: starttls() }), { code: 'PROTOCOL_TLS_HANDSHAKE_FAILED', step: 'tls' });
});

test('GIVEN a reply pipelined after the go-ahead WHEN STARTTLS runs THEN it rejects with PROTOCOL_MALFORMED_REPLY and reads nothing of it as if on TLS', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer('220 2.0.0 Ready to start TLS\r\n250-injected\r\n'), { host: HOST, tls: serverTls() });
  await assert.rejects(openSmtpSession({ host: HOST, port: server.port, tls: starttls() }), {
    code: 'PROTOCOL_MALFORMED_REPLY',
    step: 'tls',
    reply: '250-injected',
  });
});

test('GIVEN a certificate from a CA the client does not trust WHEN STARTTLS runs THEN it rejects with PROTOCOL_TLS_UNTRUSTED', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer(), { host: HOST, tls: serverTls() });
  await assert.rejects(openSmtpSession({ host: HOST, port: server.port, tls: starttls({ ca: pki.otherCa }) }), { code: 'PROTOCOL_TLS_UNTRUSTED', step: 'tls' });
});

test('GIVEN an untrusted certificate WHEN STARTTLS fails THEN nothing is sent after the handshake', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer(), { host: HOST, tls: serverTls() });
  await openSmtpSession({ host: HOST, port: server.port, tls: starttls({ ca: pki.otherCa }) }).catch(() => undefined);
  await (await server.firstPeer).closed;
  assert.deepEqual(server.received, ['EHLO localhost', 'STARTTLS']);
});

test('GIVEN a certificate that does not name the servername WHEN STARTTLS runs THEN it rejects with PROTOCOL_TLS_UNTRUSTED', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer(), { host: HOST, tls: serverTls() });
  await assert.rejects(openSmtpSession({ host: HOST, port: server.port, tls: starttls({ servername: 'other.example.test' }) }), {
    code: 'PROTOCOL_TLS_UNTRUSTED',
    step: 'tls',
  });
});

test('GIVEN rejectUnauthorized false WHEN the certificate is untrusted THEN the session opens and says it is not authorized', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer(), { host: HOST, tls: serverTls() });
  const session = await openSmtpSession({ host: HOST, port: server.port, tls: starttls({ ca: pki.otherCa, rejectUnauthorized: false }) });
  t.after(() => session.quit());
  assert.equal(session.tls?.authorized, false);
});

test('GIVEN minVersion TLSv1.3 WHEN the server offers at most TLS 1.2 THEN it rejects with PROTOCOL_TLS_HANDSHAKE_FAILED', TEST, async (t) => {
  const server = await startFakeServer(t, IMPLICIT, { host: HOST, tls: { ...serverTls(), maxVersion: 'TLSv1.2' } });
  await assert.rejects(openSmtpSession({ host: HOST, port: server.port, tls: { mode: 'implicit', ca: pki.ca, minVersion: 'TLSv1.3' } }), {
    code: 'PROTOCOL_TLS_HANDSHAKE_FAILED',
    step: 'tls',
  });
});

test('GIVEN implicit TLS WHEN a session opens THEN the banner and EHLO come over TLS', TEST, async (t) => {
  const server = await startFakeServer(t, IMPLICIT, { host: HOST, tls: serverTls() });
  const session = await openSmtpSession({ host: HOST, port: server.port, tls: { mode: 'implicit', ca: pki.ca, servername: NAME } });
  await session.quit();
  assert.deepEqual({ authorized: session.tls?.authorized, received: server.received }, { authorized: true, received: ['EHLO localhost', 'QUIT'] });
});

test('GIVEN a plaintext session WHEN authPlain is called THEN it rejects with PROTOCOL_AUTH_WITHOUT_TLS and sends nothing', TEST, async (t) => {
  const server = await startFakeServer(t, PLAINTEXT, { host: HOST });
  const session = await openSmtpSession({ host: HOST, port: server.port });
  t.after(() => session.quit());
  await assert.rejects(session.authPlain('user@example.test', 'secret'), { code: 'PROTOCOL_AUTH_WITHOUT_TLS', step: 'auth' });
  assert.deepEqual(server.received, ['EHLO localhost']);
});

test('GIVEN allowPlaintextAuth WHEN authPlain is called on plaintext THEN the server’s refusal comes back', TEST, async (t) => {
  const server = await startFakeServer(t, PLAINTEXT, { host: HOST });
  const session = await openSmtpSession({ host: HOST, port: server.port, allowPlaintextAuth: true });
  t.after(() => session.quit());
  assert.equal((await session.authPlain('user@example.test', 'secret')).code, 530);
});

test('GIVEN a session on TLS WHEN authPlain is called THEN AUTH PLAIN carries the credentials and 235 comes back', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer(), { host: HOST, tls: serverTls() });
  const session = await openSmtpSession({ host: HOST, port: server.port, tls: starttls() });
  t.after(() => session.quit());
  assert.equal((await session.authPlain('user@example.test', 'secret')).code, 235);
  const auth = server.received.find((line) => line.startsWith('AUTH PLAIN ')) ?? '';
  assert.equal(Buffer.from(auth.slice('AUTH PLAIN '.length), 'base64').toString(), '\0user@example.test\0secret');
});

test('GIVEN a server offering STARTTLS WHEN smtpEhlo runs with tls starttls THEN it reports the TLS session and the EHLO said on TLS', TEST, async (t) => {
  const server = await startFakeServer(t, startTlsServer(), { host: HOST, tls: serverTls() });
  const result = await smtpEhlo({ host: HOST, port: server.port, tls: starttls() });
  assert.deepEqual({ authorized: result.detail.tls?.authorized, capabilities: result.detail.capabilities }, { authorized: true, capabilities: ['PIPELINING', 'AUTH PLAIN'] });
});

test('GIVEN a servername with a line break WHEN a session starts THEN it rejects with PROTOCOL_INVALID_OPTION', TEST, async () => {
  await assert.rejects(openSmtpSession({ host: HOST, port: 25, tls: starttls({ servername: 'mx.example.test\r\nQUIT' }) }), { code: 'PROTOCOL_INVALID_OPTION' });
});

test('GIVEN a ca without any certificate in it WHEN a session starts THEN it rejects with PROTOCOL_INVALID_OPTION', TEST, async () => {
  await assert.rejects(openSmtpSession({ host: HOST, port: 25, tls: starttls({ ca: 'not a certificate' }) }), { code: 'PROTOCOL_INVALID_OPTION' });
});
