import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { openImapSession, openPop3Session, openSmtpSession } from '../../src/protocol/index.ts';
import { eachLimited, imapFlowTls, imapMessageIds, message, messageIdOf, pop3MessageIds, sendAll, waitQueueEmpty } from '../support/mail.ts';
import { DOMAIN, doveadm, startPlatform } from '../support/platform.ts';

const POOL = '127.81.0.0/16';
const ACCOUNTS = 100;
/** A third each through the mta on 25 (STARTTLS), the msa on 587 (STARTTLS, AUTH) and on 465 (implicit TLS, AUTH). */
const MESSAGES = 300;
const PASSWORD = 'census-password';

/**
 * An SMTP dialog of raw writes: each write after the replies to the one before (a greeting first). Resolves with
 * every reply's last line, in order. For what a client library will not send (bare line feeds in DATA).
 */
async function rawSmtp(host: string, port: number, writes: string[]): Promise<string[]> {
  const socket = connect({ host, port });
  socket.setTimeout(30_000, () => socket.destroy(new Error('SMTP dialog timed out')));
  const replies: string[] = [];
  let buffered = '';
  let waiting: { count: number; done: () => void } | undefined;
  const closed = new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    let lf: number;
    while ((lf = buffered.indexOf('\r\n')) !== -1) {
      const line = buffered.slice(0, lf);
      buffered = buffered.slice(lf + 2);
      if (line[3] === '-') continue;
      replies.push(line);
      if (waiting && replies.length >= waiting.count) waiting.done();
    }
  });
  const until = (count: number) => new Promise<void>((resolve) => (replies.length >= count ? resolve() : (waiting = { count, done: resolve })));
  // Replies expected after each write: its commands (lines not inside DATA), a 354 counts for its DATA.
  let expected = 1;
  await until(expected);
  for (const write of writes) {
    const inData = /^354/.test(replies[replies.length - 1] ?? '');
    expected += inData ? 1 : write.split('\r\n').length - 1;
    socket.write(write);
    await Promise.race([until(expected), closed]);
  }
  socket.end();
  await closed;
  return replies;
}

