/** pop3Capa against scripted fake servers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pop3Capa } from '../../../src/protocol/index.ts';
import { answering, startFakeServer } from './fake-server.ts';

const TEST = { timeout: 10_000 };
const GREETING = '+OK Dovecot ready.\r\n';
const CAPA_REPLY = '+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nSASL PLAIN\r\n..stuffed\r\n.\r\n';
const BYE = '+OK Logging out.\r\n';
const CORRECT = answering(GREETING, CAPA_REPLY, BYE);

test('GIVEN a correct POP3 server WHEN pop3Capa runs THEN it resolves with the unstuffed CAPA list', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  const result = await pop3Capa({ host: server.host, port: server.port });
  assert.deepEqual(result.detail.capabilities, ['CAPA', 'TOP', 'UIDL', 'RESP-CODES', 'SASL PLAIN', '.stuffed']);
});

test('GIVEN a correct POP3 server WHEN pop3Capa runs THEN it resolves with the greeting', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  const result = await pop3Capa({ host: server.host, port: server.port });
  assert.deepEqual(result.detail.greeting, { ok: true, text: 'Dovecot ready.' });
});

test('GIVEN a correct POP3 server WHEN pop3Capa runs THEN it sends CAPA, then QUIT', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  await pop3Capa({ host: server.host, port: server.port });
  assert.deepEqual(server.received, ['CAPA', 'QUIT']);
});

test('GIVEN a -ERR greeting WHEN pop3Capa runs THEN it rejects with PROTOCOL_UNEXPECTED_REPLY at the greeting', TEST, async (t) => {
  const server = await startFakeServer(t, answering('-ERR [SYS/TEMP] Too many connections\r\n'));
  await assert.rejects(pop3Capa({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_UNEXPECTED_REPLY',
    step: 'greeting',
    reply: '-ERR [SYS/TEMP] Too many connections',
  });
});

test('GIVEN CAPA answered with -ERR WHEN pop3Capa runs THEN it rejects with PROTOCOL_UNEXPECTED_REPLY at capa', TEST, async (t) => {
  const server = await startFakeServer(t, answering(GREETING, '-ERR Unknown command\r\n'));
  await assert.rejects(pop3Capa({ host: server.host, port: server.port }), { code: 'PROTOCOL_UNEXPECTED_REPLY', step: 'capa' });
});

test('GIVEN a CAPA list without its final dot WHEN the server hangs up THEN pop3Capa rejects with PROTOCOL_CONNECTION_CLOSED', TEST, async (t) => {
  const server = await startFakeServer(t, answering(GREETING, '+OK\r\nTOP\r\n'));
  await assert.rejects(pop3Capa({ host: server.host, port: server.port }), { code: 'PROTOCOL_CONNECTION_CLOSED', step: 'capa' });
});

test('GIVEN a CAPA list without its final dot WHEN the server stays silent THEN pop3Capa rejects with PROTOCOL_TIMEOUT', TEST, async (t) => {
  const server = await startFakeServer(t, async (peer) => {
    peer.send(GREETING);
    await peer.nextLine();
    peer.send('+OK\r\nTOP\r\n');
  });
  await assert.rejects(pop3Capa({ host: server.host, port: server.port, timeoutMs: 50 }), { code: 'PROTOCOL_TIMEOUT', step: 'capa' });
});

test('GIVEN an IMAP greeting on the POP3 port WHEN pop3Capa runs THEN it rejects with PROTOCOL_MALFORMED_REPLY', TEST, async (t) => {
  const server = await startFakeServer(t, answering('* OK Dovecot ready.\r\n'));
  await assert.rejects(pop3Capa({ host: server.host, port: server.port }), { code: 'PROTOCOL_MALFORMED_REPLY', step: 'greeting' });
});
