import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLmtpReply, parseLmtpCommand, recipientUser } from '../../src/protocol/lmtp-command.ts';

/** A command as `VERB arg params`, a refusal as its reply line: easy to compare in tables. */
function show(line: string): string {
  const r = parseLmtpCommand(line);
  if (!r.ok) return formatLmtpReply(r.reply).trimEnd();
  const c = r.command;
  if (c.verb === 'LHLO') return `LHLO ${c.name}`;
  if (c.verb === 'MAIL') return ['MAIL', `<${c.sender}>`, ...c.params].join(' ');
  if (c.verb === 'RCPT') return ['RCPT', `<${c.recipient}>`, ...c.params].join(' ');
  return c.verb;
}

const CASES: readonly [string, string][] = [
  ['LHLO mta-0.mta', 'LHLO mta-0.mta'],
  ['lhlo x', 'LHLO x'],
  ['LHLO', '501 5.5.4 Invalid parameters'],
  ['MAIL FROM:<a@example.org>', 'MAIL <a@example.org>'],
  ['MAIL FROM:<>', 'MAIL <>'],
  ['mail from: <a@example.org> BODY=8BITMIME', 'MAIL <a@example.org> BODY=8BITMIME'],
  ['MAIL FROM:<a@example.org> SIZE=100', '555 5.5.4 Unsupported parameters'],
  ['MAIL FROM:a@example.org', '501 5.5.4 Invalid FROM: address'],
  ['MAIL FROM:<a@example.org', '501 5.5.4 Invalid FROM: address'],
  ['MAIL TO:<a@example.org>', '501 5.5.4 Syntax error in parameters'],
  ['RCPT TO:<alice@example.com>', 'RCPT <alice@example.com>'],
  ['RCPT TO:<@relay.example:alice@example.com>', 'RCPT <alice@example.com>'],
  ['RCPT TO:<"odd > name"@example.com>', 'RCPT <"odd > name"@example.com>'],
  ['RCPT TO:<>', '501 5.5.4 Invalid TO: address'],
  ['RCPT TO:<no-domain>', '501 5.5.4 Invalid TO: address'],
  ['RCPT TO:<a b@example.com>', '501 5.5.4 Invalid TO: address'],
  ['RCPT TO:<alice@example.com> NOTIFY=NEVER', '555 5.5.4 Unsupported parameters'],
  ['RCPT TO:<alice@example.com>junk', '501 5.5.4 Invalid TO: address'],
  ['RCPT TO:<alice@example.com\u0000>', '501 5.5.4 Invalid TO: address'],
  ['RCPT TO:<"al\u0001ice"@example.com>', '501 5.5.4 Invalid TO: address'],
  ['RCPT TO:<alice@exam\u007fple.com>', '501 5.5.4 Invalid TO: address'],
  ['MAIL FROM:<a\u0000@example.org>', '501 5.5.4 Invalid FROM: address'],
  ['MAIL FROM:<a@example.org\u001b>', '501 5.5.4 Invalid FROM: address'],
  ['DATA', 'DATA'],
  ['DATA now', '501 5.5.4 Syntax error in parameters'],
  ['NOOP anything', 'NOOP'],
  ['QUIT', 'QUIT'],
  ['EHLO x', 'EHLO'],
  ['BDAT 10 LAST', '500 5.5.1 Unknown command'],
  ['', '500 5.5.1 Unknown command'],
  ['\u00ff\u0000\u0001', '500 5.5.1 Unknown command'],
];

for (const [line, expected] of CASES) {
  test(`GIVEN ${JSON.stringify(line)} WHEN parsed THEN ${expected}`, () => assert.equal(show(line), expected));
}

test('GIVEN recipients with a detail or a capitalised domain WHEN named for lookup THEN the detail goes and the domain is lowercased', () => {
  assert.equal(recipientUser('alice+lists@Example.COM'), 'alice@example.com');
  assert.equal(recipientUser('alice@example.com'), 'alice@example.com');
  assert.equal(recipientUser('+x@example.com'), '+x@example.com');
  assert.equal(recipientUser('"a+b"@example.com'), '"a+b"@example.com');
});
