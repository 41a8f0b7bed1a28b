/** The Postfix exporter's log metrics: exact series and values after real Postfix 3.7 lines. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createPostfixExporter, type PostfixExporterOptions } from '../../src/exporter/index.ts';
import { noise } from '../protocol/chunks.ts';
import { series } from './series.ts';

function exporter(options: Partial<PostfixExporterOptions> = {}) {
  const registry = new Registry();
  return { registry, exporter: createPostfixExporter({ registry, ...options }) };
}

const P = 'mailfleet_postfix_';

/** One message through Postfix: received by smtpd, queued, delivered over SMTP, removed. */
const SESSION = [
  'Dec 06 05:05:12 mx postfix/smtpd[11206]: connect from unknown[127.110.0.7]',
  'Dec 06 05:05:12 mx postfix/smtpd[11206]: 798DD43E2F1: client=unknown[127.110.0.7]',
  'Dec 06 05:05:12 mx postfix/cleanup[11210]: 798DD43E2F1: message-id=<20261206050512.011205@vm>',
  'Dec 06 05:05:12 mx postfix/smtpd[11206]: disconnect from unknown[127.110.0.7] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5',
  'Dec 06 05:05:12 mx postfix/qmgr[11130]: 798DD43E2F1: from=<a@client.test>, size=416, nrcpt=1 (queue active)',
  'Dec 06 05:05:12 mx postfix/smtp[11213]: 798DD43E2F1: to=<x@ok.test>, relay=127.110.0.2[127.110.0.2]:2525, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)',
  'Dec 06 05:05:12 mx postfix/qmgr[11130]: 798DD43E2F1: removed',
];

test('GIVEN the lines of one delivered message WHEN fed THEN every line and event is counted once', async () => {
  const { registry, exporter: e } = exporter();
  for (const line of SESSION) e.line(line);
  assert.deepEqual(await series(registry, `${P}log_lines_total`), { '{service="smtpd"}': 3, '{service="cleanup"}': 1, '{service="qmgr"}': 2, '{service="smtp"}': 1 });
  assert.deepEqual(await series(registry, `${P}smtpd_connects_total`), { '{}': 1 });
  assert.deepEqual(await series(registry, `${P}smtpd_disconnects_total`), { '{}': 1 });
  assert.deepEqual(await series(registry, `${P}smtpd_messages_processed_total`), { '{sasl_method="none"}': 1 });
  assert.deepEqual(await series(registry, `${P}cleanup_messages_processed_total`), { '{}': 1 });
  assert.deepEqual(await series(registry, `${P}qmgr_messages_inserted_total`), { '{}': 1 });
  assert.deepEqual(await series(registry, `${P}qmgr_messages_removed_total`), { '{}': 1 });
  assert.deepEqual(await series(registry, `${P}deliveries_total`), { '{transport="smtp",status="sent"}': 1 });
  assert.deepEqual(await series(registry, `${P}log_lines_unsupported_total`), {});
});

test('GIVEN qmgr from= lines WHEN fed THEN the recipients and size histograms observe them', async () => {
  const { registry, exporter: e } = exporter();
  e.line('Dec 06 05:06:04 mx postfix/qmgr[11823]: 05D2943E3C2: from=<root@example.test>, size=271, nrcpt=3 (queue active)');
  e.line('Dec 06 05:05:12 mx postfix/qmgr[11130]: 8AAE843E1C3: from=<>, size=2254, nrcpt=1 (queue active)');
  const recipients = await series(registry, `${P}qmgr_inserted_recipients`);
  assert.deepEqual([recipients['_bucket{le="1"}'], recipients['_bucket{le="4"}'], recipients['_sum{}'], recipients['_count{}']], [1, 2, 4, 2]);
  const size = await series(registry, `${P}qmgr_inserted_size_bytes`);
  assert.deepEqual([size['_bucket{le="1000"}'], size['_bucket{le="10000"}'], size['_sum{}']], [1, 2, 2525]);
});

