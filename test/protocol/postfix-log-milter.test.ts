/**
 * The Postfix log codec on milter failures: lines Postfix 3.7.11 wrote on this host (a milter port that refuses,
 * a milter that never answers, one that answers garbage; test/integration/exporter/milter-failures.test.ts), the
 * other shapes of src/milter/milter8.c, then hostile variants.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePostfixLogLine } from '../../src/protocol/postfix-log.ts';
import type { PostfixLogEvent } from '../../src/protocol/postfix-log-events.ts';
import { noise } from './chunks.ts';

const warning = { level: 'warning', truncated: false } as const;
const smtpd = { service: 'smtpd', ...warning } as const;
const failure = (stage: string, reason: string, service = 'smtpd') => ({ service, ...warning, kind: 'milter-failure', stage, reason }) as PostfixLogEvent;

const LINES: readonly { given: string; line: string; expected: PostfixLogEvent }[] = [
  {
    given: 'nothing listens on the milter port (observed)',
    line: 'Dec 06 09:43:58 mx postfix/smtpd[16429]: warning: connect to Milter service inet:127.126.1.2:11332: Connection refused',
    expected: failure('connect', 'refused'),
  },
  {
    given: 'the connection to the milter times out',
    line: 'Dec 06 09:43:58 mx postfix/mta/smtpd[16429]: warning: connect to Milter service inet:[::1]:11332: Connection timed out',
    expected: failure('connect', 'timeout'),
  },
  {
    given: 'the milter never answers the option negotiation (observed)',
    line: "Dec 06 09:44:00 mx postfix/smtpd[16434]: warning: milter inet:127.126.1.3:11332: can't read SMFIC_OPTNEG reply packet header: Connection timed out",
    expected: failure('connect', 'timeout'),
  },
  {
    given: 'the follow-up of a failed negotiation (observed, not a second failure)',
    line: 'Dec 06 09:44:00 mx postfix/smtpd[16434]: warning: milter inet:127.126.1.3:11332: read error in initial handshake',
    expected: { ...smtpd, kind: 'milter-warning' },
  },
  {
    given: 'the milter answers garbage in the handshake (observed)',
    line: 'Dec 06 09:44:00 mx postfix/smtpd[16506]: warning: milter inet:127.126.1.4:11332: unexpected reply "Z" in initial handshake',
    expected: failure('connect', 'protocol'),
  },
  {
    given: 'the milter dies while scanning (rspamd 3.4 without an upstream)',
    line: "Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter inet:127.121.0.9:11332: can't read SMFIC_BODYEOB reply packet header: Success",
    expected: failure('content', 'closed'),
  },
  {
    given: 'the content timeout',
    line: "Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter inet:127.121.0.9:11332: can't read SMFIC_BODYEOB reply packet header: Connection timed out",
    expected: failure('content', 'timeout'),
  },
  {
    given: 'the command timeout at RCPT',
    line: "Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter inet:127.121.0.9:11332: can't read SMFIC_RCPT reply packet header: Connection timed out",
    expected: failure('command', 'timeout'),
  },
  {
    given: 'a reset at MAIL',
    line: "Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter inet:127.121.0.9:11332: can't read SMFIC_MAIL reply packet header: Connection reset by peer",
    expected: failure('command', 'closed'),
  },
  {
    given: 'an event Postfix does not name',
    line: "Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter inet:127.121.0.9:11332: can't read (unknown MTA event) reply packet header: Success",
    expected: failure('unknown', 'closed'),
  },
  {
    given: 'a write error',
    line: 'Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter inet:127.121.0.9:11332: error writing command: Broken pipe',
    expected: failure('unknown', 'closed'),
  },
  {
    given: 'EOF in a reply',
    line: 'Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter inet:127.121.0.9:11332: EOF while reading command code: Success',
    expected: failure('unknown', 'closed'),
  },
  {
    given: 'EOF in a string, with the function name first',
    line: 'Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter8_read_data: milter inet:127.121.0.9:11332: EOF while reading string: Success',
    expected: failure('unknown', 'closed'),
  },
  {
    given: 'a bad packet length',
    line: 'Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter inet:127.121.0.9:11332: bad packet length: 0',
    expected: failure('unknown', 'protocol'),
  },
  {
    given: 'a malformed reply',
    line: 'Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter unix:/run/rspamd/milter.sock: malformed reply: 999 nope',
    expected: failure('unknown', 'protocol'),
  },
  {
    given: 'an unexpected warning about the milter',
    line: 'Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter inet:127.121.0.9:11332: unrecognized default action: maybe',
    expected: failure('unknown', 'other'),
  },
  {
    given: 'an event sent after the failure (not a second failure)',
    line: 'Dec 06 09:10:00 mx postfix/smtpd[1]: warning: milter8_event: attempt to send event SMFIC_HELO to milter inet:127.121.0.9:11332 after error',
    expected: { ...smtpd, kind: 'milter-warning' },
  },
  {
    given: 'cleanup (non_smtpd_milters) failing to connect',
    line: 'Dec 06 09:10:00 mx postfix/cleanup[7]: warning: connect to Milter service inet:127.121.0.9:11332: Connection refused',
    expected: failure('connect', 'refused', 'cleanup'),
  },
  {
    given: 'the default action tempfail at CONNECT, as smtpd logs it (observed; a milter-reject, not a failure)',
    line: 'Dec 06 09:44:00 mx postfix/smtpd[16507]: NOQUEUE: milter-reject: CONNECT from localhost[127.0.0.1]: 451 4.7.1 Service unavailable - try again later; proto=SMTP',
    expected: { service: 'smtpd', level: 'info', truncated: false, kind: 'smtpd-action', action: 'milter-reject', stage: 'CONNECT', code: '451', dsn: '4.7.1', queueId: undefined },
  },
];

for (const { given, line, expected } of LINES) {
  test(`GIVEN ${given} WHEN parsed THEN ${expected.kind}`, () => {
    assert.deepEqual(parsePostfixLogLine(line), expected);
  });
}

const HOSTILE: readonly { given: string; input: string | Buffer; expected: PostfixLogEvent }[] = [
  { given: 'a connect failure cut before the reason', input: 'x postfix/smtpd[1]: warning: connect to Milter service inet:127.0.0.1:11332', expected: failure('connect', 'other') },
  { given: 'a connect failure cut after the colon', input: 'x postfix/smtpd[1]: warning: connect to Milter service inet:127.0.0.1:11332: ', expected: failure('connect', 'other') },
  { given: "a can't-read line cut inside the event name", input: "x postfix/smtpd[1]: warning: milter inet:1.2.3.4:1: can't read SMFIC_BO", expected: failure('unknown', 'other') },
  { given: 'a milter name with no text after it', input: 'x postfix/smtpd[1]: warning: milter inet:1.2.3.4:1', expected: { ...smtpd, kind: 'unsupported' } },
  { given: 'an over-long milter name', input: `x postfix/smtpd[1]: warning: milter ${'n'.repeat(100_000)}: bad packet length: 0`, expected: { ...smtpd, truncated: true, kind: 'unsupported' } },
  { given: 'an over-long errno text', input: `x postfix/smtpd[1]: warning: connect to Milter service inet:1.2.3.4:1: ${'Connection refused'.repeat(10)}`, expected: failure('connect', 'other') },
  { given: 'binary noise after the prefix', input: Buffer.concat([Buffer.from('x postfix/smtpd[1]: warning: milter '), noise(2048, 3)]), expected: { ...smtpd, kind: 'unsupported' } },
  { given: 'binary noise after a milter name', input: Buffer.concat([Buffer.from('x postfix/smtpd[1]: warning: milter inet:1.2.3.4:1: '), noise(2048, 3)]), expected: failure('unknown', 'other') },
  {
    given: 'invalid UTF-8 in the reason',
    input: Buffer.concat([Buffer.from('x postfix/smtpd[1]: warning: connect to Milter service inet:1.2.3.4:1: '), Buffer.from([0xff, 0xc3, 0x28])]),
    expected: failure('connect', 'other'),
  },
  { given: 'a function name that is too long', input: `x postfix/smtpd[1]: warning: milter${'x'.repeat(40)}: milter a: bad packet length: 0`, expected: { ...smtpd, kind: 'unsupported' } },
  { given: 'the milter text at info level', input: 'x postfix/smtpd[1]: connect to Milter service inet:1.2.3.4:1: Connection refused', expected: { ...smtpd, level: 'info', kind: 'unsupported' } },
];

for (const { given, input, expected } of HOSTILE) {
  test(`GIVEN ${given} WHEN parsed THEN ${expected.kind} and nothing throws`, () => {
    assert.deepEqual(parsePostfixLogLine(input), expected);
  });
}

test('GIVEN every prefix of every milter line WHEN parsed THEN none throws and every failure has labels from the closed sets', () => {
  for (const { line } of LINES) {
    for (let end = 0; end <= line.length; end++) {
      const event = parsePostfixLogLine(line.slice(0, end));
      if (event.kind !== 'milter-failure') continue;
      assert.ok(['connect', 'command', 'content', 'unknown'].includes(event.stage), line.slice(0, end));
      assert.ok(['refused', 'timeout', 'closed', 'protocol', 'other'].includes(event.reason), line.slice(0, end));
    }
  }
});
