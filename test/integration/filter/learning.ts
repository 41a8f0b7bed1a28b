/**
 * Learning from the users' Junk folder, as subtests of the filter test's platform (one platform start, one rspamd
 * cold start): Dovecot's imapsieve on the mailbox backend pipes a message moved into Junk to `mailfleet learn spam`
 * and one moved out of it (not into Trash) to `mailfleet learn ham`, which post it to rspamd's controller. What
 * rspamd learned is read where it keeps it: the `learns` count of each Bayes class in the platform's Redis
 * (redis-cli), exactly as many as the moves asked for. With rspamd stopped, a move still succeeds and the failed
 * learn is in the mailbox's log.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { ImapFlow } from 'imapflow';
import { RSPAMD_REDIS_DB } from '../../../src/config/index.ts';
import { redisCa } from '../../../src/internal-tls/index.ts';
import { openLmtp } from '../../support/lmtp-client.ts';
import { imapFlowTls } from '../../support/mail.ts';
import type { Platform } from '../../support/platform.ts';
import { until } from '../../support/poll.ts';
import { findProgram } from '../config/tools.ts';
import { mail } from './harness.ts';

export const REDIS_CLI = findProgram('redis-cli');
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

/** What the learning subtests need of the filter test: its platform, a user of its own, the run's id. */
export interface LearningContext {
  platform: Platform;
  user: string;
  password: string;
  run: string;
}

/** The user's mailboxes over IMAP through the proxy, and the backend's LMTP. */
export function mailboxes({ platform, user, password }: LearningContext) {
  const imap = async <T>(work: (client: ImapFlow) => Promise<T>): Promise<T> => {
    const proxy = await platform.instance('proxy-0');
    const client = new ImapFlow({ host: proxy.address, port: proxy.ports.imap as number, auth: { user, pass: password }, logger: false, ...imapFlowTls(platform.clientTls('starttls')) });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.logout().catch(() => undefined);
    }
  };
  const search = (mailbox: string, id: string) => imap(async (client) => {
    const lock = await client.getMailboxLock(mailbox);
    try {
      return (await client.search({ header: { 'message-id': id } }, { uid: true })) || [];
    } finally {
      lock.release();
    }
  });
  return {
    imap,
    search,
    /** The UID of the message `id` in `mailbox`, once it is there. */
    uidOf: (mailbox: string, id: string) => until(`${id} in ${mailbox}`, async () => (await search(mailbox, id))[0], DEADLINE_MS, 500),
    /** Delivers `data` to the user by LMTP on the backend, as the mta does. */
    lmtp: async (data: string) => {
      const mailbox = await platform.instance('mailbox-0');
      const client = await openLmtp(mailbox.address, mailbox.ports.lmtp as number);
      try {
        const replies = await client.send(`LHLO test\r\nMAIL FROM:<colleague@remote.test>\r\nRCPT TO:<${user}>\r\nDATA\r\n`, 4);
        assert.deepEqual(replies.map((r) => r.slice(0, 3)), ['250', '250', '250', '354'], JSON.stringify(replies));
        const [done] = await client.send(`${data.replace(/^\./gm, '..')}\r\n.\r\nQUIT\r\n`, 1);
        assert.match(done ?? '', /^250 /);
      } finally {
        client.close();
      }
    },
    /** UID MOVE of `uid` from `from` to `to`; the server's answer must be OK. */
    move: (from: string, uid: number, to: string) => imap(async (client) => {
      const lock = await client.getMailboxLock(from);
      try {
        const moved = await client.messageMove(String(uid), to, { uid: true });
        assert.ok(moved, `MOVE ${from} → ${to}`);
      } finally {
        lock.release();
      }
    }),
  };
}