test('GIVEN a delivery with delays=a/b/c/d WHEN fed THEN the four stages are four distinct series with their own values', async () => {
  const { registry, exporter: e } = exporter();
  e.line('Dec 06 05:05:12 mx postfix/lmtp[1]: B1F5943E3DE: to=<v@lmtp.test>, relay=127.110.0.5[127.110.0.5]:2424, delay=3.5, delays=0.004/0.02/0.5/3, dsn=2.2.0, status=sent (250 2.2.0 Ok)');
  const delay = await series(registry, `${P}delivery_delay_seconds`);
  const sums = Object.fromEntries(Object.entries(delay).filter(([k]) => k.startsWith('_sum')));
  assert.deepEqual(sums, {
    '_sum{transport="lmtp",stage="before_qmgr"}': 0.004,
    '_sum{transport="lmtp",stage="in_qmgr"}': 0.02,
    '_sum{transport="lmtp",stage="conn_setup"}': 0.5,
    '_sum{transport="lmtp",stage="transmission"}': 3,
  });
  assert.deepEqual(
    ['before_qmgr', 'in_qmgr', 'conn_setup', 'transmission'].map((stage) => delay[`_bucket{le="0.01",transport="lmtp",stage="${stage}"}`]),
    [1, 0, 0, 0],
  );
  assert.deepEqual(
    ['before_qmgr', 'in_qmgr', 'conn_setup', 'transmission'].map((stage) => delay[`_bucket{le="1",transport="lmtp",stage="${stage}"}`]),
    [1, 1, 1, 0],
  );
});

test('GIVEN deferred and bounced deliveries WHEN fed THEN they count by transport, DSN and relay host, and deferred delays are not observed', async () => {
  const { registry, exporter: e } = exporter();
  e.line('Dec 06 05:10:46 mx postfix/smtp[17277]: A68E043E3D9: to=<w@soft.test>, relay=127.110.0.6[127.110.0.6]:2525, delay=333, delays=333/0.02/0/0.01, dsn=4.3.0, status=deferred (host 127.110.0.6[127.110.0.6] said: 450 4.3.0 Error: command failed (in reply to RCPT TO command))');
  e.line('Dec 06 05:05:12 mx postfix/smtp[11213]: 974F643E1C3: to=<z@defer.test>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to 127.110.0.4[127.110.0.4]:2525: Connection refused)');
  e.line('Dec 06 05:05:12 mx postfix/smtp[11213]: 974F643E1C3: to=<z@defer.test>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to 127.110.0.4[127.110.0.4]:2525: Connection refused)');
  e.line('Dec 06 05:05:12 mx postfix/smtp[11213]: 889F443E2F1: to=<y@bad.test>, relay=127.110.0.3[127.110.0.3]:2525, delay=0.01, delays=0/0/0/0.01, dsn=5.3.0, status=bounced (host 127.110.0.3[127.110.0.3] said: 500 5.3.0 Error: command failed (in reply to RCPT TO command))');
  e.line('Dec 06 05:11:50 mx postfix/error[19576]: 9CD2A43E242: to=<u@err.test>, relay=none, delay=0.02, delays=0/0.01/0/0.01, dsn=5.1.1, status=bounced (no such domain)');
  assert.deepEqual(await series(registry, `${P}deferred_total`), {
    '{transport="smtp",dsn="4.3.0",relay="127.110.0.6"}': 1,
    '{transport="smtp",dsn="4.4.1",relay="none"}': 2,
  });
  assert.deepEqual(await series(registry, `${P}bounced_total`), {
    '{transport="smtp",dsn="5.3.0",relay="127.110.0.3"}': 1,
    '{transport="error",dsn="5.1.1",relay="none"}': 1,
  });
  assert.deepEqual(await series(registry, `${P}deliveries_total`), {
    '{transport="smtp",status="deferred"}': 3,
    '{transport="smtp",status="bounced"}': 1,
    '{transport="error",status="bounced"}': 1,
  });
  const delay = await series(registry, `${P}delivery_delay_seconds`);
  assert.deepEqual(
    Object.entries(delay).filter(([k]) => k.startsWith('_count')).map(([k, v]) => `${k} ${v}`),
    ['smtp', 'error'].flatMap((t) => ['before_qmgr', 'in_qmgr', 'conn_setup', 'transmission'].map((s) => `_count{transport="${t}",stage="${s}"} 1`)),
  );
});

