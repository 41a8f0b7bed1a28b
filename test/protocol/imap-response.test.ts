import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseImapResponse, type ImapResponse } from '../../src/protocol/imap-response.ts';
import { createLineSplitter } from '../../src/protocol/lines.ts';
import { everySplit, noise } from './chunks.ts';

const DOVECOT_CAPABILITIES = ['IMAP4rev1', 'SASL-IR', 'LOGIN-REFERRALS', 'ID', 'ENABLE', 'IDLE', 'LITERAL+', 'AUTH=PLAIN'];

const RESPONSES: readonly { given: string; line: string; expected: ImapResponse }[] = [
  {
    given: 'a Dovecot greeting with a CAPABILITY code',
    line: `* OK [CAPABILITY ${DOVECOT_CAPABILITIES.join(' ')}] Dovecot ready.`,
    expected: {
      kind: 'status',
      status: 'OK',
      code: `CAPABILITY ${DOVECOT_CAPABILITIES.join(' ')}`,
      capabilities: DOVECOT_CAPABILITIES,
      text: 'Dovecot ready.',
    },
  },
  { given: 'a plain greeting', line: '* OK IMAP ready', expected: { kind: 'status', status: 'OK', text: 'IMAP ready' } },
  { given: 'a lower-case status', line: '* ok ready', expected: { kind: 'status', status: 'OK', text: 'ready' } },
  { given: 'a PREAUTH greeting', line: '* PREAUTH hi', expected: { kind: 'status', status: 'PREAUTH', text: 'hi' } },
  { given: 'a BYE', line: '* BYE Logging out', expected: { kind: 'status', status: 'BYE', text: 'Logging out' } },
  {
    given: 'a CAPABILITY response',
    line: '* CAPABILITY IMAP4rev1 STARTTLS  AUTH=PLAIN',
    expected: { kind: 'capability', capabilities: ['IMAP4rev1', 'STARTTLS', 'AUTH=PLAIN'] },
  },
  { given: 'an empty CAPABILITY response', line: '* CAPABILITY', expected: { kind: 'capability', capabilities: [] } },
  {
    given: 'a tagged OK',
    line: 'a1 OK Capability completed.',
    expected: { kind: 'status', tag: 'a1', status: 'OK', text: 'Capability completed.' },
  },
  {
    given: 'a tagged NO with a response code',
    line: 'a2 NO [AUTHENTICATIONFAILED] Authentication failed.',
    expected: { kind: 'status', tag: 'a2', status: 'NO', code: 'AUTHENTICATIONFAILED', text: 'Authentication failed.' },
  },
  {
    given: 'a tagged BAD',
    line: 'A0001 BAD Error in IMAP command',
    expected: { kind: 'status', tag: 'A0001', status: 'BAD', text: 'Error in IMAP command' },
  },
  { given: 'a tagged OK without text', line: 'a3 OK', expected: { kind: 'status', tag: 'a3', status: 'OK', text: '' } },
  {
    given: 'a response code with arguments',
    line: '* OK [PERMANENTFLAGS (\\Seen \\*)] Flags permitted.',
    expected: { kind: 'status', status: 'OK', code: 'PERMANENTFLAGS (\\Seen \\*)', text: 'Flags permitted.' },
  },
  { given: 'a continuation request', line: '+ idling', expected: { kind: 'continuation', text: 'idling' } },
  { given: 'a bare continuation request', line: '+', expected: { kind: 'continuation', text: '' } },
  { given: 'untagged data', line: '* 3 EXISTS', expected: { kind: 'data', text: '3 EXISTS' } },
  {
    given: 'text in invalid UTF-8',
    line: '* OK \u00ff\u00c3',
    expected: { kind: 'status', status: 'OK', text: '\u00ff\u00c3' },
  },
];

for (const { given, line, expected } of RESPONSES) {
  test(`GIVEN ${given} WHEN parsed THEN it gives the response`, () => {
    assert.deepEqual(parseImapResponse(line), { ok: true, value: expected });
  });
}

const HOSTILE: readonly { given: string; line: string }[] = [
  { given: 'an empty line', line: '' },
  { given: 'a lone star', line: '*' },
  { given: 'a star and a space', line: '* ' },
  { given: 'a double space after the star', line: '*  OK hi' },
  { given: 'a tag alone', line: 'a1' },
  { given: 'a tagged PREAUTH', line: 'a1 PREAUTH hi' },
  { given: 'a tagged BYE', line: 'a1 BYE hi' },
  { given: 'an unknown tagged status', line: 'a1 MAYBE later' },
  { given: 'a tag with an atom-special', line: 'a(1 OK hi' },
  { given: 'a tag with a plus', line: 'a+1 OK hi' },
  { given: 'a tag with a control byte', line: 'a\u00001 OK hi' },
  { given: 'a tag with a non-ASCII byte', line: 'a\u00ff1 OK hi' },
  { given: 'a response code without "]"', line: '* OK [CAPABILITY IMAP4rev1 ready' },
  { given: 'SMTP instead of IMAP', line: '220 mx.example.org ESMTP' },
  { given: 'binary noise', line: noise(64, 11).toString('latin1') },
];

for (const { given, line } of HOSTILE) {
  test(`GIVEN ${given} WHEN parsed THEN it gives PROTOCOL_MALFORMED_REPLY`, () => {
    const result = parseImapResponse(line);
    assert.equal(result.ok ? 'parsed' : result.error.code, 'PROTOCOL_MALFORMED_REPLY');
  });
}

function parseStream(chunks: readonly Buffer[]): unknown[] {
  const splitter = createLineSplitter();
  return chunks.flatMap((chunk) => splitter.push(chunk)).map((line) => (line.ok ? parseImapResponse(line.value) : line));
}

test('GIVEN a CAPABILITY dialog WHEN split at every chunk boundary THEN the responses are the same', () => {
  const input = Buffer.from('* OK [CAPABILITY IMAP4rev1] hi\r\n* CAPABILITY IMAP4rev1 IDLE\r\na1 OK done\r\n');
  const expected = parseStream([input]);
  assert.equal(expected.length, 3);
  for (const chunks of everySplit(input)) assert.deepEqual(parseStream(chunks), expected);
});
