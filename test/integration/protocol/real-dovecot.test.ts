/** imapCapability, pop3Capa, lmtpLhlo and dovecotAuthHandshake against a real Dovecot started for this file. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dovecotAuthHandshake, imapCapability, lmtpLhlo, pop3Capa } from '../../../src/protocol/index.ts';
import { findProgram, startDaemon, type Daemon } from './daemon.ts';
import { closedPort } from './fake-server.ts';

const DOVECOT = findProgram('dovecot');
const SKIP = DOVECOT === undefined ? 'dovecot is not installed' : process.getuid?.() !== 0 ? 'dovecot needs root' : false;
const TEST = { timeout: 10_000, skip: SKIP };
const HOST = '127.0.0.1';

const ports = { imap: 0, pop3: 0, lmtp: 0, auth: 0 };
let dir = '';
let daemon: Daemon | undefined;

/** Just enough Dovecot for the four listeners: no TLS, static auth, everything under `base`. */
function dovecotConf(base: string): string {
  return `base_dir = ${base}/run
state_dir = ${base}/state
instance_name = mailfleet-protocol-test
protocols = imap pop3 lmtp
listen = ${HOST}
log_path = /dev/stderr
ssl = no
passdb {
  driver = static
  args = password=unused
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
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${ports.pop3}
  }
  inet_listener pop3s {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    port = ${ports.lmtp}
  }
}
service auth {
  inet_listener auth-client {
    port = ${ports.auth}
  }
}
`;
}

before(async () => {
  if (SKIP !== false || DOVECOT === undefined) return;
  dir = await mkdtemp(join(tmpdir(), 'mailfleet-protocol-dovecot-'));
  Object.assign(ports, { imap: await closedPort(), pop3: await closedPort(), lmtp: await closedPort(), auth: await closedPort() });
  await writeFile(join(dir, 'dovecot.conf'), dovecotConf(dir));
  daemon = await startDaemon(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')], /starting up/);
});

after(async () => {
  await daemon?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

test('GIVEN a real Dovecot WHEN imapCapability runs THEN IMAP4rev1 is among the capabilities', TEST, async () => {
  const result = await imapCapability({ host: HOST, port: ports.imap });
  assert.ok(result.detail.capabilities.includes('IMAP4rev1'));
});

test('GIVEN a real Dovecot WHEN pop3Capa runs THEN UIDL is among the capabilities', TEST, async () => {
  const result = await pop3Capa({ host: HOST, port: ports.pop3 });
  assert.ok(result.detail.capabilities.includes('UIDL'));
});

test('GIVEN a real Dovecot WHEN lmtpLhlo runs THEN PIPELINING is among the capabilities', TEST, async () => {
  const result = await lmtpLhlo({ host: HOST, port: ports.lmtp, heloName: 'mta-0.example.org' });
  assert.ok(result.detail.capabilities.includes('PIPELINING'));
});

test('GIVEN a real Dovecot WHEN dovecotAuthHandshake runs on its auth listener THEN the handshake ends in DONE and offers PLAIN', TEST, async () => {
  const result = await dovecotAuthHandshake({ host: HOST, port: ports.auth });
  assert.ok(result.detail.mechanisms.includes('PLAIN'), result.detail.mechanisms.join(' '));
});