test('GIVEN rejects at every SMTP stage WHEN fed THEN each counts under its stage and reply code; discard does not', async () => {
  const { registry, exporter: e } = exporter();
  const lines = [
    'x postfix/submission/smtpd[11009]: NOQUEUE: reject: CONNECT from unknown[127.110.0.9]: 554 5.7.1 <unknown[127.110.0.9]>: Client host rejected: Access denied; proto=SMTP',
    'x postfix/submission/smtpd[11009]: NOQUEUE: reject: HELO from localhost[127.0.0.1]: 554 5.7.1 <bad.helo>: Helo command rejected: Access denied; proto=SMTP helo=<bad.helo>',
    'x postfix/submission/smtpd[11009]: NOQUEUE: reject: MAIL from localhost[127.0.0.1]: 554 5.7.1 <bad@client.test>: Sender address rejected: Access denied; from=<bad@client.test> proto=ESMTP helo=<client.test>',
    'x postfix/smtpd[11206]: NOQUEUE: reject: RCPT from unknown[127.110.0.7]: 554 5.7.1 <reject@ok.test>: Recipient address rejected: go away; from=<a@client.test> to=<reject@ok.test> proto=ESMTP helo=<client.test>',
    'x postfix/smtpd[10991]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 451 4.3.5 <x@ok.test>: Recipient address rejected: Server configuration error; from=<a@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>',
    'x postfix/smtpd[11206]: 1DBC143E3E4: reject: DATA from unknown[127.110.0.7]: 554 5.7.1 <data@client.test>: Sender address rejected: no data for you; from=<data@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>',
    'x postfix/smtpd[11206]: 2958D43E3E4: reject: END-OF-MESSAGE from unknown[127.110.0.7]: 554 5.7.1 <eom@client.test>: Sender address rejected: too late; from=<eom@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>',
    'x postfix/smtpd[1]: NOQUEUE: milter-reject: RCPT from unknown[127.110.0.7]: 451 4.7.1 Service unavailable - try again later; from=<a@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>',
    'x postfix-mx/in/smtpd[11240]: NOQUEUE: discard: RCPT from localhost[127.0.0.1]: <t@tls.test>: Recipient address triggers DISCARD action; from=<a@client.test> to=<t@tls.test> proto=ESMTP helo=<mx.example.test>',
  ];
  for (const line of lines) e.line(line);
  assert.deepEqual(await series(registry, `${P}smtpd_rejects_total`), {
    '{stage="CONNECT",code="554"}': 1,
    '{stage="HELO",code="554"}': 1,
    '{stage="MAIL",code="554"}': 1,
    '{stage="RCPT",code="554"}': 1,
    '{stage="RCPT",code="451"}': 2,
    '{stage="DATA",code="554"}': 1,
    '{stage="END-OF-MESSAGE",code="554"}': 1,
  });
});

