/**
 * Learning from the users' Junk folder with real daemons: Dovecot's imapsieve on the mailbox backend pipes a message
 * moved into Junk to rspamd's controller as spam and one moved out of it as ham (rspamd's /stat, read with the
 * controller password, counts them); mail rspamd tags `X-Spam: Yes` is delivered into Junk. unbound on loopback is
 * rspamd's only resolver (NXDOMAIN for everything), so nothing leaves loopback.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { openLmtp } from '../../support/lmtp-client.ts';
import { imapFlowTls, sendAll } from '../../support/mail.ts';
import { DOMAIN, startPlatform } from '../../support/platform.ts';
import { until } from '../../support/poll.ts';
import { dnsPort, mail, startDns, UNBOUND } from './harness.ts';

const POOL = '127.127.0.0/16';
/** unbound's address: in this test's pool, far above the addresses the platform hands out in order from 127.127.0.1. */
const DNS_HOST = '127.127.200.53';
const PASSWORD = 'learn-test-password';
/** rspamd's add-header test pattern (spec.filter.testPatterns). */
const GTUBE_ADD_HEADER = 'YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const DEADLINE_MS = 60_000;

const SPAM_BODY = [
  'Dear valued customer, congratulations! You have been selected to receive an exclusive cash prize of one',
  'million dollars from our international lottery department. To claim your winnings today, simply reply with',
  'your full name, bank account number, home address and a copy of your passport. This limited offer expires',
  'within twenty four hours, so act now and do not miss this once in a lifetime opportunity to become rich.',
].join('\r\n');
const HAM_BODY = [
  'Hi Anna, thanks for sending the minutes of yesterday\'s planning meeting. I went through the action items and',
  'I think the budget review should move to next Thursday, because the finance team is still waiting for the',
  'supplier quotes. Could you also check whether the small conference room is free in the afternoon? We need',
  'the projector for the quarterly figures. Best regards, and see you at the team lunch on Friday. Martin',
].join('\r\n');

interface Statfile {
  symbol: string;
  revision: number;
}