/** redis-cli against the platform's kvs over TLS, in rspamd's database, the password from STATE/secrets.json (by environment, not argv). */
export async function rspamdRedis(platform: Platform, ...args: string[]): Promise<string> {
  const kvs = await platform.instance('kvs-0');
  const secrets = JSON.parse(readFileSync(join(platform.stateDir, 'secrets.json'), 'utf8')) as Record<string, string>;
  const password = secrets['redis-password'];
  assert.ok(password, 'the platform has a Redis password');
  // Redis serves TLS only, with a certificate of the CA derived from its password.
  const ca = join(platform.stateDir, 'redis-ca.test.pem');
  writeFileSync(ca, redisCa(password).certPem);
  const r = spawnSync(REDIS_CLI as string, ['--tls', '--cacert', ca, '-h', kvs.address, '-p', String(kvs.ports.redis), '-n', String(RSPAMD_REDIS_DB), '--raw', ...args], {
    encoding: 'utf8', env: { ...process.env, REDISCLI_AUTH: password }, timeout: 10_000,
  });
  assert.equal(r.status, 0, `redis-cli ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * How many messages rspamd has learned into each Bayes class, as rspamd 3.4 keeps it in Redis: the set
 * `<statfile>_keys` (BAYES_SPAM_keys, BAYES_HAM_keys) names the hashes of that class's statistics (one, `RS`,
 * without per-user statistics), whose field `learns_spam` or `learns_ham` each learn increments; the tokens are
 * hashes `RS_<token>` of their own. 0 for a class nothing was learned into yet.
 */
export async function bayesLearns(platform: Platform): Promise<{ spam: number; ham: number }> {
  const learns = async (statfile: string, field: string): Promise<number> => {
    let sum = 0;
    const keys = (await rspamdRedis(platform, 'SMEMBERS', `${statfile}_keys`)).split('\n').filter((k) => k !== '');
    for (const key of keys) sum += Number((await rspamdRedis(platform, 'HGET', key, field)) || 0);
    return sum;
  };
  return { spam: await learns('BAYES_SPAM', 'learns_spam'), ham: await learns('BAYES_HAM', 'learns_ham') };
}

/** rspamd's Bayes statistics hash (`RS`) as a whole, for a failure's message. */
const statistics = async (platform: Platform): Promise<string> => (await rspamdRedis(platform, 'HGETALL', 'RS')).replace(/\n/g, ' ');

/** The learn failures Dovecot logged on the mailbox backend: the learn program's stderr. */
export function learnFailures({ platform }: LearningContext): string[] {
  return readFileSync(join(platform.stateDir, 'logs', 'mailbox-0.log'), 'utf8').split('\n').filter((l) => /mailfleet learn (spam|ham): not learned/.test(l));
}

/** The learning subtests, on a platform whose rspamd runs; each waits for the one before. */
export async function learningSubtests(t: TestContext, ctx: LearningContext): Promise<void> {
  const box = mailboxes(ctx);
  const { platform, run } = ctx;

  await t.test('GIVEN a message in the INBOX WHEN the user moves it into Junk THEN rspamd learns it as spam, by the MOVE\'s reply; the same message appended into Junk again is not learned twice, and no failure is logged', async () => {
    const id = `spam-${run}@remote.test`;
    const message = mail({ id, from: 'lottery@remote.test', to: ctx.user, subject: 'You have won a cash prize', body: SPAM_BODY });
    await box.imap((client) => client.append('INBOX', message));
    const before = await bayesLearns(platform);
    await box.move('INBOX', await box.uidOf('INBOX', id), 'Junk');
    // The learn program runs within the COPY: by the MOVE's reply rspamd has written what it learned.
    assert.deepEqual(await bayesLearns(platform), { spam: before.spam + 1, ham: before.ham }, `before ${JSON.stringify(before)}, RS: ${await statistics(platform)}`);
    // An APPEND into Junk learns too; rspamd answers that it has this message as spam already, which is no failure.
    await box.imap((client) => client.append('Junk', message));
    assert.deepEqual(await bayesLearns(platform), { spam: before.spam + 1, ham: before.ham });
    assert.deepEqual(learnFailures(ctx), [], 'no learn failed');
  });

  await t.test('GIVEN messages in Junk (delivered by LMTP with X-Spam: Yes) WHEN the user moves one to the INBOX THEN rspamd learns it as ham; one moved into Trash is not learned', async () => {
    const id = `ham-${run}@remote.test`;
    const trashed = `trash-${run}@remote.test`;
    // Filed there at delivery (LMTP, tagged X-Spam: Yes by the mta's rspamd), not by the user: delivery learns nothing.
    await box.lmtp(mail({ id, from: 'colleague@remote.test', to: ctx.user, subject: 'Planning meeting', body: HAM_BODY, extraHeaders: ['X-Spam: Yes'] }));
    await box.lmtp(mail({ id: trashed, from: 'colleague@remote.test', to: ctx.user, subject: 'Planning meeting', body: HAM_BODY.replace('Anna', 'Bernd').replace('Thursday', 'Wednesday'), extraHeaders: ['X-Spam: Yes'] }));
    const trashUid = await box.uidOf('Junk', trashed);
    const hamUid = await box.uidOf('Junk', id);
    const before = await bayesLearns(platform);
    await box.move('Junk', trashUid, 'Trash');
    assert.deepEqual(await bayesLearns(platform), before, 'into Trash: nothing learned');
    await box.move('Junk', hamUid, 'INBOX');
    assert.deepEqual(await bayesLearns(platform), { spam: before.spam, ham: before.ham + 1 });
    assert.deepEqual(learnFailures(ctx), [], 'no learn failed');
  });

  await t.test('GIVEN the moves above WHEN Redis is read THEN rspamd\'s Bayes holds exactly one spam and one ham', async () => {
    assert.deepEqual(await bayesLearns(platform), { spam: 1, ham: 1 });
  });
}

/**
 * With rspamd stopped (the caller stops it): a user's MOVE into Junk succeeds, the message is in Junk, the failed
 * learn is in the mailbox's log (the learn program's stderr, as Dovecot logs it) and nothing more is learned.
 */
export async function learningWhileDownSubtest(t: TestContext, ctx: LearningContext, learnedBefore: { spam: number; ham: number }): Promise<void> {
  const box = mailboxes(ctx);
  await t.test('GIVEN rspamd stopped WHEN the user moves a message into Junk THEN the MOVE succeeds, the failed learn is logged by Dovecot and nothing is learned', async () => {
    const id = `down-${ctx.run}@remote.test`;
    const logged = (): string[] => learnFailures(ctx);
    const before = logged().length;
    await box.imap((client) => client.append('INBOX', mail({ id, from: 'lottery@remote.test', to: ctx.user, subject: 'Another cash prize', body: SPAM_BODY.replace('one', 'two') })));
    await box.move('INBOX', await box.uidOf('INBOX', id), 'Junk');
    assert.ok((await box.search('Junk', id)).length === 1, 'the message is in Junk');
    assert.deepEqual(await box.search('INBOX', id), [], 'and no longer in the INBOX');
    const lines = await until('the failed learn in the mailbox log', () => Promise.resolve(logged().length > before ? logged() : undefined), 10_000, 200);
    assert.match(lines.at(-1) ?? '', /not learned: .*(ECONNREFUSED|timed out)/);
    assert.deepEqual(await bayesLearns(ctx.platform), learnedBefore, 'nothing learned while rspamd is down');
  });
}
