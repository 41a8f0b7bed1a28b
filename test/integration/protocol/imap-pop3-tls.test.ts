/** The IMAP and POP3 clients on TLS: STARTTLS / STLS, implicit TLS, refusal, LOGIN and USER/PASS only over TLS. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { imapCapability, openImapSession, openPop3Session, pop3Capa, type TlsClientOptions } from '../../../src/protocol/index.ts';
import { makeTestPki, type TestPki } from '../../support/test-pki.ts';
import { startFakeServer, type FakePeer, type Script } from './fake-server.ts';

const TEST = { timeout: 10_000 };
const HOST = '127.104.2.1';
const NAME = 'imap.example.test';

let pki: TestPki;
before(() => {
  pki = makeTestPki([NAME, HOST]);
});
after(() => pki.remove());

const serverTls = () => ({ key: pki.key, cert: pki.cert });
const starttls = (extra: Partial<TlsClientOptions> = {}): TlsClientOptions => ({ mode: 'starttls', ca: pki.ca, servername: NAME, ...extra });

/** Answers tagged IMAP commands: CAPABILITY lists `capabilities`, LOGIN with user "u" and password "p\"w" is OK, LOGOUT says BYE. */
async function imapCommands(peer: FakePeer, capabilities: string): Promise<void> {
  for (;;) {
    const line = await peer.nextLine();
    const [tag, verb] = line.split(' ');
    if (verb === 'CAPABILITY') peer.send(`* CAPABILITY ${capabilities}\r\n${tag} OK done\r\n`);
    else if (verb === 'LOGIN') peer.send(line === `${tag} LOGIN "u" "p\\"w"` ? `${tag} OK Logged in\r\n` : `${tag} NO [AUTHENTICATIONFAILED] failed\r\n`);
    else if (verb === 'LOGOUT') {
      peer.send(`* BYE bye\r\n${tag} OK done\r\n`);
      peer.end();
      return;
    } else peer.send(`${tag} OK done\r\n`);
  }
}

function imapStartTlsServer(answer = 'OK Begin TLS negotiation now'): Script {
  return async (peer) => {
    peer.send('* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n');
    const line = await peer.nextLine();
    const tag = line.split(' ')[0];
    peer.send(`${tag} ${answer}\r\n`);
    if (!answer.startsWith('OK')) return imapCommands(peer, 'IMAP4rev1 STARTTLS LOGINDISABLED');
    await peer.startTls();
    await imapCommands(peer, 'IMAP4rev1 AUTH=PLAIN');
  };
}

const IMAPS: Script = async (peer) => {
  await peer.startTls();
  peer.send('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n');
  await imapCommands(peer, 'IMAP4rev1 AUTH=PLAIN');
};

test('GIVEN an IMAP server offering STARTTLS WHEN imapCapability runs with tls starttls THEN CAPABILITY is asked on TLS', TEST, async (t) => {
  const server = await startFakeServer(t, imapStartTlsServer(), { host: HOST, tls: serverTls() });
  const result = await imapCapability({ host: HOST, port: server.port, tls: starttls() });
  assert.deepEqual(
    { authorized: result.detail.tls?.authorized, capabilities: result.detail.capabilities, received: server.received },
    { authorized: true, capabilities: ['IMAP4rev1', 'AUTH=PLAIN'], received: ['a0 STARTTLS', 'a1 CAPABILITY', 'a2 LOGOUT'] },
  );
});

test('GIVEN an IMAP server answering STARTTLS with NO WHEN a client asks for it THEN it rejects with PROTOCOL_TLS_UNAVAILABLE', TEST, async (t) => {
  const server = await startFakeServer(t, imapStartTlsServer('NO TLS not available'), { host: HOST, tls: serverTls() });
  await assert.rejects(imapCapability({ host: HOST, port: server.port, tls: starttls() }), { code: 'PROTOCOL_TLS_UNAVAILABLE', step: 'starttls' });
});

test('GIVEN an IMAP server with an untrusted certificate WHEN a session asks for STARTTLS THEN it rejects with PROTOCOL_TLS_UNTRUSTED', TEST, async (t) => {
  const server = await startFakeServer(t, imapStartTlsServer(), { host: HOST, tls: serverTls() });
  await assert.rejects(openImapSession({ host: HOST, port: server.port, tls: starttls({ ca: pki.otherCa }) }), { code: 'PROTOCOL_TLS_UNTRUSTED', step: 'tls' });
});

test('GIVEN an IMAP session after STARTTLS WHEN login runs THEN LOGIN goes with quoted, escaped strings and OK comes back', TEST, async (t) => {
  const server = await startFakeServer(t, imapStartTlsServer(), { host: HOST, tls: serverTls() });
  const session = await openImapSession({ host: HOST, port: server.port, tls: starttls() });
  t.after(() => session.logout());
  assert.equal((await session.login('u', 'p"w')).status, 'OK');
});

test('GIVEN an IMAPS server WHEN a session opens with implicit TLS THEN the greeting comes over TLS and login works', TEST, async (t) => {
  const server = await startFakeServer(t, IMAPS, { host: HOST, tls: serverTls() });
  const session = await openImapSession({ host: HOST, port: server.port, tls: { mode: 'implicit', ca: pki.ca, servername: NAME } });
  t.after(() => session.logout());
  assert.deepEqual({ greeting: session.greeting.status, login: (await session.login('u', 'p"w')).status }, { greeting: 'OK', login: 'OK' });
});