test('GIVEN SASL, TLS, reverse DNS, lost-connection and timeout lines WHEN fed THEN their counters hold them', async () => {
  const { registry, exporter: e } = exporter();
  e.line('x postfix/submission/smtpd[11973]: warning: unknown[127.110.0.7]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=user@client.test');
  e.line('x postfix/submission/smtpd[11973]: warning: unknown[127.110.0.7]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=user@client.test');
  e.line('x postfix/submission/smtpd[11973]: 8835943E466: client=unknown[127.110.0.7], sasl_method=PLAIN, sasl_username=user@client.test');
  e.line('x postfix/submission/smtpd[11973]: Anonymous TLS connection established from unknown[127.110.0.7]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256');
  e.line('x postfix/smtp[11213]: Untrusted TLS connection established to 127.110.0.1[127.110.0.1]:2526: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256');
  e.line('x postfix/smtpd[3052]: warning: hostname liar.example.test does not resolve to address 127.110.0.7');
  e.line('x postfix/smtpd[12440]: lost connection after EHLO from unknown[127.110.0.7]');
  e.line('x postfix/smtpd[12440]: lost connection after CONNECT from unknown[127.110.0.7]');
  e.line('x postfix/smtp[3459]: connect to 127.110.0.11[127.110.0.11]:2525: Connection timed out');
  e.line('x postfix/smtp[11213]: connect to 127.110.0.4[127.110.0.4]:2525: Connection refused');
  assert.deepEqual(await series(registry, `${P}smtpd_sasl_authentication_failures_total`), { '{}': 2 });
  assert.deepEqual(await series(registry, `${P}smtpd_messages_processed_total`), { '{sasl_method="PLAIN"}': 1 });
  assert.deepEqual(await series(registry, `${P}smtpd_tls_connections_total`), { '{protocol="TLSv1.3",cipher="TLS_AES_256_GCM_SHA384"}': 1 });
  assert.deepEqual(await series(registry, `${P}smtp_tls_connections_total`), { '{trust="Untrusted",protocol="TLSv1.3",cipher="TLS_AES_256_GCM_SHA384"}': 1 });
  assert.deepEqual(await series(registry, `${P}smtpd_forward_confirmed_reverse_dns_errors_total`), { '{}': 1 });
  assert.deepEqual(await series(registry, `${P}smtpd_connections_lost_total`), { '{after_stage="EHLO"}': 1, '{after_stage="CONNECT"}': 1 });
  assert.deepEqual(await series(registry, `${P}smtp_connection_timeouts_total`), { '{}': 1 });
});

test('GIVEN cleanup, qmgr expiry and bounce lines WHEN fed THEN their counters hold them', async () => {
  const { registry, exporter: e } = exporter();
  e.line('x postfix/cleanup[12155]: A9BD443E467: milter-reject: END-OF-MESSAGE from unknown[127.110.0.7]: 5.7.1 milter says no; from=<a@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>');
  e.line('x postfix/cleanup[11210]: 0876943E3E3: reject: header Subject: forbidden thing from unknown[127.110.0.7]; from=<a@client.test> to=<x@ok.test> proto=ESMTP helo=<client.test>: 5.7.1 forbidden subject');
  e.line('x postfix/cleanup[1]: warning: 1A2B3C4D5E: unreasonable virtual_alias_maps map expansion size for x@y.test -- message not accepted, try again later');
  e.line('x postfix/qmgr[11823]: 974F643E1C3: from=<a@client.test>, status=force-expired, returned to sender');
  e.line('x postfix/bounce[11214]: 889F443E2F1: sender non-delivery notification: 8AAE843E1C3');
  e.line('x postfix/bounce[1]: 889F443E2F1: sender delay notification: 8AAE843E1C3');
  assert.deepEqual(await series(registry, `${P}cleanup_messages_rejected_total`), { '{}': 2 });
  // The clients were refused at the end of DATA: rejects of that stage, by the DSN's class (cleanup logs no reply code).
  assert.deepEqual(await series(registry, `${P}smtpd_rejects_total`), { '{stage="END-OF-MESSAGE",code="5xx"}': 2 });
  assert.deepEqual(await series(registry, `${P}cleanup_messages_not_accepted_total`), { '{}': 1 });
  assert.deepEqual(await series(registry, `${P}qmgr_messages_expired_total`), { '{}': 1 });
  assert.deepEqual(await series(registry, `${P}bounce_notifications_total`), { '{}': 1 });
});

