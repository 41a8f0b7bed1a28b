/**
 * The exporter on a real Postfix 3.7: mail is sent through it (delivered over SMTP, LMTP and SMTP on TLS,
 * bounced, deferred, held, rejected at RCPT and MAIL), Postfix's own log lines (its maillog_file, followed
 * as the CLI follows it) go through the exporter as they are written, and the queue is read from the real
 * showq with messages held (`postsuper -h`) and deferred. Addresses from 127.110.1.0/24.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createPostfixExporter, followFile } from '../../../src/exporter/index.ts';
import { openSmtpSession, type Envelope } from '../../../src/protocol/index.ts';
import { series } from '../../exporter/series.ts';
import { until } from '../../support/poll.ts';
import { BASE_MAIN_CF, BASE_MASTER_CF, selfSignedChain, startPostfix, startSink } from './bare-postfix.ts';

const HOST = '127.110.1.1';
const OK_SINK = '127.110.1.2:2525';
const BAD_SINK = '127.110.1.3:2525';
const NOBODY = '127.110.1.4:2525';
const LMTP_SINK = '127.110.1.5:2424';
const WAIT_MS = 60_000;
const P = 'mailfleet_postfix_';

const MAIN_CF = `${BASE_MAIN_CF}mydomain = example.test
myorigin = example.test
relay_domains = ok.test bad.test defer.test lmtp.test tls.test
transport_maps = inline:{ ok.test=smtp:[${OK_SINK.replace(':', ']:')}, bad.test=smtp:[${BAD_SINK.replace(':', ']:')}, defer.test=smtp:[${NOBODY.replace(':', ']:')}, lmtp.test=lmtp:inet:[${LMTP_SINK.replace(':', ']:')}, tls.test=smtp:[${HOST}]:2526 }
smtpd_relay_restrictions = permit_mynetworks reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access inline:{ {reject@ok.test=REJECT go away} }
header_checks = regexp:@CONFIG@/header_checks
smtpd_tls_security_level = may
smtpd_tls_chain_files = @CONFIG@/chain.pem
smtpd_tls_loglevel = 1
smtp_tls_security_level = may
smtp_tls_loglevel = 1
smtp_dns_support_level = disabled
smtp_connect_timeout = 2s
notify_classes =
`;

const MASTER_CF = `
${HOST}:25 inet n - n - - smtpd
${HOST}:587 inet n - n - - smtpd -o syslog_name=postfix/submission -o smtpd_delay_reject=no -o smtpd_sender_restrictions=check_sender_access,inline:{bad@ok.test=REJECT}
${HOST}:2526 inet n - n - - smtpd -o syslog_name=postfix-mx/in -o smtpd_tls_security_level=encrypt -o smtpd_recipient_restrictions=check_recipient_access,inline:{tls.test=DISCARD}
tlsmgr unix - - n 1000? 1 tlsmgr
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
smtp unix - - n - - smtp
relay unix - - n - - smtp
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
lmtp unix - - n - - lmtp
scache unix - - n - 1 scache
${BASE_MASTER_CF}`;

function envelope(to: string, subject = 'census', from = 'a@ok.test'): Envelope {
  return { from, to: [to], data: `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\nbody\r\n` };
}

/** One SMTP session per message, as most clients do; STARTTLS when asked (the certificate is self-signed). */
async function send(port: number, message: Envelope, tls = false): Promise<number[]> {
  const session = await openSmtpSession({ host: HOST, port, heloName: 'client.test', timeoutMs: 20_000, ...(tls ? { tls: { mode: 'starttls', rejectUnauthorized: false } } : {}) });
  try {
    const result = await session.send(message);
    return [result.mail.code, ...result.rcpt.map((r) => r.code), ...(result.data ? [result.data.code] : [])];
  } finally {
    await session.quit();
  }
}

const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

