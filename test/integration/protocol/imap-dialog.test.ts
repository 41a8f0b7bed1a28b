/** imapCapability against scripted fake servers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imapCapability } from '../../../src/protocol/index.ts';
import { answering, startFakeServer } from './fake-server.ts';

const TEST = { timeout: 10_000 };
const GREETING = '* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n';
const CAPABILITY_REPLY = '* CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE AUTH=PLAIN\r\na1 OK Pre-login capabilities listed, post-login capabilities have more.\r\n';
const LOGOUT_REPLY = '* BYE Logging out\r\na2 OK Logout completed.\r\n';
const CORRECT = answering(GREETING, CAPABILITY_REPLY, LOGOUT_REPLY);

test('GIVEN a correct IMAP server WHEN imapCapability runs THEN it resolves with the CAPABILITY list', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  const result = await imapCapability({ host: server.host, port: server.port });
  assert.deepEqual(result.detail.capabilities, ['IMAP4rev1', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'AUTH=PLAIN']);
});

test('GIVEN a correct IMAP server WHEN imapCapability runs THEN it resolves with the OK greeting', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  const result = await imapCapability({ host: server.host, port: server.port });
  assert.deepEqual([result.detail.greeting.status, result.detail.greeting.text], ['OK', 'Dovecot ready.']);
});

test('GIVEN a correct IMAP server WHEN imapCapability runs THEN it sends a1 CAPABILITY, then a2 LOGOUT', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  await imapCapability({ host: server.host, port: server.port });
  assert.deepEqual(server.received, ['a1 CAPABILITY', 'a2 LOGOUT']);
});

test('GIVEN a PREAUTH greeting WHEN imapCapability runs THEN it resolves ok', TEST, async (t) => {
  const server = await startFakeServer(t, answering('* PREAUTH ready\r\n', CAPABILITY_REPLY, LOGOUT_REPLY));
  const result = await imapCapability({ host: server.host, port: server.port });
  assert.equal(result.detail.greeting.status, 'PREAUTH');
});

test('GIVEN a BYE greeting WHEN imapCapability runs THEN it rejects with PROTOCOL_UNEXPECTED_REPLY at the greeting', TEST, async (t) => {
  const server = await startFakeServer(t, answering('* BYE Too many connections\r\n'));
  await assert.rejects(imapCapability({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_UNEXPECTED_REPLY',
    step: 'greeting',
    reply: '* BYE Too many connections',
  });
});

test('GIVEN an SMTP banner on the IMAP port WHEN imapCapability runs THEN it rejects with PROTOCOL_MALFORMED_REPLY', TEST, async (t) => {
  const server = await startFakeServer(t, answering('220 mx.example.org ESMTP\r\n'));
  await assert.rejects(imapCapability({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_MALFORMED_REPLY',
    step: 'greeting',
  });
});

test('GIVEN CAPABILITY answered with BAD WHEN imapCapability runs THEN it rejects with PROTOCOL_UNEXPECTED_REPLY', TEST, async (t) => {
  const server = await startFakeServer(t, answering(GREETING, 'a1 BAD Error in IMAP command\r\n'));
  await assert.rejects(imapCapability({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_UNEXPECTED_REPLY',
    step: 'capability',
  });
});

test('GIVEN a tagged reply for a tag never sent WHEN imapCapability runs THEN it rejects with PROTOCOL_MALFORMED_REPLY', TEST, async (t) => {
  const server = await startFakeServer(t, answering(GREETING, 'a9 OK done\r\n'));
  await assert.rejects(imapCapability({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_MALFORMED_REPLY',
    step: 'capability',
  });
});

test('GIVEN a server that hangs up before the tagged reply WHEN imapCapability runs THEN it rejects with PROTOCOL_CONNECTION_CLOSED', TEST, async (t) => {
  const server = await startFakeServer(t, answering(GREETING, '* CAPABILITY IMAP4rev1\r\n'));
  await assert.rejects(imapCapability({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_CONNECTION_CLOSED',
    step: 'capability',
  });
});

test('GIVEN endless untagged responses WHEN imapCapability runs THEN it rejects with PROTOCOL_REPLY_TOO_LONG', TEST, async (t) => {
  const server = await startFakeServer(t, answering(GREETING, '* 1 EXISTS\r\n'.repeat(500)));
  await assert.rejects(imapCapability({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_REPLY_TOO_LONG',
    step: 'capability',
  });
});

test('GIVEN a server that ignores LOGOUT WHEN imapCapability runs THEN it still resolves ok', TEST, async (t) => {
  const server = await startFakeServer(t, answering(GREETING, CAPABILITY_REPLY));
  const result = await imapCapability({ host: server.host, port: server.port });
  assert.equal(result.ok, true);
});
