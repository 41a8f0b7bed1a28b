/**
 * postscreen on the mta, with real Postfix: a bot that talks before the greeting is refused and logged without
 * taking an smtpd process, a stock client (Python's smtplib) waits its turn and delivers; behind the balancer
 * postscreen reads the PROXY header and the client's own address reaches smtpd; a PROXY header from outside the
 * balancer range gets nothing; the health-check smtpd answers without postscreen; the agent's exporter counts
 * what postscreen logged.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openRawDialog, proxyV1 } from '../support/raw-dialog.ts';
import { DOMAIN, startPlatform } from '../support/platform.ts';
import { until } from '../support/poll.ts';

const POOL = '127.136.0.0/16';
/** The load balancer, and a host outside its range; both outside what the pool hands out first. */
const BALANCER = '127.136.200.1';
const STRANGER = '127.136.200.2';
/** Clients on the mta's own port, one address each (postscreen remembers an address that passed). */
const BOT = '127.137.0.1';
const GOOD = '127.137.0.2';
/** Client addresses as the balancer reports them. */
const PROXIED_GOOD = '198.51.100.7';
const PROXIED_BOT = '198.51.100.8';
const LB_PORTS = { smtp: 10025, submission: 10587, imap: 10143, pop3: 10110 };
const GREET_WAIT_SECONDS = 2;
const ACTIONS = 'mailfleet_postfix_postscreen_actions_total';
/** `spec.ports.smtpHealth`'s default, on the instance's own address. */
const SMTP_HEALTH_PORT = 10026;