test('learning from the Junk folder, with real Dovecot and rspamd', { timeout: 600_000, skip: !UNBOUND }, async (t) => {
  const port = await dnsPort(DNS_HOST);
  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: 2,
    password: PASSWORD,
    roles: { mailbox: 1, proxy: 1, mta: 1, msa: 0, as: 1, av: 0 },
    filter: { nameservers: [`${DNS_HOST}:${port}`], publicLists: false, testPatterns: true },
  });
  await startDns(t, DNS_HOST, port, []);
  const as = await platform.instance('as-0');
  const proxy = await platform.instance('proxy-0');
  const mta = await platform.instance('mta-0');
  const mailbox = await platform.instance('mailbox-0');
  const secrets = JSON.parse(readFileSync(join(platform.stateDir, 'secrets.json'), 'utf8')) as Record<string, string>;
  const controllerPassword = secrets['rspamd-controller-password'];
  assert.ok(controllerPassword);
  const user = `user1@${DOMAIN}`;
  const run = Date.now().toString(36);

  const stat = async (): Promise<Record<string, number>> => {
    const res = await fetch(`http://${as.address}:${as.ports.rspamd}/stat`, { headers: { Password: controllerPassword }, signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { learned: number; statfiles: Statfile[] };
    return { learned: body.learned, ...Object.fromEntries(body.statfiles.map((s) => [s.symbol, s.revision])) };
  };
  const imap = async <T>(work: (client: ImapFlow) => Promise<T>): Promise<T> => {
    const client = new ImapFlow({ host: proxy.address, port: proxy.ports.imap as number, auth: { user, pass: PASSWORD }, logger: false, ...imapFlowTls(platform.clientTls('starttls')) });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.logout().catch(() => undefined);
    }
  };
  /** The UID of the message `id` in `mailbox`, once it is there. */
  const uidOf = (mailbox: string, id: string) => until(`${id} in ${mailbox}`, () => imap(async (client) => {
    const lock = await client.getMailboxLock(mailbox);
    try {
      const uids = await client.search({ header: { 'message-id': id } }, { uid: true });
      return uids && uids.length > 0 ? uids[0] : undefined;
    } finally {
      lock.release();
    }
  }), DEADLINE_MS, 500);
  /** Delivers `data` to `user` by LMTP on the backend, as the mta does. */
  const lmtp = async (data: string) => {
    const client = await openLmtp(mailbox.address, mailbox.ports.lmtp as number);
    try {
      const replies = await client.send(`LHLO test\r\nMAIL FROM:<colleague@remote.test>\r\nRCPT TO:<${user}>\r\nDATA\r\n`, 4);
      assert.deepEqual(replies.map((r) => r.slice(0, 3)), ['250', '250', '250', '354'], JSON.stringify(replies));
      const [done] = await client.send(`${data.replace(/^\./gm, '..')}\r\n.\r\nQUIT\r\n`, 1);
      assert.match(done ?? '', /^250 /);
    } finally {
      client.close();
    }
  };
  const move = (from: string, uid: number, to: string) => imap(async (client) => {
    const lock = await client.getMailboxLock(from);
    try {
      const moved = await client.messageMove(String(uid), to, { uid: true });
      assert.ok(moved, `MOVE ${from} → ${to}`);
    } finally {
      lock.release();
    }
  });

  await t.test('GIVEN mail rspamd tags X-Spam: Yes WHEN delivered THEN it lands in Junk, not the INBOX', async () => {
    const id = `tagged-${run}@remote.test`;
    const [r] = await sendAll(mta.address, mta.ports.smtp as number, [{ from: 'bulk@remote.test', to: [user], data: mail({ id, from: 'bulk@remote.test', to: user, subject: 'Offer', body: GTUBE_ADD_HEADER }) }], 1, { tls: platform.clientTls('starttls') });
    assert.equal(r?.data?.code, 250, JSON.stringify(r?.data));
    await uidOf('Junk', id);
    const inInbox = await imap(async (client) => {
      const lock = await client.getMailboxLock('INBOX');
      try {
        return await client.search({ header: { 'message-id': id } }, { uid: true });
      } finally {
        lock.release();
      }
    });
    assert.deepEqual(inInbox, []);
  });

  await t.test('GIVEN a message in the INBOX WHEN the user moves it into Junk THEN rspamd learns it as spam', async () => {
    const id = `spam-${run}@remote.test`;
    await imap((client) => client.append('INBOX', mail({ id, from: 'lottery@remote.test', to: user, subject: 'You have won a cash prize', body: SPAM_BODY })));
    const before = await stat();
    await move('INBOX', await uidOf('INBOX', id), 'Junk');
    // The learn program runs within the COPY: by the MOVE's reply rspamd has learned.
    const after = await stat();
    assert.equal(after.learned, (before.learned ?? 0) + 1, JSON.stringify({ before, after }));
  });

  await t.test('GIVEN a message in Junk (delivered by LMTP with X-Spam: Yes) WHEN the user moves it to the INBOX THEN rspamd learns it as ham; into Trash, nothing is learned', async () => {
    const id = `ham-${run}@remote.test`;
    const trashed = `trash-${run}@remote.test`;
    // Filed there at delivery (LMTP, tagged X-Spam: Yes by the mta's rspamd), not by the user: delivery learns nothing.
    await lmtp(mail({ id, from: 'colleague@remote.test', to: user, subject: 'Planning meeting', body: HAM_BODY, extraHeaders: ['X-Spam: Yes'] }));
    await lmtp(mail({ id: trashed, from: 'colleague@remote.test', to: user, subject: 'Planning meeting', body: HAM_BODY.replace('Anna', 'Bernd').replace('Thursday', 'Wednesday'), extraHeaders: ['X-Spam: Yes'] }));
    const trashUid = await uidOf('Junk', trashed);
    const hamUid = await uidOf('Junk', id);
    const before = await stat();
    await move('Junk', trashUid, 'Trash');
    await move('Junk', hamUid, 'INBOX');
    const after = await stat();
    assert.equal(after.learned, (before.learned ?? 0) + 1, JSON.stringify({ before, after }));
  });

  await t.test('GIVEN the learns above WHEN rspamd refreshes its Bayes statistics from Redis THEN they hold one spam and one ham', async () => {
    // /stat's per-class revisions are read from Redis periodically, not at each learn.
    const s = await until('the Bayes revisions', async () => {
      const now = await stat();
      return (now.BAYES_SPAM ?? 0) >= 1 && (now.BAYES_HAM ?? 0) >= 1 ? now : undefined;
    }, 180_000, 1000);
    assert.deepEqual([s.BAYES_SPAM, s.BAYES_HAM], [1, 1], JSON.stringify(s));
  });
});
