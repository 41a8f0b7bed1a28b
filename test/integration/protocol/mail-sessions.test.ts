/** The IMAP session's literals (FETCH BODY[]) and the POP3 session's TOP, DELE and QUIT-with-answer, against scripted servers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openImapSession, openPop3Session } from '../../../src/protocol/index.ts';
import { answering, startFakeServer } from './fake-server.ts';

const TEST = { timeout: 10_000 };
/** An address of the prober's test pool, so that nothing here meets another test's servers. */
const HOST = '127.150.250.1';
const MESSAGE = 'Subject: probe\r\nX-Mailfleet-Probe: t-1\r\n\r\n.dot line\r\n';

test('GIVEN a FETCH answer with a literal sent in pieces WHEN the IMAP session reads it THEN the message comes back whole on the FETCH response', TEST, async (t) => {
  const server = await startFakeServer(t, async (peer) => {
    peer.send('* OK ready\r\n');
    await peer.nextLine();
    // The literal and the rest of the response, cut mid-line and mid-CRLF.
    const answer = `* 1 FETCH (UID 7 BODY[] {${MESSAGE.length}}\r\n${MESSAGE} FLAGS (\\Seen))\r\na1 OK Fetch completed.\r\n`;
    for (const piece of [answer.slice(0, 30), answer.slice(30, 47), answer.slice(47)]) peer.send(piece);
    await peer.nextLine();
    peer.send('* BYE bye\r\na2 OK Logout completed.\r\n');
    peer.end();
  }, { host: HOST });

  const session = await openImapSession({ host: server.host, port: server.port });
  const response = await session.command('UID FETCH 7 (BODY.PEEK[])');
  await session.logout();

  assert.equal(response.tagged.status, 'OK');
  const [fetch] = response.untagged;
  assert.deepEqual(fetch, { kind: 'data', text: `1 FETCH (UID 7 BODY[] {${MESSAGE.length}} FLAGS (\\Seen))`, literals: [MESSAGE] });
});

test('GIVEN a literal larger than maxLiteralBytes WHEN the IMAP session reads it THEN it rejects with PROTOCOL_REPLY_TOO_LONG before reading it', TEST, async (t) => {
  const server = await startFakeServer(t, answering('* OK ready\r\n', '* 1 FETCH (BODY[] {5000}\r\n'), { host: HOST });
  const session = await openImapSession({ host: server.host, port: server.port, maxLiteralBytes: 1000 });
  try {
    await assert.rejects(session.command('UID FETCH 1 (BODY.PEEK[])'), { code: 'PROTOCOL_REPLY_TOO_LONG', step: 'uid' });
  } finally {
    await session.logout();
  }
});

test('GIVEN a POP3 maildrop WHEN TOP, DELE and QUIT run THEN the header comes back, -ERR on TOP is undefined, and QUIT\'s answer is returned', TEST, async (t) => {
  const server = await startFakeServer(t, answering(
    '+OK ready\r\n',
    '+OK\r\nSubject: probe\r\nX-Mailfleet-Probe: t-1\r\n\r\n.\r\n',
    '-ERR Message is deleted.\r\n',
    '+OK Marked to be deleted.\r\n',
    '+OK Logging out, messages deleted.\r\n',
  ), { host: HOST });
  const session = await openPop3Session({ host: server.host, port: server.port });

  assert.equal(await session.top(2, 0), 'Subject: probe\r\nX-Mailfleet-Probe: t-1\r\n');
  assert.equal(await session.top(1, 0), undefined);
  assert.deepEqual(await session.dele(2), { ok: true, text: 'Marked to be deleted.' });
  assert.deepEqual(await session.update(), { ok: true, text: 'Logging out, messages deleted.' });
  assert.deepEqual(server.received, ['TOP 2 0', 'TOP 1 0', 'DELE 2', 'QUIT']);
});

test('GIVEN a server that fails the UPDATE state WHEN QUIT is answered -ERR THEN update rejects with the reply', TEST, async (t) => {
  const server = await startFakeServer(t, answering('+OK ready\r\n', '+OK\r\n', '-ERR Some deleted messages were not removed\r\n'), { host: HOST });
  const session = await openPop3Session({ host: server.host, port: server.port });
  assert.equal((await session.dele(1)).ok, true);
  await assert.rejects(session.update(), { code: 'PROTOCOL_UNEXPECTED_REPLY', step: 'quit', reply: '-ERR Some deleted messages were not removed' });
});

test('GIVEN a message number that is no number WHEN TOP or DELE is asked THEN nothing is sent and it rejects with PROTOCOL_INVALID_OPTION', TEST, async (t) => {
  const server = await startFakeServer(t, answering('+OK ready\r\n', '+OK bye\r\n'), { host: HOST });
  const session = await openPop3Session({ host: server.host, port: server.port });
  try {
    await assert.rejects(session.top(0, 0), { code: 'PROTOCOL_INVALID_OPTION' });
    await assert.rejects(session.dele(1.5), { code: 'PROTOCOL_INVALID_OPTION' });
    await assert.rejects(session.top(1, -1), { code: 'PROTOCOL_INVALID_OPTION' });
  } finally {
    await session.quit();
  }
  assert.deepEqual(server.received, ['QUIT']);
});