/** Python's smtplib from `source`: one message to `to`, and how long the session took. */
function smtplibSend(host: string, port: number, source: string, to: string, id: string): { refused?: Record<string, unknown>; error?: string; seconds: number } {
  const script = [
    'import json, smtplib, sys, time',
    'a = json.loads(sys.argv[1]); t = time.monotonic()',
    'try:',
    '    s = smtplib.SMTP(a["host"], a["port"], local_hostname="client.test", timeout=30, source_address=(a["source"], 0))',
    '    msg = f"From: <sender@remote.test>\\r\\nTo: <{a[\'to\']}>\\r\\nSubject: postscreen\\r\\nMessage-ID: <{a[\'id\']}>\\r\\n\\r\\nbody\\r\\n"',
    '    refused = s.sendmail("sender@remote.test", [a["to"]], msg); s.quit(); out = {"refused": refused}',
    'except Exception as e:',
    '    out = {"error": repr(e)}',
    'out["seconds"] = time.monotonic() - t; print(json.dumps(out))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script, JSON.stringify({ host, port, source, to, id })], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { refused?: Record<string, unknown>; error?: string; seconds: number };
}

/** The lines of the mta's log that `pattern` matches. */
function logLines(stateDir: string, pattern: RegExp): string[] {
  return readFileSync(join(stateDir, 'logs', 'mta-0.log'), 'utf8').split('\n').filter((l) => pattern.test(l));
}

test('postscreen on the mta, on port 25 and behind the load balancer', { timeout: 300_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: 2,
    roles: { mailbox: 1, proxy: 1, mta: 1, msa: 0, kvs: 0 },
    extra: { loadBalancer: { sourceRanges: [`${BALANCER}/32`], ports: LB_PORTS }, mta: { postscreen: { greetWaitSeconds: GREET_WAIT_SECONDS } } },
  });
  const mta = await platform.instance('mta-0');
  const port25 = mta.ports.smtp as number;
  const log = (pattern: RegExp) => logLines(platform.stateDir, pattern);
  const inLog = (what: string, pattern: RegExp) => until(what, async () => (log(pattern).length > 0 ? true : undefined), 10_000);

  await t.test('GIVEN a client that talks before the greeting WHEN it tries to send mail THEN RCPT is refused with 550, postscreen logs PREGREET, and no smtpd ever serves it', async () => {
    const bot = await openRawDialog({ host: mta.address, port: port25, localAddress: BOT, preamble: 'EHLO bot.test\r\n' });
    try {
      const greeting = (await bot.greeting()) ?? '';
      assert.match(greeting, /^220[- ]/);
      // postscreen answers the early EHLO itself once the greet wait is over, then plays along until RCPT.
      const mail = await bot.command('MAIL FROM:<spam@bot.test>');
      assert.match(mail ?? '', /^250 /m);
      const rcpt = await bot.command(`RCPT TO:<user1@${DOMAIN}>`);
      assert.match(rcpt ?? '', /^550 5\.5\.1 /m, `RCPT from a pregreeting client: ${rcpt}`);
    } finally {
      bot.close();
    }
    await inLog('PREGREET from the bot', new RegExp(`postfix/postscreen\\[\\d+\\]: PREGREET \\d+ after [0-9.]+ from \\[${BOT}\\]`));
    await inLog('the refusal', new RegExp(`postfix/postscreen\\[\\d+\\]: NOQUEUE: reject: RCPT from \\[${BOT}\\]:\\d+: 550 5\\.5\\.1 Protocol error`));
    assert.deepEqual(log(new RegExp(`smtpd\\[\\d+\\]: connect from \\S*\\[${BOT}\\]`)), [], 'an smtpd process served the bot');
  });

  await t.test('GIVEN Python\'s smtplib on port 25 WHEN it sends twice THEN both are accepted: the first after the greet wait (PASS NEW), the second at once (PASS OLD), and smtpd logs the client\'s address', async () => {
    const first = smtplibSend(mta.address, port25, GOOD, `user1@${DOMAIN}`, 'ps-first@client.test');
    assert.equal(first.error, undefined);
    assert.deepEqual(first.refused, {});
    assert.ok(first.seconds >= GREET_WAIT_SECONDS - 0.1, `the first session took ${first.seconds} s: it did not wait for the greeting`);
    const second = smtplibSend(mta.address, port25, GOOD, `user1@${DOMAIN}`, 'ps-second@client.test');
    assert.equal(second.error, undefined);
    assert.deepEqual(second.refused, {});
    assert.ok(second.seconds < GREET_WAIT_SECONDS, `the second session took ${second.seconds} s: a client that passed waited again`);
    await inLog('PASS NEW', new RegExp(`postfix/postscreen\\[\\d+\\]: PASS NEW \\[${GOOD}\\]`));
    await inLog('PASS OLD', new RegExp(`postfix/postscreen\\[\\d+\\]: PASS OLD \\[${GOOD}\\]`));
    await inLog('smtpd taking the message', new RegExp(`postfix/smtpd\\[\\d+\\]: [0-9A-Za-z]+: client=\\S*\\[${GOOD}\\]`));
    await until('both messages delivered over LMTP', async () => (log(new RegExp(`to=<user1@${DOMAIN.replaceAll('.', '\\.')}>.*status=sent`)).length >= 2 ? true : undefined), 30_000);
  });

  await t.test('GIVEN the load balancer WHEN it forwards a client THEN postscreen sees the client\'s address, and so does smtpd, which accepts its mail', async () => {
    const dialog = await openRawDialog({ host: mta.address, port: LB_PORTS.smtp, localAddress: BALANCER, preamble: proxyV1(PROXIED_GOOD, mta.address, 40003, LB_PORTS.smtp) });
    try {
      assert.match((await dialog.greeting()) ?? '', /^220 /m);
      assert.match((await dialog.command('EHLO client.test')) ?? '', /^250 /m);
      assert.match((await dialog.command('MAIL FROM:<sender@remote.test>')) ?? '', /^250 /);
      assert.match((await dialog.command(`RCPT TO:<user2@${DOMAIN}>`)) ?? '', /^250 /);
      await dialog.command('QUIT');
    } finally {
      dialog.close();
    }
    await inLog('postscreen on the balancer service', new RegExp(`postfix/smtp-lb/postscreen\\[\\d+\\]: CONNECT from \\[${PROXIED_GOOD}\\]:40003`));
    await inLog('PASS NEW of the proxied client', new RegExp(`postfix/smtp-lb/postscreen\\[\\d+\\]: PASS NEW \\[${PROXIED_GOOD}\\]:40003`));
    await inLog('smtpd with the proxied address', new RegExp(`postfix/smtp-lb/smtpd\\[\\d+\\]: connect from \\S*\\[${PROXIED_GOOD}\\]`));
    assert.deepEqual(log(new RegExp(`\\[${BALANCER}\\]`)), [], 'the balancer\'s own address reached a Postfix log');
  });

  await t.test('GIVEN the load balancer WHEN it forwards a client that talks before the greeting THEN postscreen logs PREGREET under the client\'s address and refuses it', async () => {
    const dialog = await openRawDialog({ host: mta.address, port: LB_PORTS.smtp, localAddress: BALANCER, preamble: `${proxyV1(PROXIED_BOT, mta.address, 40004, LB_PORTS.smtp)}EHLO bot.test\r\n` });
    try {
      await dialog.greeting();
      await dialog.command('MAIL FROM:<spam@bot.test>');
      assert.match((await dialog.command(`RCPT TO:<user2@${DOMAIN}>`)) ?? '', /^550 5\.5\.1 /m);
    } finally {
      dialog.close();
    }
    await inLog('PREGREET of the proxied bot', new RegExp(`postfix/smtp-lb/postscreen\\[\\d+\\]: PREGREET \\d+ after [0-9.]+ from \\[${PROXIED_BOT}\\]:40004`));
  });

  await t.test('GIVEN a peer outside the balancer range WHEN it sends a PROXY header to the balancer port THEN it is closed without a greeting and postscreen never sees it', async () => {
    const dialog = await openRawDialog({ host: mta.address, port: LB_PORTS.smtp, localAddress: STRANGER, preamble: proxyV1('198.51.100.9', mta.address, 40005, LB_PORTS.smtp) });
    try {
      assert.equal(await dialog.greeting(), undefined);
    } finally {
      dialog.close();
    }
    assert.deepEqual(log(/postfix\/.*(198\.51\.100\.9|127\.136\.200\.2)/), [], 'Postfix saw the stranger');
    await inLog('the agent\'s refusal', /"peer":"127\.136\.200\.2".*"msg":"PROXY protocol from a peer outside the load balancer ranges refused"/);
  });

  await t.test('GIVEN the health-check smtpd WHEN asked THEN it greets at once with a one-line 220, without postscreen, and the agent is ready', async () => {
    const health = await openRawDialog({ host: mta.address, port: SMTP_HEALTH_PORT, localAddress: '127.137.0.3' });
    try {
      const started = Date.now();
      const greeting = (await health.greeting()) ?? '';
      assert.match(greeting, /^220 /, `the health check's greeting: ${greeting}`);
      assert.ok(Date.now() - started < GREET_WAIT_SECONDS * 1000, 'the health check waited like a new client of postscreen');
    } finally {
      health.close();
    }
    assert.deepEqual(log(/postscreen\[\d+\]: CONNECT from \[127\.137\.0\.3\]/), []);
    assert.equal((await fetch(`http://${mta.address}:${mta.ports.http}/readyz`)).status, 200);
  });

  await t.test('GIVEN what postscreen logged WHEN the mta\'s agent is scraped THEN its exporter counted the actions and refusals, none as unsupported', async () => {
    /** The sum of the samples of `name` whose labels include every one of `labels` (the agent adds its own). */
    const value = (text: string, name: string, ...labels: string[]): number => text.split('\n')
      .filter((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const text = await until('postscreen counts on /metrics', async () => {
      const body = await (await fetch(`http://${mta.address}:${mta.ports.http}/metrics`)).text();
      return value(body, ACTIONS, 'action="pregreet"') >= 2 ? body : undefined;
    }, 15_000);
    assert.ok(value(text, ACTIONS, 'action="connect"') >= 5);
    assert.ok(value(text, ACTIONS, 'action="pass_new"') >= 2);
    assert.ok(value(text, ACTIONS, 'action="pass_old"') >= 1);
    assert.ok(value(text, 'mailfleet_postfix_postscreen_rejects_total', 'reason="protocol"', 'code="550"') >= 2);
    assert.equal(value(text, 'mailfleet_postfix_log_lines_unsupported_total', 'service="postscreen"'), 0);
  });
});
