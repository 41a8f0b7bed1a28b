import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { openPop3Session, openSmtpSession } from '../../src/protocol/index.ts';
import { eachLimited, imapMessageIds, message, pop3MessageIds, sendAll, waitQueueEmpty } from '../support/mail.ts';
import { DOMAIN, doveadm, startPlatform } from '../support/platform.ts';

const POOL = '127.81.0.0/16';
const ACCOUNTS = 100;
const MESSAGES = 300;
const PASSWORD = 'census-password';

test('the mail path on one host, with real daemons', { timeout: 600_000 }, async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: ACCOUNTS, password: PASSWORD, roles: { mailbox: 3, proxy: 1, mta: 1, msa: 1 } });
  const mta = (await platform.instance('mta-0'));
  const msa = (await platform.instance('msa-0'));
  const proxy = (await platform.instance('proxy-0'));
  const users = Array.from({ length: ACCOUNTS }, (_, i) => `user${i + 1}@${DOMAIN}`);
  const run = Date.now().toString(36);
  const expected = new Map<string, string>();

  await t.test('GIVEN 100 accounts WHEN 300 messages are sent over SMTP THEN every one is accepted with 250', async () => {
    const envelopes = Array.from({ length: MESSAGES }, (_, i) => {
      const to = users[i % ACCOUNTS] as string;
      const id = `census-${i}-${run}@client.test`;
      expected.set(id, to);
      return message(id, 'sender@remote.test', to);
    });
    const results = await sendAll(mta.address, mta.ports.smtp as number, envelopes, 5);
    const refused = results.filter((r) => r.data?.code !== 250);
    assert.equal(refused.length, 0, `refused: ${JSON.stringify(refused.slice(0, 3))}`);
    await waitQueueEmpty(join(platform.stateDir, 'instances', 'mta-0', 'config'));
  });

  await t.test('THEN every message is read back over IMAP through the proxy exactly once, in the right mailbox', async () => {
    const seen = await eachLimited(users, 8, async (u) => ({ user: u, ids: await imapMessageIds(proxy.address, proxy.ports.imap as number, u, PASSWORD) }));
    assertCensus(seen, expected);
  });

  await t.test('THEN every message is read back over POP3 through the proxy exactly once, in the right mailbox', async () => {
    const seen = await eachLimited(users, 8, async (u) => ({ user: u, ids: await pop3MessageIds(proxy.address, proxy.ports.pop3 as number, u, PASSWORD) }));
    assertCensus(seen, expected);
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
    const session = await openSmtpSession({ host: mta.address, port: mta.ports.smtp as number, heloName: 'client.test' });
    try {
      const r = await session.send(message(`unknown-${run}@client.test`, 'sender@remote.test', `nobody@${DOMAIN}`));
      assert.equal(r.rcpt[0]?.code, 550);
      assert.equal(r.data, undefined);
    } finally {
      await session.quit();
    }
  });

  await t.test('WHEN a wrong password is given THEN IMAP, POP3 and SMTP AUTH all refuse it', async () => {
    const imap = new ImapFlow({ host: proxy.address, port: proxy.ports.imap as number, secure: false, auth: { user: users[0] as string, pass: 'wrong' }, logger: false, doSTARTTLS: false });
    await assert.rejects(imap.connect());
    imap.close();
    // Dovecot doubles its delay for every failed login from one address (auth penalty), up to 15 s.
    const pop3 = await openPop3Session({ host: proxy.address, port: proxy.ports.pop3 as number, timeoutMs: 20_000 });
    try {
      assert.equal((await pop3.login(users[0] as string, 'wrong')).ok, false);
    } finally {
      await pop3.quit();
    }
    const smtp = await openSmtpSession({ host: msa.address, port: msa.ports.submission as number, timeoutMs: 20_000 });
    try {
      assert.equal((await smtp.authPlain(users[0] as string, 'wrong')).code, 535);
    } finally {
      await smtp.quit();
    }
  });

  await t.test('WHEN a client submits without SASL THEN relaying to a foreign domain is refused', async () => {
    const smtp = await openSmtpSession({ host: msa.address, port: msa.ports.submission as number });
    try {
      const r = await smtp.send(message(`relay-${run}@client.test`, users[0] as string, 'someone@elsewhere.test'));
      assert.equal(r.rcpt[0]?.code, 554);
    } finally {
      await smtp.quit();
    }
  });

  await t.test('WHEN a client submits with SASL THEN foreign and local mail are accepted and local mail is delivered', async () => {
    const smtp = await openSmtpSession({ host: msa.address, port: msa.ports.submission as number });
    const id = `submitted-${run}@client.test`;
    try {
      assert.equal((await smtp.authPlain(users[0] as string, PASSWORD)).code, 235);
      const foreign = await smtp.send(message(`foreign-${run}@client.test`, users[0] as string, 'someone@elsewhere.test'));
      assert.equal(foreign.data?.code, 250);
      const local = await smtp.send(message(id, users[0] as string, users[1] as string));
      assert.equal(local.data?.code, 250);
    } finally {
      await smtp.quit();
    }
    const deadline = Date.now() + 30_000;
    let ids: string[] = [];
    while (!ids.includes(id) && Date.now() < deadline) ids = await imapMessageIds(proxy.address, proxy.ports.imap as number, users[1] as string, PASSWORD);
    assert.ok(ids.includes(id), `${id} not delivered to ${users[1]}`);
  });

  await t.test('WHEN the platform is stopped with mailfleet down THEN no process of it remains', async () => {
    const r = platform.cli(['down']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(platform.leftovers(), []);
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