test('GIVEN a plaintext IMAP session WHEN login runs THEN it rejects with PROTOCOL_AUTH_WITHOUT_TLS and sends nothing', TEST, async (t) => {
  const server = await startFakeServer(t, imapStartTlsServer(), { host: HOST, tls: serverTls() });
  const session = await openImapSession({ host: HOST, port: server.port });
  t.after(() => session.logout());
  await assert.rejects(session.login('u', 'p"w'), { code: 'PROTOCOL_AUTH_WITHOUT_TLS' });
  await assert.rejects(session.command('LOGIN u pw'), { code: 'PROTOCOL_AUTH_WITHOUT_TLS' });
  assert.deepEqual(server.received, []);
});

test('GIVEN a password with a line break WHEN login runs on TLS THEN it rejects with PROTOCOL_INVALID_OPTION', TEST, async (t) => {
  const server = await startFakeServer(t, IMAPS, { host: HOST, tls: serverTls() });
  const session = await openImapSession({ host: HOST, port: server.port, tls: { mode: 'implicit', ca: pki.ca, servername: NAME } });
  t.after(() => session.logout());
  await assert.rejects(session.login('u', 'pw\r\na2 DELETE INBOX'), { code: 'PROTOCOL_INVALID_OPTION' });
});

/** POP3: greeting, then `stlsAnswer` to STLS; on +OK the handshake, then CAPA, USER, PASS ("p" is right), QUIT. */
function pop3Server(stlsAnswer = '+OK Begin TLS negotiation'): Script {
  return async (peer) => {
    peer.send('+OK Dovecot ready.\r\n');
    await peer.nextLine();
    peer.send(`${stlsAnswer}\r\n`);
    if (stlsAnswer.startsWith('+OK')) await peer.startTls();
    await pop3Commands(peer);
  };
}

async function pop3Commands(peer: FakePeer): Promise<void> {
  for (;;) {
    const line = await peer.nextLine();
    if (line === 'CAPA') peer.send('+OK\r\nUIDL\r\nSASL PLAIN\r\n.\r\n');
    else if (line === 'PASS p') peer.send('+OK Logged in.\r\n');
    else if (line.startsWith('PASS ')) peer.send('-ERR [AUTH] Authentication failed.\r\n');
    else if (line === 'QUIT') {
      peer.send('+OK Logging out.\r\n');
      peer.end();
      return;
    } else peer.send('+OK\r\n');
  }
}

const POP3S: Script = async (peer) => {
  await peer.startTls();
  peer.send('+OK Dovecot ready.\r\n');
  await pop3Commands(peer);
};

test('GIVEN a POP3 server offering STLS WHEN pop3Capa runs with tls starttls THEN CAPA is asked on TLS', TEST, async (t) => {
  const server = await startFakeServer(t, pop3Server(), { host: HOST, tls: serverTls() });
  const result = await pop3Capa({ host: HOST, port: server.port, tls: starttls() });
  assert.deepEqual(
    { authorized: result.detail.tls?.authorized, capabilities: result.detail.capabilities, received: server.received },
    { authorized: true, capabilities: ['UIDL', 'SASL PLAIN'], received: ['STLS', 'CAPA', 'QUIT'] },
  );
});

test('GIVEN a POP3 server answering STLS with -ERR WHEN a session asks for it THEN it rejects with PROTOCOL_TLS_UNAVAILABLE', TEST, async (t) => {
  const server = await startFakeServer(t, pop3Server('-ERR TLS support not enabled'), { host: HOST, tls: serverTls() });
  await assert.rejects(openPop3Session({ host: HOST, port: server.port, tls: starttls() }), { code: 'PROTOCOL_TLS_UNAVAILABLE', step: 'stls' });
});

test('GIVEN a POP3 session after STLS WHEN login runs THEN USER and PASS go on TLS and +OK comes back', TEST, async (t) => {
  const server = await startFakeServer(t, pop3Server(), { host: HOST, tls: serverTls() });
  const session = await openPop3Session({ host: HOST, port: server.port, tls: starttls() });
  t.after(() => session.quit());
  assert.deepEqual({ authorized: session.tls?.authorized, login: (await session.login('u', 'p')).ok }, { authorized: true, login: true });
});

test('GIVEN a POP3S server WHEN a session opens with implicit TLS THEN the greeting comes over TLS and a wrong password is refused', TEST, async (t) => {
  const server = await startFakeServer(t, POP3S, { host: HOST, tls: serverTls() });
  const session = await openPop3Session({ host: HOST, port: server.port, tls: { mode: 'implicit', ca: pki.ca, servername: NAME } });
  t.after(() => session.quit());
  assert.equal((await session.login('u', 'wrong')).ok, false);
});

test('GIVEN a plaintext POP3 session WHEN login runs THEN it rejects with PROTOCOL_AUTH_WITHOUT_TLS and sends nothing', TEST, async (t) => {
  const server = await startFakeServer(t, pop3Server('-ERR no'), { host: HOST });
  const session = await openPop3Session({ host: HOST, port: server.port });
  t.after(() => session.quit());
  await assert.rejects(session.login('u', 'p'), { code: 'PROTOCOL_AUTH_WITHOUT_TLS', step: 'user' });
  assert.deepEqual(server.received, []);
});
