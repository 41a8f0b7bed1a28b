/**
 * The Postfix log codec on lines Postfix 3.7.11 wrote (maillog_file = /dev/stdout, on this host, with
 * smtp-sink peers, a Dovecot SASL backend, a test milter and header_checks), then on hostile input.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePostfixLogLine, POSTFIX_LOG_MAX_LINE_BYTES } from '../../src/protocol/postfix-log.ts';
import type { PostfixLogEvent } from '../../src/protocol/postfix-log-events.ts';
import { noise } from './chunks.ts';

const info = { level: 'info', truncated: false } as const;
const smtpd = { service: 'smtpd', ...info } as const;

const REAL: readonly { given: string; line: string; expected: PostfixLogEvent }[] = [
  {
    given: 'smtpd connect',
    line: 'Dec 06 05:05:12 mx postfix/smtpd[11206]: connect from unknown[127.110.0.7]',
    expected: { ...smtpd, kind: 'smtpd-connect' },
  },
  {
    given: 'smtpd disconnect with command counts',
    line: 'Dec 06 05:05:00 mx postfix/submission/smtpd[11009]: disconnect from localhost[127.0.0.1] helo=0/1 ehlo=0/1 quit=1 commands=1/3',
    expected: {
      ...smtpd,
      kind: 'smtpd-disconnect',
      commands: [
        { command: 'helo', accepted: 0, total: 1 },
        { command: 'ehlo', accepted: 0, total: 1 },
        { command: 'quit', accepted: 1, total: 1 },
        { command: 'commands', accepted: 1, total: 3 },
      ],
    },
  },
  {
    given: 'smtpd disconnect of a client that sent nothing',
    line: 'Dec 06 05:06:11 mx postfix/smtpd[12440]: disconnect from unknown[127.110.0.7] commands=0/0',
    expected: { ...smtpd, kind: 'smtpd-disconnect', commands: [{ command: 'commands', accepted: 0, total: 0 }] },
  },
  {
    given: 'NOQUEUE reject at RCPT',
    line: 'Dec 06 05:05:12 mx postfix/smtpd[11206]: NOQUEUE: reject: RCPT from unknown[127.110.0.7]: 554 5.7.1 <reject@ok.test>: Recipient address rejected: go away; from=<a@client.test> to=<reject@ok.test> proto=ESMTP helo=<client.test>',
    expected: { ...smtpd, kind: 'smtpd-action', action: 'reject', stage: 'RCPT', code: '554', dsn: '5.7.1', queueId: undefined },
  },
  {
    given: 'NOQUEUE reject at MAIL (smtpd_delay_reject = no)',
    line: 'Dec 06 05:05:00 mx postfix/submission/smtpd[11009]: NOQUEUE: reject: MAIL from localhost[127.0.0.1]: 554 5.7.1 <bad@client.test>: Sender address rejected: Access denied; from=<bad@client.test> proto=ESMTP helo=<client.test>',
    expected: { ...smtpd, kind: 'smtpd-action', action: 'reject', stage: 'MAIL', code: '554', dsn: '5.7.1', queueId: undefined },
  },
  {
    given: 'NOQUEUE reject at HELO',
    line: 'Dec 06 05:05:00 mx postfix/submission/smtpd[11009]: NOQUEUE: reject: HELO from localhost[127.0.0.1]: 554 5.7.1 <bad.helo>: Helo command rejected: Access denied; proto=SMTP helo=<bad.helo>',
    expected: { ...smtpd, kind: 'smtpd-action', action: 'reject', stage: 'HELO', code: '554', dsn: '5.7.1', queueId: undefined },
  },
  {
    given: 'NOQUEUE reject at EHLO',
    line: 'Dec 06 05:05:00 mx postfix/submission/smtpd[11009]: NOQUEUE: reject: EHLO from localhost[127.0.0.1]: 554 5.7.1 <bad.helo>: Helo command rejected: Access denied; proto=SMTP helo=<bad.helo>',
    expected: { ...smtpd, kind: 'smtpd-action', action: 'reject', stage: 'EHLO', code: '554', dsn: '5.7.1', queueId: undefined },
  },
  {
    given: 'NOQUEUE reject at CONNECT',
    line: 'Dec 06 05:05:00 mx postfix/submission/smtpd[11009]: NOQUEUE: reject: CONNECT from unknown[127.110.0.9]: 554 5.7.1 <unknown[127.110.0.9]>: Client host rejected: Access denied; proto=SMTP',
    expected: { ...smtpd, kind: 'smtpd-action', action: 'reject', stage: 'CONNECT', code: '554', dsn: '5.7.1', queueId: undefined },
  },
  {
    given: 'a reject at DATA (with a queue ID)',
    line: 'Dec 06 05:05:13 mx postfix/smtpd[11206]: 1DBC143E3E4: reject: DATA from unknown[127.110.0.7]: 554 5.7.1 <data@client.test>: Sender address rejected: no data for you; from=<data@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>',
    expected: { ...smtpd, kind: 'smtpd-action', action: 'reject', stage: 'DATA', code: '554', dsn: '5.7.1', queueId: '1DBC143E3E4' },
  },
  {
    given: 'a reject at END-OF-MESSAGE',
    line: 'Dec 06 05:05:13 mx postfix/smtpd[11206]: 2958D43E3E4: reject: END-OF-MESSAGE from unknown[127.110.0.7]: 554 5.7.1 <eom@client.test>: Sender address rejected: too late; from=<eom@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>',
    expected: { ...smtpd, kind: 'smtpd-action', action: 'reject', stage: 'END-OF-MESSAGE', code: '554', dsn: '5.7.1', queueId: '2958D43E3E4' },
  },
  {
    given: 'a temporary reject (451)',
    line: 'Dec 06 05:05:00 mx postfix/smtpd[10991]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 451 4.3.5 <x@ok.test>: Recipient address rejected: Server configuration error; from=<a@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>',
    expected: { ...smtpd, kind: 'smtpd-action', action: 'reject', stage: 'RCPT', code: '451', dsn: '4.3.5', queueId: undefined },
  },
  {
    given: 'a DISCARD action (no reply code)',
    line: 'Dec 06 05:05:12 mx postfix-mx/in/smtpd[11240]: NOQUEUE: discard: RCPT from localhost[127.0.0.1]: <t@tls.test>: Recipient address triggers DISCARD action; from=<a@client.test> to=<t@tls.test> proto=ESMTP helo=<mx.example.test>',
    expected: { ...smtpd, kind: 'smtpd-action', action: 'discard', stage: 'RCPT', code: undefined, dsn: undefined, queueId: undefined },
  },
  {
    given: 'warning SASL PLAIN authentication failed',
    line: 'Dec 06 05:05:52 mx postfix/submission/smtpd[11973]: warning: unknown[127.110.0.7]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=user@client.test',
    expected: { service: 'smtpd', level: 'warning', truncated: false, kind: 'smtpd-sasl-failure', method: 'PLAIN' },
  },
  {
    given: 'warning SASL LOGIN authentication failed',
    line: 'Dec 06 05:05:58 mx postfix/submission/smtpd[11973]: warning: unknown[127.110.0.7]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=user@client.test',
    expected: { service: 'smtpd', level: 'warning', truncated: false, kind: 'smtpd-sasl-failure', method: 'LOGIN' },
  },
  {
    given: 'a message accepted after SASL authentication',
    line: 'Dec 06 05:06:02 mx postfix/submission/smtpd[11973]: 8835943E466: client=unknown[127.110.0.7], sasl_method=PLAIN, sasl_username=user@client.test',
    expected: { ...smtpd, kind: 'smtpd-message', queueId: '8835943E466', saslMethod: 'PLAIN' },
  },
  {
    given: 'a message accepted without authentication',
    line: 'Dec 06 05:05:12 mx postfix/smtpd[11206]: 798DD43E2F1: client=unknown[127.110.0.7]',
    expected: { ...smtpd, kind: 'smtpd-message', queueId: '798DD43E2F1', saslMethod: undefined },
  },
  {
    given: 'TLS connection established from a client',
    line: 'Dec 06 05:06:02 mx postfix/submission/smtpd[11973]: Anonymous TLS connection established from unknown[127.110.0.7]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256',
    expected: { ...smtpd, kind: 'smtpd-tls', trust: 'Anonymous', protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  },
  {
    given: 'TLS connection established to a server',
    line: 'Dec 06 05:05:12 mx postfix/smtp[11213]: Untrusted TLS connection established to 127.110.0.1[127.110.0.1]:2526: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256',
    expected: { service: 'smtp', ...info, kind: 'smtp-tls', trust: 'Untrusted', protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  },
  {
    given: 'a client whose reverse name does not resolve back',
    line: 'Dec 06 05:20:42 mx postfix/smtpd[3052]: warning: hostname liar.example.test does not resolve to address 127.110.0.7',
    expected: { service: 'smtpd', level: 'warning', truncated: false, kind: 'smtpd-fcrdns-error' },
  },
  {
    given: 'lost connection after CONNECT',
    line: 'Dec 06 05:06:11 mx postfix/smtpd[12440]: lost connection after CONNECT from unknown[127.110.0.7]',
    expected: { ...smtpd, kind: 'smtpd-lost-connection', afterStage: 'CONNECT' },
  },
  {
    given: 'lost connection after EHLO',
    line: 'Dec 06 05:06:11 mx postfix/smtpd[12440]: lost connection after EHLO from unknown[127.110.0.7]',
    expected: { ...smtpd, kind: 'smtpd-lost-connection', afterStage: 'EHLO' },
  },
  {
    given: 'timeout after DATA with a byte count',
    line: 'Dec 06 05:11:11 mx postfix/smtpd[12440]: timeout after DATA (0 bytes) from unknown[127.110.0.7]',
    expected: { ...smtpd, kind: 'smtpd-timeout', afterStage: 'DATA' },
  },
  {
    given: 'improper command pipelining',
    line: 'Dec 06 05:06:11 mx postfix/smtpd[12440]: improper command pipelining after EHLO from unknown[127.110.0.7]: MAIL FROM:<a@client.test>\\r\\nRCPT TO:<x@ok.test>\\r\\nDATA\\r\\n',
    expected: { ...smtpd, kind: 'smtpd-protocol-violation', violation: 'improper-pipelining', afterStage: 'EHLO' },
  },
  {
    given: 'qmgr from= (a message enters the active queue)',
    line: 'Dec 06 05:06:04 mx postfix/qmgr[11823]: 05D2943E3C2: from=<root@example.test>, size=271, nrcpt=3 (queue active)',
    expected: { service: 'qmgr', ...info, kind: 'qmgr-insert', queueId: '05D2943E3C2', size: 271, recipients: 3 },
  },
  {
    given: 'qmgr from= of a bounce (null sender)',
    line: 'Dec 06 05:05:12 mx postfix/qmgr[11130]: 8AAE843E1C3: from=<>, size=2254, nrcpt=1 (queue active)',
    expected: { service: 'qmgr', ...info, kind: 'qmgr-insert', queueId: '8AAE843E1C3', size: 2254, recipients: 1 },
  },
  {
    given: 'qmgr removed',
    line: 'Dec 06 05:05:12 mx postfix/qmgr[11130]: 798DD43E2F1: removed',
    expected: { service: 'qmgr', ...info, kind: 'qmgr-removed', queueId: '798DD43E2F1' },
  },
  {
    given: 'qmgr force-expired (postsuper -e)',
    line: 'Dec 06 05:11:28 mx postfix/qmgr[11823]: 974F643E1C3: from=<a@client.test>, status=force-expired, returned to sender',
    expected: { service: 'qmgr', ...info, kind: 'qmgr-expired', queueId: '974F643E1C3', forced: true },
  },
  {
    given: 'qmgr expired (maximal_queue_lifetime)',
    line: 'Dec 06 05:11:28 mx postfix/qmgr[11823]: 974F643E1C3: from=<a@client.test>, status=expired, returned to sender',
    expected: { service: 'qmgr', ...info, kind: 'qmgr-expired', queueId: '974F643E1C3', forced: false },
  },
  {
    given: 'cleanup message-id',
    line: 'Dec 06 05:05:12 mx postfix/cleanup[11210]: 798DD43E2F1: message-id=<20261206050512.011205@vm>',
    expected: { service: 'cleanup', ...info, kind: 'cleanup-message', queueId: '798DD43E2F1', resent: false },
  },
  {
    given: 'cleanup milter-reject',
    line: 'Dec 06 05:06:02 mx postfix/cleanup[12155]: A9BD443E467: milter-reject: END-OF-MESSAGE from unknown[127.110.0.7]: 5.7.1 milter says no; from=<a@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>',
    expected: { service: 'cleanup', ...info, kind: 'cleanup-reject', queueId: 'A9BD443E467', milter: true, stage: 'END-OF-MESSAGE', dsn: '5.7.1' },
  },
  {
    given: 'cleanup header_checks reject',
    line: 'Dec 06 05:05:13 mx postfix/cleanup[11210]: 0876943E3E3: reject: header Subject: forbidden thing from unknown[127.110.0.7]; from=<a@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>: 5.7.1 forbidden subject',
    expected: { service: 'cleanup', ...info, kind: 'cleanup-reject', queueId: '0876943E3E3', milter: false, stage: 'END-OF-MESSAGE', dsn: '5.7.1' },
  },
  {
    given: 'cleanup header_checks hold',
    line: 'Dec 06 05:05:13 mx postfix/cleanup[11210]: 12DC543E3E3: hold: header Subject: hold me from unknown[127.110.0.7]; from=<a@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>: held by header',
    expected: { service: 'cleanup', ...info, kind: 'cleanup-action', queueId: '12DC543E3E3', action: 'hold' },
  },
  {
    given: 'smtp status=sent with delays and dsn',
    line: 'Dec 06 05:05:12 mx postfix/smtp[11213]: 798DD43E2F1: to=<x@ok.test>, relay=127.110.0.2[127.110.0.2]:2525, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)',
    expected: {
      service: 'smtp', ...info, kind: 'delivery', queueId: '798DD43E2F1', transport: 'smtp', relay: '127.110.0.2', delay: 0.02,
      delays: { beforeQmgr: 0.01, inQmgr: 0.01, connSetup: 0, transmission: 0 }, dsn: '2.0.0', status: 'sent',
    },
  },
  {
    given: 'smtp status=deferred after a retry (a long before_qmgr)',
    line: 'Dec 06 05:10:46 mx postfix/smtp[17277]: A68E043E3D9: to=<w@soft.test>, relay=127.110.0.6[127.110.0.6]:2525, delay=333, delays=333/0.02/0/0.01, dsn=4.3.0, status=deferred (host 127.110.0.6[127.110.0.6] said: 450 4.3.0 Error: command failed (in reply to RCPT TO command))',
    expected: {
      service: 'smtp', ...info, kind: 'delivery', queueId: 'A68E043E3D9', transport: 'smtp', relay: '127.110.0.6', delay: 333,
      delays: { beforeQmgr: 333, inQmgr: 0.02, connSetup: 0, transmission: 0.01 }, dsn: '4.3.0', status: 'deferred',
    },
  },
  {
    given: 'smtp status=deferred with relay=none (connection refused)',
    line: 'Dec 06 05:05:12 mx postfix/smtp[11213]: 974F643E1C3: to=<z@defer.test>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to 127.110.0.4[127.110.0.4]:2525: Connection refused)',
    expected: {
      service: 'smtp', ...info, kind: 'delivery', queueId: '974F643E1C3', transport: 'smtp', relay: 'none', delay: 0,
      delays: { beforeQmgr: 0, inQmgr: 0, connSetup: 0, transmission: 0 }, dsn: '4.4.1', status: 'deferred',
    },
  },
  {
    given: 'smtp status=bounced',
    line: 'Dec 06 05:05:12 mx postfix/smtp[11213]: 889F443E2F1: to=<y@bad.test>, relay=127.110.0.3[127.110.0.3]:2525, delay=0.01, delays=0/0/0/0.01, dsn=5.3.0, status=bounced (host 127.110.0.3[127.110.0.3] said: 500 5.3.0 Error: command failed (in reply to RCPT TO command))',
    expected: {
      service: 'smtp', ...info, kind: 'delivery', queueId: '889F443E2F1', transport: 'smtp', relay: '127.110.0.3', delay: 0.01,
      delays: { beforeQmgr: 0, inQmgr: 0, connSetup: 0, transmission: 0.01 }, dsn: '5.3.0', status: 'bounced',
    },
  },
  {
    given: 'lmtp status=sent',
    line: 'Dec 06 05:05:12 mx postfix/lmtp[11222]: B1F5943E3DE: to=<v@lmtp.test>, relay=127.110.0.5[127.110.0.5]:2424, delay=0.01, delays=0/0.01/0/0, dsn=2.2.0, status=sent (250 2.2.0 Ok)',
    expected: {
      service: 'lmtp', ...info, kind: 'delivery', queueId: 'B1F5943E3DE', transport: 'lmtp', relay: '127.110.0.5', delay: 0.01,
      delays: { beforeQmgr: 0, inQmgr: 0.01, connSetup: 0, transmission: 0 }, dsn: '2.2.0', status: 'sent',
    },
  },
  {
    given: 'pipe status=sent (relay is the master.cf service)',
    line: 'Dec 06 05:11:50 mx postfix/pipe[19573]: 98F7443E24E: to=<u@pipe.test>, relay=truepipe, delay=0.04, delays=0.01/0.01/0/0.01, dsn=2.0.0, status=sent (delivered via truepipe service)',
    expected: {
      service: 'pipe', ...info, kind: 'delivery', queueId: '98F7443E24E', transport: 'pipe', relay: 'truepipe', delay: 0.04,
      delays: { beforeQmgr: 0.01, inQmgr: 0.01, connSetup: 0, transmission: 0.01 }, dsn: '2.0.0', status: 'sent',
    },
  },
  {
    given: 'error transport status=bounced',
    line: 'Dec 06 05:11:50 mx postfix/error[19576]: 9CD2A43E242: to=<u@err.test>, relay=none, delay=0.02, delays=0/0.01/0/0.01, dsn=5.1.1, status=bounced (no such domain)',
    expected: {
      service: 'error', ...info, kind: 'delivery', queueId: '9CD2A43E242', transport: 'error', relay: 'none', delay: 0.02,
      delays: { beforeQmgr: 0, inQmgr: 0.01, connSetup: 0, transmission: 0.01 }, dsn: '5.1.1', status: 'bounced',
    },
  },
  {
    given: 'bounce sender non-delivery notification',
    line: 'Dec 06 05:05:12 mx postfix/bounce[11214]: 889F443E2F1: sender non-delivery notification: 8AAE843E1C3',
    expected: { service: 'bounce', ...info, kind: 'bounce-notification', queueId: '889F443E2F1', notification: 'sender non-delivery' },
  },
  {
    given: 'smtp connection timed out',
    line: 'Dec 06 05:20:56 mx postfix/smtp[3459]: connect to 127.110.0.11[127.110.0.11]:2525: Connection timed out',
    expected: { service: 'smtp', ...info, kind: 'smtp-connect-failed', timedOut: true },
  },
  {
    given: 'smtp connection refused',
    line: 'Dec 06 05:05:12 mx postfix/smtp[11213]: connect to 127.110.0.4[127.110.0.4]:2525: Connection refused',
    expected: { service: 'smtp', ...info, kind: 'smtp-connect-failed', timedOut: false },
  },
  {
    given: 'pickup of a locally submitted message',
    line: 'Dec 06 05:06:04 mx postfix/pickup[11822]: 0409B43E3C2: uid=0 from=<root@example.test>',
    expected: { service: 'pickup', ...info, kind: 'pickup', queueId: '0409B43E3C2' },
  },
  {
    given: 'master started',
    line: 'Dec 06 05:04:55 mx postfix/master[10952]: daemon started -- version 3.7.11, configuration /tmp/pfx-lab/conf',
    expected: { service: 'master', ...info, kind: 'master', what: 'started' },
  },
  {
    given: 'postsuper placed on hold',
    line: 'Dec 06 05:11:28 mx postfix/postsuper[19171]: A68E043E3D9: placed on hold',
    expected: { service: 'postsuper', ...info, kind: 'postsuper', action: 'hold' },
  },
  {
    given: 'anvil statistics',
    line: 'Dec 06 05:05:09 mx postfix/anvil[10994]: statistics: max connection rate 13/60s for (127.110.0.1:25:127.0.0.1) at Dec  6 05:05:00',
    expected: { service: 'anvil', ...info, kind: 'statistics' },
  },
  {
    given: 'a Postfix warning the codec has no event for',
    line: 'Dec 06 05:05:00 mx postfix/smtpd[10991]: warning: dict_nis_init: NIS domain name not set - NIS lookups disabled',
    expected: { service: 'smtpd', level: 'warning', truncated: false, kind: 'unsupported' },
  },
  {
    given: 'a Postfix error',
    line: 'Dec 06 05:05:00 mx postfix/smtpd[10991]: error: open database /etc/aliases.db: No such file or directory',
    expected: { service: 'smtpd', level: 'error', truncated: false, kind: 'unsupported' },
  },
];

for (const { given, line, expected } of REAL) {
  test(`GIVEN a real Postfix 3.7 line: ${given} WHEN parsed THEN it is that event`, () => {
    assert.deepEqual(parsePostfixLogLine(line), expected);
  });
}

test('GIVEN a real line as bytes WHEN parsed THEN it is the same event as the string', () => {
  for (const { line, expected } of REAL) assert.deepEqual(parsePostfixLogLine(Buffer.from(line, 'latin1')), expected);
});

const CONNECT = 'postfix/smtpd[11206]: connect from unknown[127.110.0.7]';

const PREFIXES: readonly { given: string; prefix: string }[] = [
  { given: "Postfix's own maillog_file stamp", prefix: 'Dec 06 05:05:12 mx ' },
  { given: 'a classic syslog stamp (space-padded day)', prefix: 'Dec  6 05:05:12 mx ' },
  { given: 'an RFC 3339 stamp', prefix: '2026-12-06T05:05:12.123456+00:00 mx.example.test ' },
  { given: 'a container runtime stamp before the syslog stamp', prefix: '2026-12-06T05:05:12.123456789Z stdout F Dec 06 05:05:12 mx ' },
  { given: 'no stamp at all', prefix: '' },
];

for (const { given, prefix } of PREFIXES) {
  test(`GIVEN ${given} WHEN a line is parsed THEN the event does not depend on it`, () => {
    assert.deepEqual(parsePostfixLogLine(prefix + CONNECT), { ...smtpd, kind: 'smtpd-connect' });
  });
}

const TAGS: readonly { tag: string; service: string }[] = [
  { tag: 'postfix/smtpd', service: 'smtpd' },
  { tag: 'postfix/submission/smtpd', service: 'smtpd' },
  { tag: 'postfix-mx/smtpd', service: 'smtpd' },
  { tag: 'postfix/mta/smtpd', service: 'smtpd' },
  { tag: 'postfix-out/relay/smtp', service: 'smtp' },
];

for (const { tag, service } of TAGS) {
  test(`GIVEN the syslog tag ${tag} WHEN parsed THEN the service is the daemon ${service}`, () => {
    assert.equal(parsePostfixLogLine(`Dec 06 05:05:12 mx ${tag}[1]: x`).service, service);
  });
}

test('GIVEN a CRLF line WHEN parsed THEN the CR does not change the event', () => {
  assert.deepEqual(parsePostfixLogLine(`Dec 06 05:05:12 mx postfix/qmgr[1]: 798DD43E2F1: removed\r`), {
    service: 'qmgr', ...info, kind: 'qmgr-removed', queueId: '798DD43E2F1',
  });
});

const HOSTILE: readonly { given: string; input: string | Buffer; service: string; level?: string; truncated?: boolean }[] = [
  { given: 'an empty line', input: '', service: 'unknown' },
  { given: 'binary noise', input: noise(4096, 7), service: 'unknown' },
  { given: 'NUL bytes', input: Buffer.alloc(100), service: 'unknown' },
  { given: 'invalid UTF-8 in a delivery line', input: Buffer.concat([Buffer.from('Dec 06 05:05:12 mx postfix/smtp[1]: 798DD43E2F1: to=<'), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('>, relay=')]), service: 'smtp' },
  { given: 'invalid UTF-8 in the tag', input: Buffer.concat([Buffer.from('Dec 06 05:05:12 mx postfix/'), Buffer.from([0xc3, 0x28]), Buffer.from('[1]: x')]), service: 'other' },
  { given: 'a line that is only a prefix', input: 'Dec 06 05:05:12 mx ', service: 'unknown' },
  { given: 'a line cut right after the tag', input: 'Dec 06 05:05:12 mx postfix/smtpd[1]', service: 'unknown' },
  { given: 'a line cut after the tag and colon', input: 'Dec 06 05:05:12 mx postfix/smtpd[1]: ', service: 'smtpd' },
  { given: 'a line cut inside warning:', input: 'Dec 06 05:05:12 mx postfix/smtpd[1]: warn', service: 'smtpd' },
  { given: 'a delivery line cut before status=', input: 'Dec 06 05:05:12 mx postfix/smtp[1]: 798DD43E2F1: to=<x@ok.test>, relay=127.110.0.2[127.110.0.2]:2525, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0', service: 'smtp' },
  { given: 'a reject cut after the stage', input: 'Dec 06 05:05:12 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT', service: 'smtpd' },
  { given: 'a qmgr line cut after size=', input: 'Dec 06 05:05:12 mx postfix/qmgr[1]: 05D2943E3C2: from=<root@example.test>, size=', service: 'qmgr' },
  { given: 'a qmgr line with a size beyond 2^53', input: 'Dec 06 05:05:12 mx postfix/qmgr[1]: 05D2943E3C2: from=<>, size=99999999999999999999, nrcpt=1 (queue active)', service: 'qmgr' },
  { given: 'a pid that is not a number', input: 'Dec 06 05:05:12 mx postfix/smtpd[abc]: connect from x[1.2.3.4]', service: 'unknown' },
  { given: 'a tag that is not Postfix', input: 'Dec 06 05:05:12 mx dovecot[12]: imap-login: Login', service: 'other' },
  { given: 'a fatal message', input: 'Dec 06 05:05:12 mx postfix/master[1]: fatal: bind 0.0.0.0 port 25: Address already in use', service: 'master', level: 'fatal' },
  { given: 'a 1 MB line of a', input: 'a'.repeat(1 << 20), service: 'unknown', truncated: true },
  { given: 'a 1 MB delivery line', input: `Dec 06 05:05:12 mx postfix/smtp[1]: 798DD43E2F1: to=<${'x'.repeat(1 << 20)}>, relay=none`, service: 'smtp', truncated: true },
];

for (const { given, input, service, level = 'info', truncated = false } of HOSTILE) {
  test(`GIVEN ${given} WHEN parsed THEN it is unsupported (${service}, ${level})${truncated ? ' and marked truncated' : ''}`, () => {
    assert.deepEqual(parsePostfixLogLine(input), { service, level, truncated, kind: 'unsupported' });
  });
}

test('GIVEN a 1 MB line whose beginning is a real event WHEN parsed THEN the event is read from the first 64 KiB and marked truncated', () => {
  const line = `Dec 06 05:05:12 mx postfix/smtpd[1]: connect from unknown[127.110.0.7] ${'z'.repeat(1 << 20)}`;
  assert.deepEqual(parsePostfixLogLine(Buffer.from(line)), { ...smtpd, truncated: true, kind: 'smtpd-connect' });
});

test('GIVEN a line of exactly the limit WHEN parsed THEN it is not marked truncated', () => {
  const head = 'Dec 06 05:05:12 mx postfix/smtpd[1]: connect from unknown[127.110.0.7] ';
  const line = head + 'z'.repeat(POSTFIX_LOG_MAX_LINE_BYTES - head.length);
  assert.equal(parsePostfixLogLine(line).truncated, false);
  assert.equal(parsePostfixLogLine(`${line}z`).truncated, true);
});

test('GIVEN every prefix of every real line WHEN parsed THEN none throws and each is an event', () => {
  for (const { line } of REAL) {
    for (let end = 0; end <= line.length; end++) {
      const event = parsePostfixLogLine(line.slice(0, end));
      assert.equal(typeof event.kind, 'string');
    }
  }
});

test('GIVEN label-like fields with hostile text WHEN parsed THEN they are bounded to other', () => {
  const reject = parsePostfixLogLine('x postfix/smtpd[1]: NOQUEUE: reject: R$$T from a[b]: 999 9.9.9 nope');
  assert.deepEqual(reject, { ...smtpd, kind: 'smtpd-action', action: 'reject', stage: 'other', code: undefined, dsn: undefined, queueId: undefined });
  const tls = parsePostfixLogLine(`x postfix/smtpd[1]: Verified TLS connection established from a[b]: ${'T'.repeat(40)} with cipher c{i}p (1/1 bits)`);
  assert.deepEqual(tls, { ...smtpd, kind: 'smtpd-tls', trust: 'Verified', protocol: 'other', cipher: 'other' });
});
