/**
 * The Postfix log codec on postscreen and dnsblog: lines Postfix 3.7.11 wrote on this host (marked observed; the
 * integration test test/integration/postscreen.test.ts makes most of them), the names before 3.6, then hostile
 * variants.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePostfixLogLine } from '../../src/protocol/postfix-log.ts';
import type { PostfixLogEvent, PostscreenAction } from '../../src/protocol/postfix-log-events.ts';
import { noise } from './chunks.ts';

const info = { service: 'postscreen', level: 'info', truncated: false } as const;
const action = (a: PostscreenAction): PostfixLogEvent => ({ ...info, kind: 'postscreen-action', action: a });
const reject = (stage: string, reason: string, code?: string, dsn?: string) => ({ ...info, kind: 'postscreen-reject', stage, reason, code, dsn }) as PostfixLogEvent;
const P = 'Dec 07 05:28:14 mx postfix/postscreen[2699]: ';

const LINES: readonly { given: string; line: string; expected: PostfixLogEvent }[] = [
  { given: 'a connection (observed)', line: `${P}CONNECT from [127.145.0.2]:36177 to [127.145.0.1]:25`, expected: action('connect') },
  { given: 'an IPv6 connection', line: `${P}CONNECT from [2001:db8::7]:36177 to [2001:db8::1]:25`, expected: action('connect') },
  { given: 'a new client that waited its turn (observed)', line: `${P}PASS NEW [127.145.0.2]:36177`, expected: action('pass_new') },
  { given: 'a cached client (observed)', line: `${P}PASS OLD [127.145.0.2]:60979`, expected: action('pass_old') },
  { given: 'a pregreet (observed)', line: `${P}PREGREET 17 after 0 from [127.145.0.3]:40503: EHLO early.test\\r\\n`, expected: action('pregreet') },
  { given: 'a pregreet after a fraction of a second', line: `${P}PREGREET 11 after 0.21 from [192.0.2.1]:1: HELO x\\r\\n`, expected: action('pregreet') },
  { given: 'a hangup during the greet wait (observed)', line: `${P}HANGUP after 0.28 from [127.145.0.20]:45815 in tests before SMTP handshake`, expected: action('hangup') },
  { given: 'a hangup after the greeting (observed)', line: `${P}HANGUP after 0.79 from [127.145.0.22]:47713 in tests after SMTP handshake`, expected: action('hangup') },
  { given: 'the end of a session (observed)', line: `${P}DISCONNECT [127.145.0.3]:40503`, expected: action('disconnect') },
  { given: 'an allowlisted client (observed)', line: `${P}ALLOWLISTED [127.145.0.9]:59025`, expected: action('allowlisted') },
  { given: 'an allowlisted client, as before 3.6', line: `${P}WHITELISTED [192.0.2.9]:59025`, expected: action('allowlisted') },
  { given: 'a denylisted client (observed)', line: `${P}DENYLISTED [127.145.0.10]:46315`, expected: action('denylisted') },
  { given: 'a denylisted client, as before 3.6', line: `${P}BLACKLISTED [192.0.2.10]:46315`, expected: action('denylisted') },
  { given: 'an allowlist veto', line: `${P}ALLOWLIST VETO [192.0.2.11]:4000`, expected: action('allowlist_veto') },
  { given: 'an allowlist veto, as before 3.6', line: `${P}WHITELIST VETO [192.0.2.11]:4000`, expected: action('allowlist_veto') },
  { given: 'pipelining without PIPELINING (observed)', line: `${P}COMMAND PIPELINING from [127.145.0.21]:44513 after MAIL: RCPT TO:<x@y.test>\\r\\nDATA\\r\\n`, expected: action('pipelining') },
  { given: 'an HTTP command (observed)', line: `${P}NON-SMTP COMMAND from [127.145.0.22]:47713 after EHLO: CONNECT x:80 HTTP/1.0`, expected: action('non_smtp_command') },
  { given: 'a bare newline (observed)', line: `${P}BARE NEWLINE from [127.145.0.23]:46363 after EHLO a.test`, expected: action('bare_newline') },
  { given: 'the command time limit', line: `${P}COMMAND TIME LIMIT from [192.0.2.1]:1 after DATA`, expected: action('command_time_limit') },
  { given: 'the command count limit', line: `${P}COMMAND COUNT LIMIT from [192.0.2.1]:1 after RCPT`, expected: action('command_count_limit') },
  { given: 'the command length limit', line: `${P}COMMAND LENGTH LIMIT from [192.0.2.1]:1 after EHLO`, expected: action('command_length_limit') },
  { given: 'DATA after refused recipients (observed)', line: `${P}DATA without valid RCPT from [127.145.0.21]:44513`, expected: action('data_without_rcpt') },
  { given: 'a blocklist score', line: `${P}DNSBL rank 3 for [192.0.2.5]:41234`, expected: { ...info, kind: 'postscreen-dnsbl-rank', rank: 3 } },
  {
    given: 'a refusal for a blocklist score',
    line: `${P}NOQUEUE: reject: RCPT from [192.0.2.5]:41234: 550 5.7.1 Service unavailable; client [192.0.2.5] blocked using zen.example.net; from=<a@b.test>, to=<u@example.com>, proto=ESMTP, helo=<bot>`,
    expected: reject('RCPT', 'dnsbl', '550', '5.7.1'),
  },
  {
    given: 'a refusal after a pregreet (observed)',
    line: `${P}NOQUEUE: reject: RCPT from [127.145.0.24]:34555: 550 5.5.1 Protocol error; from=<a@b.test>, to=<x@y.test>, proto=SMTP, helo=<early>`,
    expected: reject('RCPT', 'protocol', '550', '5.5.1'),
  },
  { given: 'too many connections (observed)', line: `${P}NOQUEUE: reject: CONNECT from [127.145.0.25]:60227: too many connections`, expected: reject('CONNECT', 'connection_limit') },
  { given: 'every smtpd busy', line: `${P}NOQUEUE: reject: CONNECT from [192.0.2.1]:2: all server ports busy`, expected: reject('CONNECT', 'busy') },
  { given: 'every screening slot busy', line: `${P}NOQUEUE: reject: CONNECT from [192.0.2.1]:2: all screening ports busy`, expected: reject('CONNECT', 'busy') },
  {
    given: 'a new client told to come back after the tests after the greeting',
    line: `${P}NOQUEUE: reject: RCPT from [192.0.2.1]:2: 450 4.3.2 Service currently unavailable; from=<a@b.test>, to=<u@example.com>, proto=ESMTP, helo=<mx.b.test>`,
    expected: reject('RCPT', 'unavailable', '450', '4.3.2'),
  },
  { given: 'a refusal of a kind not known', line: `${P}NOQUEUE: reject: RCPT from [192.0.2.1]:2: 554 5.7.0 Go away; from=<>`, expected: reject('RCPT', 'other', '554', '5.7.0') },
  { given: 'the cache cleanup (observed)', line: `${P}cache proxy:btree:/tmp/x/lib/postscreen_cache full cleanup: retained=0 dropped=0 entries`, expected: { ...info, kind: 'statistics' } },
  { given: 'postscreen under the balancer service\'s syslog name (observed)', line: 'Dec 07 05:28:30 mx postfix/smtp-lb/postscreen[2927]: PASS NEW [198.51.100.7]:40000', expected: action('pass_new') },
  {
    given: 'a blocklist listing (dnsblog)',
    line: 'Dec 07 05:28:30 mx postfix/dnsblog[31]: addr 192.0.2.5 listed by domain Zen.Example.NET as 127.0.0.4',
    expected: { service: 'dnsblog', level: 'info', truncated: false, kind: 'dnsbl-listed', domain: 'zen.example.net' },
  },
];

for (const { given, line, expected } of LINES) {
  test(`GIVEN ${given} WHEN parsed THEN ${expected.kind}`, () => {
    assert.deepEqual(parsePostfixLogLine(line), expected);
  });
}

const unsupported = (service = 'postscreen', level = 'info', truncated = false) => ({ service, level, truncated, kind: 'unsupported' }) as PostfixLogEvent;

const HOSTILE: readonly { given: string; input: string | Buffer; expected: PostfixLogEvent }[] = [
  { given: 'a PASS without a client', input: `${P}PASS NEW`, expected: unsupported() },
  { given: 'a PASS of another kind', input: `${P}PASS SOMETIMES [1.2.3.4]:5`, expected: unsupported() },
  { given: 'a pregreet count that is not a number', input: `${P}PREGREET x after 0 from [1.2.3.4]:5: x`, expected: unsupported() },
  { given: 'a pregreet cut before its client', input: `${P}PREGREET 17 after 0`, expected: unsupported() },
  { given: 'a hangup without a client', input: `${P}HANGUP after 0.2`, expected: unsupported() },
  { given: 'a rank that is not a number', input: `${P}DNSBL rank -1 for [1.2.3.4]:5`, expected: unsupported() },
  { given: 'a rank of 16 digits', input: `${P}DNSBL rank ${'9'.repeat(16)} for [1.2.3.4]:5`, expected: unsupported() },
  { given: 'a refusal at a stage Postfix does not name', input: `${P}NOQUEUE: reject: LOGIN from [1.2.3.4]:5: 550 5.5.1 Protocol error`, expected: unsupported() },
  { given: 'a refusal cut after the client', input: `${P}NOQUEUE: reject: RCPT from [1.2.3.4]:5`, expected: unsupported() },
  { given: 'a refusal with a garbled code', input: `${P}NOQUEUE: reject: RCPT from [1.2.3.4]:5: 5x0 5.5.1 Protocol error; from=<>`, expected: reject('RCPT', 'protocol', undefined, undefined) },
  { given: 'a postscreen line at warning level', input: `${P}warning: PASS NEW [1.2.3.4]:5`, expected: unsupported('postscreen', 'warning') },
  { given: 'a postscreen warning (the cache)', input: `${P}warning: psc_cache_update: btree:/x/postscreen_cache statistics update error`, expected: unsupported('postscreen', 'warning') },
  { given: 'a keyword in lower case', input: `${P}connect from [1.2.3.4]:5 to [5.6.7.8]:25`, expected: unsupported() },
  { given: 'binary noise after the tag', input: Buffer.concat([Buffer.from(P), noise(4096, 7)]), expected: unsupported() },
  { given: 'invalid UTF-8 in a pregreet', input: Buffer.concat([Buffer.from(`${P}PREGREET 3 after 0 from [1.2.3.4]:5: `), Buffer.from([0xff, 0xc3, 0x28])]), expected: action('pregreet') },
  { given: 'an over-long pregreet', input: `${P}PREGREET 99999 after 0 from [1.2.3.4]:5: ${'A'.repeat(100_000)}`, expected: { ...info, truncated: true, kind: 'postscreen-action', action: 'pregreet' } },
  { given: 'an over-long refusal', input: `${P}NOQUEUE: reject: RCPT from [1.2.3.4]:5: 550 5.7.1 ${'x'.repeat(100_000)}`, expected: { ...info, truncated: true, kind: 'postscreen-reject', stage: 'RCPT', reason: 'other', code: '550', dsn: '5.7.1' } },
  { given: 'a dnsblog listing with a domain of symbols', input: 'x postfix/dnsblog[1]: addr 1.2.3.4 listed by domain a"b{c} as 127.0.0.2', expected: unsupported('dnsblog') },
  { given: 'a dnsblog listing cut before the reply', input: 'x postfix/dnsblog[1]: addr 1.2.3.4 listed by domain zen.example.net', expected: unsupported('dnsblog') },
  { given: 'a dnsblog warning', input: 'x postfix/dnsblog[1]: warning: dnsblog_query: lookup error for DNS query 4.3.2.1.zen.example.net: Host or domain name not found', expected: unsupported('dnsblog', 'warning') },
];

for (const { given, input, expected } of HOSTILE) {
  test(`GIVEN ${given} WHEN parsed THEN ${expected.kind} and nothing throws`, () => {
    assert.deepEqual(parsePostfixLogLine(input), expected);
  });
}

test('GIVEN a refusal whose envelope holds a phrase of another reason WHEN parsed THEN the reason is the reply text\'s', () => {
  const line = `${P}NOQUEUE: reject: RCPT from [192.0.2.1]:2: 550 5.5.1 Protocol error; from=<x blocked using y@b.test>, to=<u@example.com>, proto=SMTP, helo=<z>`;
  assert.deepEqual(parsePostfixLogLine(line), reject('RCPT', 'protocol', '550', '5.5.1'));
});
