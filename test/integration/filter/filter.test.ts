/**
 * Filtering and signing on one host with real daemons: rspamd (`as`) as the milter of the mta and the msa, clamd
 * (`av`) with a signature database built by sigtool, unbound on loopback as rspamd's only resolver (SPF, DKIM and
 * DMARC records of the test domains; NXDOMAIN for everything else, so nothing leaves loopback). Mail is sent by SMTP
 * and read back over IMAP; DKIM signatures are made and checked by python3-dkim. Learning from the Junk folder runs
 * on the same platform (learning.ts): one platform start, one rspamd cold start for both.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { instanceRunDir } from '../../../src/agent/index.ts';
import type { TlsClientOptions } from '../../../src/protocol/index.ts';
import { imapFlowTls, sendAll } from '../../support/mail.ts';
import { DOMAIN, HOSTNAME, startPlatform } from '../../support/platform.ts';
import { until } from '../../support/poll.ts';
import {
  dkimKeyPair, dkimRecord, dkimSign, dkimVerify, dnsPort, generateDkimKey, mail, mailWithAttachment, signatureDirectory, SIGTOOL, startDns,
  TEST_VIRUS_FILE, TEST_VIRUS_NAME, UNBOUND, type TxtRecord,
} from './harness.ts';
import { bayesLearns, learningSubtests, learningWhileDownSubtest, REDIS_CLI, type LearningContext } from './learning.ts';

const POOL = '127.121.0.0/16';
/** unbound's address: outside the platform's pool. */
const DNS_HOST = '127.122.0.53';
const PASSWORD = 'filter-test-password';
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
/** rspamd's add-header test pattern (spec.filter.testPatterns). */
const GTUBE_ADD_HEADER = 'YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const DELIVERY_DEADLINE_MS = 60_000;

/** The raw message with `id` in `user`'s `mailbox`, once it is there. */
async function fetchRaw(host: string, port: number, user: string, tls: TlsClientOptions, id: string, mailbox = 'INBOX'): Promise<string> {
  return until(`message ${id} in ${user}'s ${mailbox}`, async () => {
    const client = new ImapFlow({ host, port, auth: { user, pass: PASSWORD }, logger: false, ...imapFlowTls(tls) });
    await client.connect();
    try {
      const lock = await client.getMailboxLock(mailbox);
      try {
        const exists = typeof client.mailbox === 'object' ? client.mailbox.exists : 0;
        if (exists === 0) return undefined;
        for await (const m of client.fetch('1:*', { envelope: true, source: true })) {
          if (m.envelope?.messageId === `<${id}>` && m.source) return m.source.toString('utf8');
        }
        return undefined;
      } finally {
        lock.release();
      }
    } finally {
      await client.logout().catch(() => undefined);
    }
  }, DELIVERY_DEADLINE_MS, 500);
}

/** The value of the first header `name` (unfolded), or undefined. */
function header(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  return m?.[1]?.replace(/\r?\n[ \t]+/g, ' ');
}