test('GIVEN lines the codec does not understand WHEN fed THEN each counts once as unsupported by service and level, and as a line', async () => {
  const { registry, exporter: e } = exporter();
  e.line('x postfix/smtpd[10991]: warning: dict_nis_init: NIS domain name not set - NIS lookups disabled');
  e.line('x postfix/smtpd[10991]: error: open database /etc/aliases.db: No such file or directory');
  e.line('x postfix/submission/smtpd[1]: something new');
  e.line('x postfix/master[1]: fatal: bind 0.0.0.0 port 25: Address already in use');
  e.line('x dovecot[12]: imap-login: Login');
  for (let seed = 1; seed <= 20; seed++) e.line(noise(300, seed));
  e.line('');
  assert.deepEqual(await series(registry, `${P}log_lines_unsupported_total`), {
    '{service="smtpd",level="warning"}': 1,
    '{service="smtpd",level="error"}': 1,
    '{service="smtpd",level="info"}': 1,
    '{service="master",level="fatal"}': 1,
    '{service="other",level="info"}': 1,
    '{service="unknown",level="info"}': 21,
  });
  assert.deepEqual(await series(registry, `${P}log_lines_total`), { '{service="smtpd"}': 3, '{service="master"}': 1, '{service="other"}': 1, '{service="unknown"}': 21 });
});

test('GIVEN a line over 64 KiB WHEN fed THEN it counts as a line and as truncated, and its event still counts', async () => {
  const { registry, exporter: e } = exporter();
  e.line(`x postfix/smtpd[1]: connect from unknown[127.110.0.7] ${'z'.repeat(1 << 20)}`);
  assert.deepEqual(await series(registry, `${P}log_lines_truncated_total`), { '{service="smtpd"}': 1 });
  assert.deepEqual(await series(registry, `${P}smtpd_connects_total`), { '{}': 1 });
});

test('GIVEN more relays than the cap WHEN fed THEN the newcomers count as other, and a relay that is not a host name too', async () => {
  const { registry, exporter: e } = exporter({ maxRelays: 2 });
  for (const relay of ['a.example', 'b.example', 'c.example', 'a.example', 'evil"name']) {
    e.line(`x postfix/smtp[1]: 798DD43E2F1: to=<x@ok.test>, relay=${relay}[192.0.2.1]:25, delay=1, delays=1/0/0/0, dsn=4.4.2, status=deferred (lost connection)`);
  }
  assert.deepEqual(await series(registry, `${P}deferred_total`), {
    '{transport="smtp",dsn="4.4.2",relay="a.example"}': 2,
    '{transport="smtp",dsn="4.4.2",relay="b.example"}': 1,
    '{transport="smtp",dsn="4.4.2",relay="other"}': 2,
  });
});

test('GIVEN more DSN values than the cap WHEN fed THEN the newcomers count as other', async () => {
  const { registry, exporter: e } = exporter({ maxLabelValues: 1 });
  for (const dsn of ['4.4.1', '4.7.0', '4.4.1']) {
    e.line(`x postfix/smtp[1]: 798DD43E2F1: to=<x@ok.test>, relay=none, delay=1, delays=1/0/0/0, dsn=${dsn}, status=deferred (x)`);
  }
  assert.deepEqual(await series(registry, `${P}deferred_total`), { '{transport="smtp",dsn="4.4.1",relay="none"}': 2, '{transport="smtp",dsn="other",relay="none"}': 1 });
});

test('GIVEN a metric operation that throws WHEN a line hits it THEN the line counts as unsupported and later lines still count', async () => {
  const { registry, exporter: e } = exporter();
  e.metrics.qmgrSize.observe = () => {
    throw new Error('broken metric');
  };
  e.line(SESSION[4] as string);
  e.line(SESSION[6] as string);
  assert.deepEqual(await series(registry, `${P}log_lines_unsupported_total`), { '{service="qmgr",level="info"}': 1 });
  assert.deepEqual(await series(registry, `${P}log_lines_total`), { '{service="qmgr"}': 2 });
  assert.deepEqual(await series(registry, `${P}qmgr_messages_removed_total`), { '{}': 1 });
});