test('the mail path on one host, with real daemons', { timeout: 600_000 }, async (t) => {
  // The policy server with the default rules; the census's one submitting account is exempt from its hourly limit.
  const policyExempt = `user1@${DOMAIN}`;
  const platform = await startPlatform(t, {
    addressPool: POOL, accounts: ACCOUNTS, password: PASSWORD, roles: { mailbox: 3, proxy: 1, mta: 1, msa: 1 }, policy: { exempt: { accounts: [policyExempt] } },
  });
  const mta = (await platform.instance('mta-0'));
  const msa = (await platform.instance('msa-0'));
  const proxy = (await platform.instance('proxy-0'));
  const users = Array.from({ length: ACCOUNTS }, (_, i) => `user${i + 1}@${DOMAIN}`);
  const run = Date.now().toString(36);
  const expected = new Map<string, string>();
  const sender = users[0] as string;
  const submitter = { user: sender, pass: PASSWORD };
  const ports = { smtp: mta.ports.smtp as number, submission: msa.ports.submission as number, submissions: msa.ports.submissions as number };
  const imap = { host: proxy.address, starttls: proxy.ports.imap as number, implicit: proxy.ports.imaps as number };
  const pop3 = { host: proxy.address, starttls: proxy.ports.pop3 as number, implicit: proxy.ports.pop3s as number };

  await t.test('GIVEN 100 accounts WHEN 300 messages are sent on TLS to 25, 587 and 465 THEN every one is accepted with 250', async () => {
    const envelopes = Array.from({ length: MESSAGES }, (_, i) => {
      const to = users[i % ACCOUNTS] as string;
      const id = `census-${i}-${run}@client.test`;
      expected.set(id, to);
      return message(id, i % 3 === 0 ? 'sender@remote.test' : sender, to);
    });
    const third = (k: number) => envelopes.filter((_, i) => i % 3 === k);
    const results = (await Promise.all([
      sendAll(mta.address, ports.smtp, third(0), 2, { tls: platform.clientTls('starttls') }),
      sendAll(msa.address, ports.submission, third(1), 2, { tls: platform.clientTls('starttls'), auth: submitter }),
      sendAll(msa.address, ports.submissions, third(2), 2, { tls: platform.clientTls('implicit'), auth: submitter }),
    ])).flat();
    const refused = results.filter((r) => r.data?.code !== 250);
    assert.equal(refused.length, 0, `refused: ${JSON.stringify(refused.slice(0, 3))}`);
    await waitQueueEmpty(join(platform.stateDir, 'instances', 'mta-0', 'config'));
    await waitQueueEmpty(join(platform.stateDir, 'instances', 'msa-0', 'config'));
  });

  await t.test('THEN every message is read back over IMAP (half STARTTLS on 143, half 993) exactly once, in the right mailbox', async () => {
    const seen = await eachLimited(users, 8, async (u) => {
      const implicit = users.indexOf(u) % 2 === 1;
      const tls = platform.clientTls(implicit ? 'implicit' : 'starttls');
      return { user: u, ids: await imapMessageIds(imap.host, implicit ? imap.implicit : imap.starttls, u, PASSWORD, tls) };
    });
    assertCensus(seen, expected);
  });

  await t.test('THEN every message is read back over POP3 (half STLS on 110, half 995) exactly once, in the right mailbox', async () => {
    const seen = await eachLimited(users, 8, async (u) => {
      const implicit = users.indexOf(u) % 2 === 1;
      const tls = platform.clientTls(implicit ? 'implicit' : 'starttls');
      return { user: u, ids: await pop3MessageIds(pop3.host, implicit ? pop3.implicit : pop3.starttls, u, PASSWORD, tls) };
    });
    assertCensus(seen, expected);
  });

  await t.test('THEN the mta asked the policy server once per recipient (RCPT) and the msa once per message (DATA), each let through', async () => {
    assert.equal(sender, policyExempt);
    const policy = await platform.instance('policy-0');
    const text = await (await fetch(`http://${policy.address}:${policy.ports.http}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const requests = (stage: string) => Number(new RegExp(`^mailfleet_policy_requests_total\\{stage="${stage}",action="DUNNO",rule="",role="policy",instance="policy-0"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? -1);
    assert.equal(requests('RCPT'), MESSAGES / 3, text);
    assert.equal(requests('DATA'), (MESSAGES * 2) / 3, text);
    assert.doesNotMatch(text, /action="DEFER_IF_PERMIT"/);
  });

  await t.test('THEN the Received header the mta wrote records the TLS session the mail came in on', async () => {
    const first = `census-0-${run}@client.test`;
    const session = await openPop3Session({ host: pop3.host, port: pop3.implicit, timeoutMs: 20_000, tls: platform.clientTls('implicit') });
    try {
      assert.equal((await session.login(expected.get(first) as string, PASSWORD)).ok, true);
      let raw = '';
      for (const { number } of await session.list()) {
        const text = await session.retrieve(number);
        if (messageIdOf(text) === first) raw = text;
      }
      const header = raw.slice(0, raw.indexOf('\r\n\r\n'));
      assert.match(header, /\(using TLSv1\.[23] with cipher /, header);
    } finally {
      await session.quit();
    }
  });

  await t.test('THEN the director has spread the users over all three backends', async () => {
    const hosts = await doveadm(proxy.address, proxy.ports.doveadm as number, 'directorStatus');
    const backends = (await platform.status()).filter((i) => i.role === 'mailbox').map((i) => i.address).sort();
    assert.deepEqual(hosts.map((h) => h['mail server ip']).sort(), backends);
    const map = await doveadm(proxy.address, proxy.ports.doveadm as number, 'directorMap');
    const usedBackends = new Set(map.map((row) => row['mail server ip']));
    assert.deepEqual([...usedBackends].sort(), backends, `director map: ${JSON.stringify(map.slice(0, 5))}`);
  });

  await t.test('WHEN mail is sent to an unknown account THEN it is rejected with 550 at RCPT', async () => {
    const session = await openSmtpSession({ host: mta.address, port: ports.smtp, heloName: 'client.test', tls: platform.clientTls('starttls') });
    try {
      const r = await session.send(message(`unknown-${run}@client.test`, 'sender@remote.test', `nobody@${DOMAIN}`));
      assert.equal(r.rcpt[0]?.code, 550);
      assert.equal(r.data, undefined);
    } finally {
      await session.quit();
    }
  });

  await t.test('WHEN a wrong password is given on TLS THEN IMAP, POP3 and SMTP AUTH all refuse it', async () => {
    // At once: Dovecot doubles its delay for every failed login from one address (auth penalty, up to 15 s), so
    // one after the other the three would wait 2 + 4 + 8 s.
    const viaImap = async () => {
      const client = new ImapFlow({ host: imap.host, port: imap.implicit, auth: { user: sender, pass: 'wrong' }, logger: false, ...imapFlowTls(platform.clientTls('implicit')) });
      await assert.rejects(client.connect());
      client.close();
    };
    const viaPop3 = async () => {
      const pop3Session = await openPop3Session({ host: pop3.host, port: pop3.starttls, timeoutMs: 20_000, tls: platform.clientTls('starttls') });
      try {
        assert.equal((await pop3Session.login(sender, 'wrong')).ok, false);
      } finally {
        await pop3Session.quit();
      }
    };
    const viaSmtp = async () => {
      const smtp = await openSmtpSession({ host: msa.address, port: ports.submission, timeoutMs: 20_000, tls: platform.clientTls('starttls') });
      try {
        assert.equal((await smtp.authPlain(sender, 'wrong')).code, 535);
      } finally {
        await smtp.quit();
      }
    };
    await Promise.all([viaImap(), viaPop3(), viaSmtp()]);
  });

  await t.test('WHEN a client would authenticate before TLS THEN 587 answers 530, IMAP says LOGINDISABLED and POP3 refuses USER', async () => {
    const smtp = await openSmtpSession({ host: msa.address, port: ports.submission, allowPlaintextAuth: true });
    try {
      assert.deepEqual(smtp.capabilities.filter((c) => /^(STARTTLS|AUTH\b)/.test(c)), ['STARTTLS']);
      const refused = await smtp.authPlain(sender, PASSWORD);
      assert.deepEqual([refused.code, refused.enhanced], [530, '5.7.0']);
    } finally {
      await smtp.quit();
    }
    const imapSession = await openImapSession({ host: imap.host, port: imap.starttls, allowPlaintextAuth: true, timeoutMs: 20_000 });
    try {
      assert.ok(imapSession.greeting.capabilities?.includes('LOGINDISABLED'), `greeting: ${imapSession.greeting.code}`);
      assert.notEqual((await imapSession.login(sender, PASSWORD)).status, 'OK');
    } finally {
      await imapSession.logout();
    }
    const pop3Session = await openPop3Session({ host: pop3.host, port: pop3.starttls, allowPlaintextAuth: true, timeoutMs: 20_000 });
    try {
      assert.equal((await pop3Session.login(sender, PASSWORD)).ok, false);
    } finally {
      await pop3Session.quit();
    }
  });

  await t.test('WHEN a client says EHLO to 25 (plaintext and TLS), 587 and 465 THEN ETRN is not offered, and sent anyway it gets 554', async () => {
    const sessions: [string, () => ReturnType<typeof openSmtpSession>][] = [
      ['mta 25', () => openSmtpSession({ host: mta.address, port: ports.smtp, heloName: 'client.test' })],
      ['mta 25 STARTTLS', () => openSmtpSession({ host: mta.address, port: ports.smtp, heloName: 'client.test', tls: platform.clientTls('starttls') })],
      ['msa 587 STARTTLS', () => openSmtpSession({ host: msa.address, port: ports.submission, heloName: 'client.test', tls: platform.clientTls('starttls') })],
      ['msa 465', () => openSmtpSession({ host: msa.address, port: ports.submissions, heloName: 'client.test', tls: platform.clientTls('implicit') })],
    ];
    for (const [where, open] of sessions) {
      const smtp = await open();
      try {
        const offered = `${where}: ${smtp.capabilities.join(', ')}`;
        assert.ok(smtp.capabilities.includes('PIPELINING'), offered);
        assert.equal(smtp.capabilities.some((c) => /^ETRN\b/i.test(c)), false, offered);
        const etrn = await smtp.command(`ETRN ${DOMAIN}`);
        assert.deepEqual([etrn.code, etrn.enhanced], [554, '5.7.1'], where);
      } finally {
        await smtp.quit();
      }
    }
  });

  await t.test('WHEN a client submits on TLS without SASL THEN the msa takes nothing, for a foreign domain or a local one', async () => {
    const smtp = await openSmtpSession({ host: msa.address, port: ports.submission, tls: platform.clientTls('starttls') });
    try {
      const foreign = await smtp.send(message(`relay-${run}@client.test`, users[0] as string, 'someone@elsewhere.test'));
      assert.equal(foreign.rcpt[0]?.code, 554);
      const local = await smtp.send(message(`unauth-${run}@client.test`, users[0] as string, users[1] as string));
      assert.equal(local.rcpt[0]?.code, 554, 'an msa delivers for clients that logged in only (RFC 6409)');
    } finally {
      await smtp.quit();
    }
  });

  await t.test('WHEN a logged-in user submits with another account\'s address as sender THEN it is refused with 553', async () => {
    const smtp = await openSmtpSession({ host: msa.address, port: ports.submissions, tls: platform.clientTls('implicit') });
    try {
      assert.equal((await smtp.authPlain(sender, PASSWORD)).code, 235);
      const r = await smtp.send(message(`forged-${run}@client.test`, users[2] as string, users[1] as string));
      assert.equal(r.rcpt[0]?.code, 553);
      assert.match(r.rcpt[0]?.lines.join(' ') ?? '', /not owned by user/);
    } finally {
      await smtp.quit();
    }
  });

  await t.test('WHEN a client smuggles a second message after <LF>.<CR><LF> THEN the mta takes one message, the smuggled commands inside it', async () => {
    const to = users[3] as string;
    const id = `smuggle-${run}@client.test`;
    const replies = await rawSmtp(mta.address, ports.smtp, [
      'EHLO client.test\r\n',
      `MAIL FROM:<sender@remote.test>\r\nRCPT TO:<${to}>\r\nDATA\r\n`,
      `Message-ID: <${id}>\r\nSubject: outer\r\n\r\nouter\n.\r\nMAIL FROM:<${sender}>\r\nRCPT TO:<${to}>\r\nDATA\r\nSubject: smuggled\r\n\r\ninner\r\n.\r\n`,
      'QUIT\r\n',
    ]);
    assert.deepEqual(replies.map((r) => r.slice(0, 3)), ['220', '250', '250', '250', '354', '250', '221'], replies.join(' | '));
    await waitQueueEmpty(join(platform.stateDir, 'instances', 'mta-0', 'config'));
    const ids = await imapMessageIds(imap.host, imap.starttls, to, PASSWORD, platform.clientTls('starttls'));
    assert.deepEqual(ids.filter((m) => m.startsWith('smuggle-')), [id], 'one message, not two');
  });

  await t.test('WHEN a client submits with SASL on 465 THEN foreign and local mail are accepted and local mail is delivered', async () => {
    const smtp = await openSmtpSession({ host: msa.address, port: ports.submissions, tls: platform.clientTls('implicit') });
    const id = `submitted-${run}@client.test`;
    try {
      assert.equal((await smtp.authPlain(sender, PASSWORD)).code, 235);
      const foreign = await smtp.send(message(`foreign-${run}@client.test`, sender, 'someone@elsewhere.test'));
      assert.equal(foreign.data?.code, 250);
      const local = await smtp.send(message(id, sender, users[1] as string));
      assert.equal(local.data?.code, 250);
    } finally {
      await smtp.quit();
    }
    const deadline = Date.now() + 30_000;
    let ids: string[] = [];
    while (!ids.includes(id) && Date.now() < deadline) ids = await imapMessageIds(imap.host, imap.starttls, users[1] as string, PASSWORD, platform.clientTls('starttls'));
    assert.ok(ids.includes(id), `${id} not delivered to ${users[1]}`);
  });

  await t.test('WHEN the platform is stopped with mailfleet down THEN no process of it remains', async () => {
    const r = platform.cli(['down']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(platform.leftovers(), []);
    // Every agent that drains finished its drain, none by running out of budget: no session or queue was left.
    for (const name of ['mta-0', 'msa-0', 'proxy-0', 'mailbox-0']) {
      const drains = readFileSync(join(platform.stateDir, 'logs', `${name}.log`), 'utf8').split('\n').filter((l) => l.includes('"msg":"drain finished"'));
      assert.equal(drains.length, 1, `${name}: ${drains.join('\n')}`);
      assert.match(drains[0] ?? '', /"completed":true/, name);
    }
    const listening = execFileSync('ss', ['-Htln'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('127.81.'));
    assert.deepEqual(listening, []);
  });
});

function assertCensus(seen: { user: string; ids: string[] }[], expected: Map<string, string>): void {
  const count = new Map<string, number>();
  for (const { user, ids } of seen) {
    for (const id of ids) {
      if (!expected.has(id)) continue;
      count.set(id, (count.get(id) ?? 0) + 1);
      assert.equal(expected.get(id), user, `${id} found in ${user}'s mailbox`);
    }
  }
  const lost = [...expected.keys()].filter((id) => !count.has(id));
  const duplicated = [...count.entries()].filter(([, n]) => n > 1);
  assert.deepEqual({ lost: lost.length, duplicated: duplicated.length, found: count.size }, { lost: 0, duplicated: 0, found: expected.size });
}