test('rspamd and clamd as the milter of the mta and the msa, with real daemons', { timeout: 600_000, skip: !UNBOUND || !SIGTOOL || !REDIS_CLI }, async (t) => {
  const sender = dkimKeyPair();
  let platformKey: TxtRecord & { selector: string } = { selector: '', name: '', text: '' };
  const port = await dnsPort(DNS_HOST);
  const records: TxtRecord[] = [
    // A domain whose mail may come from nowhere: SPF -all, DMARC p=reject.
    { name: 'strict.test', text: 'v=spf1 -all' },
    { name: '_dmarc.strict.test', text: 'v=DMARC1; p=reject' },
    // A domain that signs its mail.
    { name: 'sel1._domainkey.signed.test', text: dkimRecord(sender.publicB64) },
  ];

  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: 3,
    password: PASSWORD,
    roles: { mailbox: 1, proxy: 1, mta: 1, msa: 1, as: 1, av: 1 },
    filter: {
      nameservers: [`${DNS_HOST}:${port}`],
      publicLists: false,
      testPatterns: true,
      // A retry is let through a second after the first attempt, so that the test can make it.
      greylisting: { delaySeconds: 1 },
      antivirus: { signatures: { directory: '@SIGNATURES@' } },
    },
    beforeUp: (stateDir) => {
      // The platform's own key, made and published as its users would; the msa's mail is signed with it.
      platformKey = generateDkimKey(stateDir, DOMAIN);
      return { '@SIGNATURES@': signatureDirectory(stateDir) };
    },
  });
  records.push(platformKey);
  await startDns(t, DNS_HOST, port, records);
  const mta = await platform.instance('mta-0');
  const msa = await platform.instance('msa-0');
  const proxy = await platform.instance('proxy-0');
  const smtp = { host: mta.address, port: mta.ports.smtp as number };
  const imap = { host: proxy.address, port: proxy.ports.imap as number };
  const user1 = `user1@${DOMAIN}`;
  const user2 = `user2@${DOMAIN}`;
  const run = Date.now().toString(36);
  // Learning moves a user's mail of its own between INBOX, Junk and Trash.
  const learning: LearningContext = { platform, user: `user3@${DOMAIN}`, password: PASSWORD, run };
  const send = async (from: string, to: string, data: string) => {
    const [r] = await sendAll(smtp.host, smtp.port, [{ from, to: [to], data }], 1, { tls: platform.clientTls('starttls') });
    assert.ok(r);
    return r;
  };

  await t.test('GIVEN a clean message WHEN sent to the mta THEN it is delivered with Authentication-Results (the host as authserv-id) and X-Spam-Status', async () => {
    const id = `clean-${run}@remote.test`;
    const r = await send('someone@remote.test', user1, mail({ id, from: 'someone@remote.test', to: user1, subject: 'Lunch on Friday', body: 'Shall we meet at noon at the usual place?' }));
    assert.equal(r.data?.code, 250, JSON.stringify(r.data));
    const raw = await fetchRaw(imap.host, imap.port, user1, platform.clientTls('starttls'), id);
    assert.match(header(raw, 'Authentication-Results') ?? '', new RegExp(`^${HOSTNAME.replace(/\./g, '\\.')};`));
    assert.match(header(raw, 'X-Spam-Status') ?? '', /^No, score=/);
    assert.equal(header(raw, 'X-Spam'), undefined);
  });

  await t.test('GIVEN GTUBE WHEN sent to the mta THEN it is refused at the end of DATA with 5xx', async () => {
    const r = await send('spammer@remote.test', user1, mail({ id: `gtube-${run}@remote.test`, from: 'spammer@remote.test', to: user1, subject: 'Offer', body: GTUBE }));
    assert.deepEqual(r.rcpt.map((x) => x.code), [250]);
    assert.equal(Math.floor((r.data?.code ?? 0) / 100), 5, JSON.stringify(r.data));
  });

  await t.test('GIVEN a message scoring above greylist (4) and below reject (15) WHEN sent to the mta THEN it is greylisted (4xx), and its retry after the delay is accepted', async () => {
    // A subject in capitals (SUBJ_ALL_CAPS 3), an .exe attached (MIME_BAD_EXTENSION 2), no authentication results
    // (AUTH_NA 1): about 6.
    const data = mailWithAttachment({ id: `greylist-${run}@remote.test`, from: 'shop@remote.test', to: user2, subject: 'YOUR ORDER IS READY FOR PICKUP', file: Buffer.from('MZ not really a program'), filename: 'order.exe' });
    const first = await send('shop@remote.test', user2, data);
    assert.equal(first.data?.code, 451, JSON.stringify(first.data));
    await until('the retry let through', async () => ((await send('shop@remote.test', user2, data)).data?.code === 250 ? true : undefined), 30_000, 500);
  });

  await t.test('GIVEN the add-header test pattern WHEN sent to the mta THEN it is delivered into Junk, tagged X-Spam: Yes', async () => {
    const id = `tagged-${run}@remote.test`;
    const r = await send('bulk@remote.test', user1, mail({ id, from: 'bulk@remote.test', to: user1, subject: 'Offer', body: GTUBE_ADD_HEADER }));
    assert.equal(r.data?.code, 250, JSON.stringify(r.data));
    const raw = await fetchRaw(imap.host, imap.port, user1, platform.clientTls('starttls'), id, 'Junk');
    // The milter's own header; GTUBE skips every rule and module, milter_headers (X-Spam-Status) among them.
    assert.equal(header(raw, 'X-Spam'), 'Yes');
  });

  await t.test('GIVEN the ClamAV test file attached WHEN sent to the mta THEN it is refused at the end of DATA with 5xx naming the virus', async () => {
    const r = await send('virus@remote.test', user1, mailWithAttachment({
      id: `virus-${run}@remote.test`, from: 'virus@remote.test', to: user1, subject: 'Invoice', file: readFileSync(TEST_VIRUS_FILE), filename: 'invoice.exe',
    }));
    assert.equal(Math.floor((r.data?.code ?? 0) / 100), 5, JSON.stringify(r.data));
    assert.match(r.data?.lines.join(' ') ?? '', new RegExp(TEST_VIRUS_NAME));
  });

  await t.test('GIVEN mail from a domain with SPF -all and DMARC p=reject WHEN it comes from elsewhere THEN it is refused with 5xx', async () => {
    const r = await send('ceo@strict.test', user1, mail({ id: `spoof-${run}@strict.test`, from: 'ceo@strict.test', to: user1, subject: 'Wire transfer', body: 'Please pay the attached invoice today.' }));
    assert.equal(Math.floor((r.data?.code ?? 0) / 100), 5, JSON.stringify(r.data));
  });

  await t.test('GIVEN a message signed by its domain WHEN delivered THEN dkim=pass; GIVEN it altered after signing THEN dkim=fail', async () => {
    const from = 'news@signed.test';
    const good = `signed-${run}@signed.test`;
    const bad = `altered-${run}@signed.test`;
    const dir = platform.stateDir;
    const signedGood = dkimSign(mail({ id: good, from, to: user2, subject: 'Newsletter', body: 'This month: nothing new.' }), 'signed.test', 'sel1', sender.privatePem, dir);
    const signedBad = dkimSign(mail({ id: bad, from, to: user2, subject: 'Newsletter', body: 'This month: nothing new.' }), 'signed.test', 'sel1', sender.privatePem, dir)
      .replace('nothing new', 'everything new');
    for (const data of [signedGood, signedBad]) assert.equal((await send(from, user2, data)).data?.code, 250);
    const ar = async (id: string) => header(await fetchRaw(imap.host, imap.port, user2, platform.clientTls('starttls'), id), 'Authentication-Results') ?? '';
    assert.match(await ar(good), /dkim=pass header\.d=signed\.test/);
    assert.match(await ar(bad), /dkim=fail/);
  });

  await t.test('GIVEN an authenticated user WHEN sending through the msa THEN the message is DKIM-signed for the domain, and python3-dkim verifies it', async () => {
    const id = `outbound-${run}@${DOMAIN}`;
    const [r] = await sendAll(msa.address, msa.ports.submission as number, [{ from: user1, to: [user2], data: mail({ id, from: user1, to: user2, subject: 'Signed', body: 'From the platform itself.' }) }], 1, {
      tls: platform.clientTls('starttls'), auth: { user: user1, pass: PASSWORD },
    });
    assert.equal(r?.data?.code, 250, JSON.stringify(r?.data));
    const raw = await fetchRaw(imap.host, imap.port, user2, platform.clientTls('starttls'), id);
    const signature = header(raw, 'DKIM-Signature') ?? '';
    assert.match(signature, new RegExp(`\\bd=${DOMAIN.replace('.', '\\.')};`));
    assert.match(signature, new RegExp(`\\bs=${platformKey.selector};`));
    assert.equal(dkimVerify(raw.replace(/\r?\n/g, '\r\n'), records), 'pass');
  });

  await learningSubtests(t, learning);

  await t.test('GIVEN the scans above WHEN the as agent is scraped THEN rspamd\'s own metrics are there (fetched with the controller password), and a scrape of the running rspamd fails no fetch', async () => {
    const as = await platform.instance('as-0');
    const scrape = async (): Promise<string> => (await fetch(`http://${as.address}:${as.ports.http}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    // Fetches that failed so far: a scrape may have come while rspamd compiled its rules at start, before its controller listened.
    const fetchErrors = (metrics: string): number => metrics.split('\n').filter((l) => l.startsWith('mailfleet_agent_rspamd_scrape_errors_total')).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const before = fetchErrors(await scrape());
    const text = await scrape();
    const scanned = /^rspamd_scanned_total\{[^}]*role="as"[^}]*\} (\d+)/m.exec(text);
    assert.ok(scanned && Number(scanned[1]) >= 6, `rspamd_scanned_total in:\n${text.split('\n').filter((l) => l.startsWith('rspamd_')).slice(0, 20).join('\n')}`);
    assert.ok(text.includes('mailfleet_agent_rspamd_scrape_errors_total'), 'the fetch failures are exported');
    assert.equal(fetchErrors(text), before, 'a scrape while rspamd runs fails no fetch');
    // Without the password, rspamd's controller refuses the same request.
    const direct = await fetch(`http://${as.address}:${as.ports.rspamd}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(direct.status, 401);
  });

  const learned = await bayesLearns(platform);
  let agentPid = 0;
  await t.test('GIVEN rspamd stopped WHEN mail is sent to the mta THEN it is accepted unscanned (fail open), Postfix logs the milter failure and the mta agent counts it', async () => {
    const as = await platform.instance('as-0');
    agentPid = as.pid as number;
    const rspamdPid = Number(readFileSync(join(instanceRunDir(platform.stateDir, 'as-0'), 'rspamd.pid'), 'utf8').trim());
    // Its agent frozen (it would restart rspamd), rspamd itself stopped: the milter port refuses connections.
    process.kill(agentPid, 'SIGSTOP');
    t.after(() => {
      try {
        process.kill(agentPid, 'SIGCONT');
      } catch {
        // gone already
      }
    });
    process.kill(rspamdPid, 'SIGTERM');
    await until('the milter port closed', () => new Promise<true | undefined>((resolve) => {
      const socket = connect({ host: as.address, port: as.ports.milter as number });
      socket.once('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', () => resolve(true));
    }), 20_000);
    const id = `unscanned-${run}@remote.test`;
    // A forged verdict in the platform's name: rspamd is not there to replace it, Postfix drops it all the same.
    const forged = [`Authentication-Results: ${HOSTNAME}; dkim=pass header.d=${DOMAIN}; spf=pass; dmarc=pass header.from=${DOMAIN}`];
    const r = await send('spammer@remote.test', user1, mail({ id, from: 'spammer@remote.test', to: user1, subject: 'Offer', body: GTUBE, extraHeaders: forged }));
    assert.equal(r.data?.code, 250, 'GTUBE passes while the filter is down: the milter fails open');
    const raw = await fetchRaw(imap.host, imap.port, user1, platform.clientTls('starttls'), id);
    assert.equal(header(raw, 'X-Spam-Status'), undefined, 'not scanned');
    assert.equal(header(raw, 'Authentication-Results'), undefined, 'the forged Authentication-Results is gone');
    const log = readFileSync(join(platform.stateDir, 'logs', 'mta-0.log'), 'utf8');
    assert.match(log, /warning: connect to Milter service inet:[0-9.]+:11332: Connection refused/);
    // The mta's agent reads that warning from Postfix's log and counts it.
    await until('the milter failure counted on the mta agent\'s /metrics', async () => {
      const text = await (await fetch(`http://${mta.address}:${mta.ports.http}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      const counted = text.split('\n').find((l) => l.startsWith('mailfleet_postfix_milter_failures_total{') && l.includes('stage="connect"') && l.includes('reason="refused"'));
      return counted !== undefined && Number(counted.slice(counted.lastIndexOf(' ') + 1)) >= 1 ? true : undefined;
    }, 20_000, 250);
  });

  // rspamd is still stopped, its agent frozen.
  await learningWhileDownSubtest(t, learning, learned);
  if (agentPid !== 0) process.kill(agentPid, 'SIGCONT');
});