test('GIVEN counts between scrapes WHEN scraped twice THEN each scrape shows the totals so far, none counted twice', async () => {
  const { registry, exporter: e } = exporter();
  e.line(SESSION[0] as string);
  assert.deepEqual(await series(registry, `${P}smtpd_connects_total`), { '{}': 1 });
  assert.deepEqual(await series(registry, `${P}smtpd_connects_total`), { '{}': 1 });
  e.line(SESSION[0] as string);
  e.line(SESSION[0] as string);
  assert.match(await registry.metrics(), /\nmailfleet_postfix_smtpd_connects_total 3\n/);
  assert.deepEqual(await series(registry, `${P}log_lines_total`), { '{service="smtpd"}': 3 });
});

test('GIVEN no showq path WHEN the registry is scraped THEN the queue metrics have no series and the scrape succeeds', async () => {
  const { registry } = exporter();
  const text = await registry.metrics();
  assert.match(text, /# TYPE mailfleet_postfix_queue_messages gauge\n/);
  assert.doesNotMatch(text, /mailfleet_postfix_queue_messages\{/);
  assert.deepEqual(await series(registry, `${P}queue_scrape_errors_total`), { '{}': 0 });
});

test('GIVEN every metric of the contract WHEN the exporter is created THEN each is registered', async () => {
  const { registry } = exporter();
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
  const contract = [
    'log_lines_total', 'log_lines_unsupported_total', 'smtpd_connects_total', 'smtpd_disconnects_total', 'smtpd_connections_lost_total',
    'smtpd_messages_processed_total', 'smtpd_rejects_total', 'smtpd_sasl_authentication_failures_total', 'smtpd_tls_connections_total',
    'smtpd_forward_confirmed_reverse_dns_errors_total', 'deliveries_total', 'delivery_delay_seconds', 'deferred_total', 'bounced_total',
    'smtp_tls_connections_total', 'smtp_connection_timeouts_total', 'qmgr_messages_inserted_total', 'qmgr_inserted_recipients',
    'qmgr_inserted_size_bytes', 'qmgr_messages_removed_total', 'qmgr_messages_expired_total', 'cleanup_messages_processed_total',
    'cleanup_messages_rejected_total', 'cleanup_messages_not_accepted_total', 'bounce_notifications_total', 'queue_messages',
    'queue_size_bytes', 'queue_oldest_message_age_seconds', 'queue_message_age_seconds', 'queue_message_size_bytes', 'queue_scrape_errors_total',
  ].map((n) => `${P}${n}`);
  for (const name of contract) assert.ok(names.includes(name), `${name} is registered`);
});

test('GIVEN milter failures as Postfix 3.7 logs them WHEN fed THEN each failure counts once by stage and reason, follow-ups not at all', async () => {
  const { registry, exporter: e } = exporter();
  e.line('Dec 06 09:43:58 mx postfix/smtpd[16429]: warning: connect to Milter service inet:127.126.1.2:11332: Connection refused');
  e.line('Dec 06 09:43:59 mx postfix/smtpd[16430]: warning: connect to Milter service inet:127.126.1.2:11332: Connection refused');
  e.line("Dec 06 09:44:00 mx postfix/smtpd[16434]: warning: milter inet:127.126.1.3:11332: can't read SMFIC_OPTNEG reply packet header: Connection timed out");
  e.line('Dec 06 09:44:00 mx postfix/smtpd[16434]: warning: milter inet:127.126.1.3:11332: read error in initial handshake');
  e.line('Dec 06 09:44:00 mx postfix/smtpd[16506]: warning: milter inet:127.126.1.4:11332: unexpected reply "Z" in initial handshake');
  e.line("Dec 06 09:44:01 mx postfix/smtpd[1]: warning: milter inet:127.126.1.3:11332: can't read SMFIC_BODYEOB reply packet header: Success");
  e.line('Dec 06 09:44:01 mx postfix/smtpd[1]: warning: milter8_event: attempt to send event SMFIC_QUIT to milter inet:127.126.1.3:11332 after error');
  assert.deepEqual(await series(registry, `${P}milter_failures_total`), {
    '{stage="connect",reason="refused"}': 2,
    '{stage="connect",reason="timeout"}': 1,
    '{stage="connect",reason="protocol"}': 1,
    '{stage="content",reason="closed"}': 1,
  });
  assert.deepEqual(await series(registry, `${P}log_lines_unsupported_total`), {});
});

test('GIVEN a new exporter WHEN scraped THEN every postscreen action has a series at 0 (a rate over it reads 0 before the first event)', async () => {
  const { registry } = exporter();
  const zeros = await series(registry, `${P}postscreen_actions_total`);
  assert.equal(Object.keys(zeros).length, 16);
  assert.equal(zeros['{action="pregreet"}'], 0);
  assert.ok(Object.values(zeros).every((v) => v === 0));
});

test('GIVEN postscreen and dnsblog lines as Postfix 3.7 logs them WHEN fed THEN actions, refusals, ranks and listings count, none as unsupported', async () => {
  const { registry, exporter: e } = exporter();
  const ps = 'Dec 07 05:35:04 mx postfix/postscreen[14354]: ';
  for (const line of [
    'CONNECT from [127.145.0.24]:34555 to [127.145.0.1]:25',
    'PREGREET 12 after 0 from [127.145.0.24]:34555: HELO early\\r\\n',
    'NOQUEUE: reject: RCPT from [127.145.0.24]:34555: 550 5.5.1 Protocol error; from=<a@b.test>, to=<x@y.test>, proto=SMTP, helo=<early>',
    'DISCONNECT [127.145.0.24]:34555',
    'CONNECT from [192.0.2.5]:41234 to [127.145.0.1]:25',
    'DNSBL rank 3 for [192.0.2.5]:41234',
    'NOQUEUE: reject: RCPT from [192.0.2.5]:41234: 550 5.7.1 Service unavailable; client [192.0.2.5] blocked using zen.example.net; from=<a@b.test>, to=<u@example.com>, proto=ESMTP, helo=<bot>',
    'CONNECT from [127.145.0.2]:36177 to [127.145.0.1]:25',
    'PASS NEW [127.145.0.2]:36177',
    'NOQUEUE: reject: CONNECT from [127.145.0.25]:60227: too many connections',
  ]) e.line(ps + line);
  e.line('Dec 07 05:35:04 mx postfix/smtp-lb/postscreen[9]: PASS OLD [198.51.100.7]:40000');
  e.line('Dec 07 05:35:04 mx postfix/dnsblog[31]: addr 192.0.2.5 listed by domain zen.example.net as 127.0.0.4');

  const actions = await series(registry, `${P}postscreen_actions_total`);
  assert.deepEqual(
    Object.fromEntries(Object.entries(actions).filter(([, v]) => v !== 0)),
    { '{action="connect"}': 3, '{action="pregreet"}': 1, '{action="disconnect"}': 1, '{action="pass_new"}': 1, '{action="pass_old"}': 1 },
  );
  assert.deepEqual(await series(registry, `${P}postscreen_rejects_total`), {
    '{reason="protocol",code="550"}': 1,
    '{reason="dnsbl",code="550"}': 1,
    '{reason="connection_limit",code="none"}': 1,
  });
  const rank = await series(registry, `${P}postscreen_dnsbl_rank`);
  assert.equal(rank['_count{}'], 1);
  assert.equal(rank['_sum{}'], 3);
  assert.deepEqual(await series(registry, `${P}dnsbl_listings_total`), { '{domain="zen.example.net"}': 1 });
  assert.deepEqual(await series(registry, `${P}log_lines_unsupported_total`), {});
});
