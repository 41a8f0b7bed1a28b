/** smtpEhlo and lmtpLhlo against scripted fake servers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lmtpLhlo, smtpEhlo } from '../../../src/protocol/index.ts';
import { answering, startFakeServer } from './fake-server.ts';

const TEST = { timeout: 10_000 };
const BANNER = '220 mx.example.org ESMTP\r\n';
const EHLO_REPLY = '250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n';
const BYE = '221 2.0.0 Bye\r\n';
const CORRECT = answering(BANNER, EHLO_REPLY, BYE);

test('GIVEN a correct SMTP server WHEN smtpEhlo runs THEN it resolves with the EHLO capabilities', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  const result = await smtpEhlo({ host: server.host, port: server.port });
  assert.deepEqual(result.detail.capabilities, ['PIPELINING', 'SIZE 10240000', '8BITMIME']);
});

test('GIVEN a correct SMTP server WHEN smtpEhlo runs THEN it resolves with the banner', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  const result = await smtpEhlo({ host: server.host, port: server.port });
  assert.deepEqual(result.detail.banner, { code: 220, lines: ['mx.example.org ESMTP'] });
});

test('GIVEN a correct SMTP server WHEN smtpEhlo runs THEN it sends EHLO with the heloName, then QUIT', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  await smtpEhlo({ host: server.host, port: server.port, heloName: 'probe.example.org' });
  assert.deepEqual(server.received, ['EHLO probe.example.org', 'QUIT']);
});

test('GIVEN no heloName WHEN smtpEhlo runs THEN it says EHLO localhost', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  await smtpEhlo({ host: server.host, port: server.port });
  assert.equal(server.received[0], 'EHLO localhost');
});

test('GIVEN a multi-line postscreen banner WHEN smtpEhlo runs THEN it resolves with both banner lines', TEST, async (t) => {
  const server = await startFakeServer(t, answering('220-mx.example.org ESMTP\r\n220 mx.example.org ESMTP\r\n', EHLO_REPLY, BYE));
  const result = await smtpEhlo({ host: server.host, port: server.port });
  assert.equal(result.detail.banner.lines.length, 2);
});

test('GIVEN a 554 banner WHEN smtpEhlo runs THEN it rejects with PROTOCOL_UNEXPECTED_REPLY and code 554', TEST, async (t) => {
  const server = await startFakeServer(t, answering('554 5.3.2 Service currently unavailable\r\n'));
  await assert.rejects(smtpEhlo({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_UNEXPECTED_REPLY',
    step: 'banner',
    replyCode: 554,
  });
});

test('GIVEN EHLO is refused with 502 WHEN smtpEhlo runs THEN it rejects with PROTOCOL_UNEXPECTED_REPLY and code 502', TEST, async (t) => {
  const server = await startFakeServer(t, answering(BANNER, '502 5.5.2 Error: command not recognized\r\n'));
  await assert.rejects(smtpEhlo({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_UNEXPECTED_REPLY',
    step: 'ehlo',
    replyCode: 502,
  });
});

test('GIVEN a server that hangs up after the banner WHEN smtpEhlo runs THEN it rejects with PROTOCOL_CONNECTION_CLOSED', TEST, async (t) => {
  const server = await startFakeServer(t, answering(BANNER));
  await assert.rejects(smtpEhlo({ host: server.host, port: server.port }), { code: 'PROTOCOL_CONNECTION_CLOSED', step: 'ehlo' });
});

test('GIVEN a banner continued with another code WHEN smtpEhlo runs THEN it rejects with PROTOCOL_REPLY_CODE_MISMATCH', TEST, async (t) => {
  const server = await startFakeServer(t, answering('220-mx.example.org\r\n421 going away\r\n'));
  await assert.rejects(smtpEhlo({ host: server.host, port: server.port }), { code: 'PROTOCOL_REPLY_CODE_MISMATCH', step: 'banner' });
});

test('GIVEN a server that hangs up instead of answering QUIT WHEN smtpEhlo runs THEN it still resolves ok', TEST, async (t) => {
  const server = await startFakeServer(t, answering(BANNER, EHLO_REPLY));
  const result = await smtpEhlo({ host: server.host, port: server.port });
  assert.equal(result.ok, true);
});

test('GIVEN a server that ignores QUIT WHEN smtpEhlo runs THEN it resolves ok once the QUIT step times out', TEST, async (t) => {
  const server = await startFakeServer(t, async (peer) => {
    peer.send(BANNER);
    await peer.nextLine();
    peer.send(EHLO_REPLY);
  });
  const result = await smtpEhlo({ host: server.host, port: server.port, timeoutMs: 50 });
  assert.equal(result.ok, true);
});

test('GIVEN a heloName with a line break WHEN smtpEhlo starts THEN it rejects with PROTOCOL_INVALID_OPTION', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  await assert.rejects(smtpEhlo({ host: server.host, port: server.port, heloName: 'x\r\nRSET' }), {
    code: 'PROTOCOL_INVALID_OPTION',
  });
});

test('GIVEN an address literal as heloName WHEN smtpEhlo runs THEN it is sent as given', TEST, async (t) => {
  const server = await startFakeServer(t, CORRECT);
  await smtpEhlo({ host: server.host, port: server.port, heloName: '[127.0.0.1]' });
  assert.equal(server.received[0], 'EHLO [127.0.0.1]');
});

const LMTP_BANNER = '220 mailbox-0 Dovecot ready.\r\n';
const LHLO_REPLY = '250-mailbox-0\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n';

test('GIVEN a correct LMTP server WHEN lmtpLhlo runs THEN it resolves with the LHLO capabilities', TEST, async (t) => {
  const server = await startFakeServer(t, answering(LMTP_BANNER, LHLO_REPLY, BYE));
  const result = await lmtpLhlo({ host: server.host, port: server.port });
  assert.deepEqual(result.detail.capabilities, ['8BITMIME', 'ENHANCEDSTATUSCODES', 'PIPELINING']);
});

test('GIVEN a correct LMTP server WHEN lmtpLhlo runs THEN it sends LHLO, then QUIT', TEST, async (t) => {
  const server = await startFakeServer(t, answering(LMTP_BANNER, LHLO_REPLY, BYE));
  await lmtpLhlo({ host: server.host, port: server.port, heloName: 'mta-0' });
  assert.deepEqual(server.received, ['LHLO mta-0', 'QUIT']);
});

test('GIVEN a 421 LMTP banner WHEN lmtpLhlo runs THEN it rejects with PROTOCOL_UNEXPECTED_REPLY and code 421', TEST, async (t) => {
  const server = await startFakeServer(t, answering('421 4.3.2 Shutting down\r\n'));
  await assert.rejects(lmtpLhlo({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_UNEXPECTED_REPLY',
    step: 'banner',
    replyCode: 421,
  });
});

test('GIVEN LHLO is refused WHEN lmtpLhlo runs THEN it rejects with PROTOCOL_UNEXPECTED_REPLY at the lhlo step', TEST, async (t) => {
  const server = await startFakeServer(t, answering(LMTP_BANNER, '500 5.5.1 Unknown command\r\n'));
  await assert.rejects(lmtpLhlo({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_UNEXPECTED_REPLY',
    step: 'lhlo',
    replyCode: 500,
  });
});
