/** The IMAP and POP3 clients on TLS against a real Dovecot (OpenSSL on the server side): STARTTLS, STLS, 993, 995, login. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { imapCapability, openImapSession, openPop3Session, pop3Capa, type TlsClientOptions } from '../../../src/protocol/index.ts';
import { makeTestPki, type TestPki } from '../../support/test-pki.ts';
import { findProgram, startDaemon, type Daemon } from './daemon.ts';
import { closedPort } from './fake-server.ts';

const DOVECOT = findProgram('dovecot');
const SKIP = DOVECOT === undefined ? 'dovecot is not installed' : process.getuid?.() !== 0 ? 'dovecot needs root' : false;
const TEST = { timeout: 10_000, skip: SKIP };
const HOST = '127.104.3.1';
const NAME = 'imap.example.test';
const PASSWORD = 'tls-password';

const ports = { imap: 0, imaps: 0, pop3: 0, pop3s: 0 };
let dir = '';
let pki: TestPki | undefined;
let daemon: Daemon | undefined;

/** Dovecot with TLS on all four listeners, plaintext auth refused before TLS, one static password. */
function dovecotConf(base: string, tls: TestPki): string {
  return `base_dir = ${base}/run
state_dir = ${base}/state
instance_name = mailfleet-protocol-tls-test
protocols = imap pop3
listen = ${HOST}
log_path = /dev/stderr
ssl = yes
ssl_cert = <${tls.certFile}
ssl_key = <${tls.keyFile}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
mail_location = maildir:${base}/home/%u/Maildir
passdb {
  driver = static
  args = password=${PASSWORD}
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${base}/home/%u
}
service imap-login {
  inet_listener imap {
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = ${ports.imaps}
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${ports.pop3}
  }
  inet_listener pop3s {
    port = ${ports.pop3s}
    ssl = yes
  }
}
`;
}

before(async () => {
  if (SKIP !== false || DOVECOT === undefined) return;
  pki = makeTestPki([NAME]);
  dir = await mkdtemp(join(tmpdir(), 'mailfleet-protocol-dovecot-tls-'));
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await closedPort();
  await writeFile(join(dir, 'dovecot.conf'), dovecotConf(dir, pki));
  daemon = await startDaemon(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')], /starting up/);
});

after(async () => {
  await daemon?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
  pki?.remove();
});

const tls = (mode: TlsClientOptions['mode']): TlsClientOptions => ({ mode, ca: pki?.ca, servername: NAME });

test('GIVEN a real Dovecot refusing plaintext auth WHEN imapCapability runs in plaintext THEN LOGINDISABLED and STARTTLS are offered', TEST, async () => {
  const result = await imapCapability({ host: HOST, port: ports.imap });
  assert.deepEqual(['LOGINDISABLED', 'STARTTLS'].filter((c) => result.detail.capabilities.includes(c)), ['LOGINDISABLED', 'STARTTLS']);
});

test('GIVEN a real Dovecot WHEN imapCapability runs with STARTTLS THEN the verified session no longer says LOGINDISABLED', TEST, async () => {
  const result = await imapCapability({ host: HOST, port: ports.imap, tls: tls('starttls') });
  assert.deepEqual({ authorized: result.detail.tls?.authorized, disabled: result.detail.capabilities.includes('LOGINDISABLED') }, { authorized: true, disabled: false });
});

test('GIVEN a real Dovecot WHEN imapCapability runs on the IMAPS port THEN the handshake verifies', TEST, async () => {
  const result = await imapCapability({ host: HOST, port: ports.imaps, tls: tls('implicit') });
  assert.match(result.detail.tls?.protocol ?? '', /^TLSv1\.[23]$/);
});

test('GIVEN a real Dovecot WHEN an IMAP session logs in after STARTTLS THEN LOGIN is answered OK', TEST, async (t) => {
  const session = await openImapSession({ host: HOST, port: ports.imap, tls: tls('starttls') });
  t.after(() => session.logout());
  assert.equal((await session.login('user@example.test', PASSWORD)).status, 'OK');
});

test('GIVEN a real Dovecot WHEN an IMAP session logs in on plaintext with allowPlaintextAuth THEN the server refuses', TEST, async (t) => {
  const session = await openImapSession({ host: HOST, port: ports.imap, allowPlaintextAuth: true });
  t.after(() => session.logout());
  assert.notEqual((await session.login('user@example.test', PASSWORD)).status, 'OK');
});

test('GIVEN a real Dovecot WHEN pop3Capa runs with STLS THEN the verified session offers USER', TEST, async () => {
  const result = await pop3Capa({ host: HOST, port: ports.pop3, tls: tls('starttls') });
  assert.deepEqual({ authorized: result.detail.tls?.authorized, user: result.detail.capabilities.includes('USER') }, { authorized: true, user: true });
});

test('GIVEN a real Dovecot WHEN a POP3 session logs in on the POP3S port THEN USER/PASS is answered +OK', TEST, async (t) => {
  const session = await openPop3Session({ host: HOST, port: ports.pop3s, tls: tls('implicit') });
  t.after(() => session.quit());
  assert.equal((await session.login('user@example.test', PASSWORD)).ok, true);
});

test('GIVEN a real Dovecot WHEN a client trusts another CA THEN STLS ends in PROTOCOL_TLS_UNTRUSTED', TEST, async () => {
  await assert.rejects(pop3Capa({ host: HOST, port: ports.pop3, tls: { ...tls('starttls'), ca: pki?.otherCa } }), { code: 'PROTOCOL_TLS_UNTRUSTED', step: 'tls' });
});