test('a real Postfix through the exporter: log counters and the queue from showq', async (t) => {
  await startSink(t, OK_SINK);
  await startSink(t, BAD_SINK, ['-f', 'RCPT']);
  await startSink(t, LMTP_SINK, ['-L']);

  const postfix = await startPostfix(t, {
    mainCf: MAIN_CF,
    masterCf: MASTER_CF,
    files: { 'chain.pem': await selfSignedChain('mx.example.test'), header_checks: '/^Subject: hold me/ HOLD held by header\n' },
  });
  const registry = new Registry();
  const exporter = createPostfixExporter({ registry, showqPath: postfix.showqPath, queueCacheMs: 0 });
  let lines = 0;
  const following = new AbortController();
  const follower = followFile(postfix.logFile, (line) => {
    lines++;
    exporter.line(line);
  }, following.signal, { fromStart: true, pollMs: 20 });
  t.after(async () => {
    following.abort();
    await follower;
  });
  const metric = (name: string) => series(registry, `${P}${name}`);

  await t.test('GIVEN mail to every kind of destination WHEN Postfix logs it THEN the exporter counts each outcome', async () => {
    assert.deepEqual(await send(25, envelope('x@ok.test')), [250, 250, 250]);
    assert.deepEqual(await send(25, envelope('x@ok.test'), true), [250, 250, 250]);
    assert.deepEqual(await send(25, envelope('y@bad.test')), [250, 250, 250]);
    assert.deepEqual(await send(25, envelope('v@lmtp.test')), [250, 250, 250]);
    assert.deepEqual(await send(25, envelope('t@tls.test')), [250, 250, 250]);
    assert.deepEqual(await send(25, envelope('z1@defer.test')), [250, 250, 250]);
    assert.deepEqual(await send(25, envelope('z2@defer.test')), [250, 250, 250]);
    assert.deepEqual(await send(25, envelope('z3@defer.test')), [250, 250, 250]);
    assert.deepEqual(await send(25, envelope('x@ok.test', 'hold me')), [250, 250, 250]);
    assert.deepEqual(await send(25, envelope('reject@ok.test')), [250, 554]);
    assert.deepEqual(await send(587, envelope('x@ok.test', 'census', 'bad@ok.test')), [554]);

    // Sent: 2 to ok.test, the NDR of y@bad.test (to a@ok.test), tls.test; lmtp.test over LMTP.
    await until('every delivery in the log', async () => {
      const d = await metric('deliveries_total');
      const done = d['{transport="smtp",status="sent"}'] === 4 && d['{transport="lmtp",status="sent"}'] === 1
        && d['{transport="smtp",status="bounced"}'] === 1 && d['{transport="smtp",status="deferred"}'] === 3;
      return done ? true : undefined;
    }, WAIT_MS);
    // 11 client sessions and Postfix's own TLS session to its port 2526; each ends with a disconnect line.
    await until('every session closed', async () => ((await metric('smtpd_disconnects_total'))['{}'] === 12 ? true : undefined), WAIT_MS);

    assert.deepEqual(await metric('deliveries_total'), {
      '{transport="smtp",status="sent"}': 4,
      '{transport="smtp",status="bounced"}': 1,
      '{transport="smtp",status="deferred"}': 3,
      '{transport="lmtp",status="sent"}': 1,
    });
    assert.deepEqual(await metric('smtpd_connects_total'), { '{}': 12 });
    assert.deepEqual(await metric('smtpd_rejects_total'), { '{stage="RCPT",code="554"}': 1, '{stage="MAIL",code="554"}': 1 });
    assert.deepEqual(await metric('deferred_total'), { '{transport="smtp",dsn="4.4.1",relay="none"}': 3 });
    assert.deepEqual(await metric('bounced_total'), { '{transport="smtp",dsn="5.3.0",relay="127.110.1.3"}': 1 });
    assert.equal(sum(await metric('smtpd_tls_connections_total')), 2);
    assert.equal(sum(await metric('smtp_tls_connections_total')), 1);
    assert.deepEqual(await metric('bounce_notifications_total'), { '{}': 1 });
    // Messages smtpd accepted: 9 on port 25 and the relayed one on 2526 (then discarded there).
    assert.deepEqual(await metric('smtpd_messages_processed_total'), { '{sasl_method="none"}': 10 });
    const delay = await metric('delivery_delay_seconds');
    assert.deepEqual(
      Object.entries(delay).filter(([k]) => k.startsWith('_count')).map(([k, v]) => `${k} ${v}`).sort(),
      ['lmtp', 'smtp'].flatMap((tr) => ['before_qmgr', 'conn_setup', 'in_qmgr', 'transmission'].map((s) => `_count{transport="${tr}",stage="${s}"} ${tr === 'smtp' ? 5 : 1}`)).sort(),
    );
  });

  await t.test('GIVEN a deferred message force-expired WHEN the queue manager returns it THEN expiry and its notification count', async () => {
    const deferred = (await postfix.admin('postqueue', ['-j'])).trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.queue_name === 'deferred');
    assert.equal(deferred.length, 3);
    await postfix.admin('postsuper', ['-e', deferred[0].queue_id]);
    await postfix.admin('postqueue', ['-i', deferred[0].queue_id]);
    await until('the expiry in the log', async () => ((await metric('qmgr_messages_expired_total'))['{}'] === 1 ? true : undefined), WAIT_MS);
    await until('its notification', async () => ((await metric('bounce_notifications_total'))['{}'] === 2 ? true : undefined), WAIT_MS);
  });

  await t.test('GIVEN a deferred message put on hold (postsuper -h) WHEN the registry is scraped THEN showq gives the depth, bytes and age per queue', async () => {
    const deferred = (await postfix.admin('postqueue', ['-j'])).trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.queue_name === 'deferred');
    assert.equal(deferred.length, 2);
    await postfix.admin('postsuper', ['-h', deferred[0].queue_id]);
    const queued = (await postfix.admin('postqueue', ['-j'])).trim().split('\n').map((l) => JSON.parse(l));
    const hold = queued.filter((m) => m.queue_name === 'hold');
    const stillDeferred = queued.filter((m) => m.queue_name === 'deferred');
    assert.deepEqual([hold.length, stillDeferred.length, queued.length], [2, 1, 3]);

    assert.deepEqual(await metric('queue_messages'), {
      '{queue="maildrop"}': 0, '{queue="incoming"}': 0, '{queue="active"}': 0, '{queue="deferred"}': 1, '{queue="hold"}': 2,
    });
    assert.deepEqual(await metric('queue_size_bytes'), {
      '{queue="maildrop"}': 0, '{queue="incoming"}': 0, '{queue="active"}': 0,
      '{queue="deferred"}': stillDeferred.reduce((n, m) => n + m.message_size, 0),
      '{queue="hold"}': hold.reduce((n, m) => n + m.message_size, 0),
    });
    const oldest = (await metric('queue_oldest_message_age_seconds'))['{queue="hold"}'] ?? -1;
    const expected = Date.now() / 1000 - Math.min(...hold.map((m) => m.arrival_time));
    assert.ok(oldest >= 0 && Math.abs(oldest - expected) < 5, `oldest hold message is ${oldest} s old, postqueue says ${expected}`);
    assert.deepEqual(await metric('queue_scrape_errors_total'), { '{}': 0 });
  });

  await t.test('GIVEN everything Postfix wrote to its log file WHEN counted THEN every line is a line of the exporter', async () => {
    const written = () => readFileSync(postfix.logFile, 'latin1').split('\n').length - 1;
    await until('the follower to catch up', async () => (lines === written() ? true : undefined), WAIT_MS);
    assert.equal(sum(await metric('log_lines_total')), written());
    assert.ok(written() > 50, `${written()} lines`);
    // This Postfix writes nothing the codec does not know.
    assert.deepEqual(await metric('log_lines_unsupported_total'), {});
  });
});
