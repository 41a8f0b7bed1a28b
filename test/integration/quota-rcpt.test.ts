/**
 * Mailbox quota at RCPT time on one host, with real daemons: the mta asks the proxy's quota relay, which asks the
 * director for the user's backend and that backend's Dovecot quota-status. A full mailbox is refused at RCPT (so
 * nothing is queued and nothing bounced to a forged sender); a backend that does not answer lets mail in.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { imapMessageIds, waitQueueEmpty } from '../support/mail.ts';
import { until } from '../support/poll.ts';
import { DOMAIN, startPlatform } from '../support/platform.ts';

const POOL = '127.138.0.0/16';
const PASSWORD = 'quota-password';
/** The full mailbox's quota, and the message that (with the headers LMTP adds) fills most of it. */
const TINY_QUOTA = '64K';
const FILLER_BYTES = 50 * 1024;
const NEXT_BYTES = 30 * 1024;

interface SmtplibResult {
  refused: Record<string, [number, string]>;
  accepted: boolean;
  error: string | null;
}

/** One message through Python's smtplib (which announces SIZE=, as MTAs do). */
function smtplibSend(host: string, port: number, sender: string, recipients: string[], bodyBytes: number, messageId: string): SmtplibResult {
  const args = JSON.stringify({ host, port, sender, recipients, body_bytes: bodyBytes, message_id: messageId });
  const r = spawnSync('/usr/bin/python3', [new URL('../support/smtplib-send.py', import.meta.url).pathname, args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as SmtplibResult;
}

/** The queue of a Postfix instance, one JSON object per message (`postqueue -j`). */
function queued(configDir: string): { sender: string; recipients: { address: string }[] }[] {
  const out = execFileSync('postqueue', ['-c', configDir, '-j'], { encoding: 'utf8' }).trim();
  return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l) as { sender: string; recipients: { address: string }[] });
}

/** A series of the proxy agent's metrics, `name{label="value"}`; undefined when it does not export it. */
async function relayMetric(host: string, port: number, series: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
  const [name, label] = series.split('{');
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && (label === undefined || l.includes(label.replace('}', ''))));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/** Pids of the Dovecot quota-status processes under `ancestor` (a mailbox instance's agent). */
function quotaStatusProcesses(ancestor: number): number[] {
  const parentOf = (pid: number): number => Number(/^\d+ \(.*\) \S (\d+)/s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? 0);
  const under = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 10; p = parentOf(p), hops++) if (p === ancestor) return true;
    return false;
  };
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((pid) => {
    try {
      return (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '').endsWith('/quota-status') && under(pid);
    } catch {
      return false;
    }
  });
}

test('mailbox quota at RCPT on one host, with real daemons', { timeout: 300_000 }, async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 3, password: PASSWORD, roles: { mailbox: 1, proxy: 1, mta: 1, msa: 0, kvs: 0 } });
  const mta = await platform.instance('mta-0');
  const proxy = await platform.instance('proxy-0');
  const smtp = mta.ports.smtp as number;
  const mtaConfig = join(platform.stateDir, 'instances', 'mta-0', 'config');
  const full = `tiny@${DOMAIN}`;
  const other = `user1@${DOMAIN}`;
  const sender = 'forged-sender@client.test';
  const run = Date.now().toString(36);
  const metric = (series: string): Promise<number | undefined> => relayMetric(proxy.address, proxy.ports.http as number, series);

  await t.test(`GIVEN an account with a ${TINY_QUOTA} quota WHEN a ${FILLER_BYTES / 1024} KiB message fills most of it THEN it is delivered`, async () => {
    const added = platform.cli(['accounts', 'add', full, '--password', PASSWORD, '--quota', TINY_QUOTA]);
    assert.equal(added.code, 0, added.stderr);
    const r = smtplibSend(mta.address, smtp, sender, [full], FILLER_BYTES, `filler-${run}@client.test`);
    assert.deepEqual(r, { refused: {}, accepted: true, error: null });
    await waitQueueEmpty(mtaConfig);
    const ids = await imapMessageIds(proxy.address, proxy.ports.imaps as number, full, PASSWORD, platform.clientTls('implicit'));
    assert.ok(ids.includes(`filler-${run}@client.test`), `filler not in the mailbox: ${ids.join(', ')}`);
  });

  await t.test(`WHEN a ${NEXT_BYTES / 1024} KiB message for the full mailbox comes from smtplib THEN RCPT is refused 552 5.2.2, nothing is queued and nothing bounced; another account still receives`, async () => {
    const rejectedBefore = await metric('mailfleet_quota_relay_requests_total{answer="reject"}');
    const r = smtplibSend(mta.address, smtp, sender, [full, other], NEXT_BYTES, `next-${run}@client.test`);
    assert.equal(r.error, null);
    assert.equal(r.accepted, true, 'the other recipient took it');
    assert.deepEqual(Object.keys(r.refused), [full]);
    const [code, text] = r.refused[full] as [number, string];
    assert.equal(code, 552);
    assert.match(text, /^5\.2\.2 /);
    assert.notEqual(rejectedBefore, undefined, 'the relay exports its answers');
    assert.equal(await metric('mailfleet_quota_relay_requests_total{answer="reject"}'), (rejectedBefore as number) + 1);
    await waitQueueEmpty(mtaConfig);
    const ids = await imapMessageIds(proxy.address, proxy.ports.imaps as number, other, PASSWORD, platform.clientTls('implicit'));
    assert.ok(ids.includes(`next-${run}@client.test`), 'the other account has it');
    // Refused at RCPT: Postfix never took it for the full mailbox, so no bounce was made (one would wait in the queue
    // for the sender's domain, which this host never delivers to).
    assert.deepEqual(queued(mtaConfig), []);
    const fullIds = await imapMessageIds(proxy.address, proxy.ports.imaps as number, full, PASSWORD, platform.clientTls('implicit'));
    assert.ok(!fullIds.includes(`next-${run}@client.test`));
  });

  await t.test('WHEN the backend\'s quota-status does not answer (stopped) THEN the same message is accepted (fail-open) within the deadline and the fail-open counter moves', async (tt) => {
    const mailbox = await platform.instance('mailbox-0');
    const stopped = quotaStatusProcesses(mailbox.pid as number);
    // Thawed even when an assertion fails, before the platform goes down.
    tt.after(() => {
      for (const pid of stopped) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // gone
        }
      }
    });
    assert.ok(stopped.length > 0, 'the mailbox runs quota-status processes');
    for (const pid of stopped) process.kill(pid, 'SIGSTOP');
    const failOpenBefore = (await metric('mailfleet_quota_relay_requests_total{answer="fail_open"}')) ?? Number.NaN;
    const started = Date.now();
    // The relay's pooled connection goes to a stopped process, and so does a new one (Dovecot hands it to an idle process).
    const r = smtplibSend(mta.address, smtp, sender, [full], NEXT_BYTES, `unchecked-${run}@client.test`);
    assert.deepEqual(r, { refused: {}, accepted: true, error: null });
    assert.ok(Date.now() - started < 10_000, 'answered within Postfix\'s policy timeout, not after it');
    assert.equal(await metric('mailfleet_quota_relay_requests_total{answer="fail_open"}'), failOpenBefore + 1);
    const reasons = await Promise.all(['deadline', 'timeout'].map((reason) => metric(`mailfleet_quota_relay_fail_open_total{reason="${reason}"}`)));
    assert.ok(reasons.reduce((a: number, b) => a + (b ?? 0), 0) >= 1, 'counted as the backend not answering in time');
  });

  await t.test('WHEN quota-status answers again THEN the full mailbox is refused at RCPT again', async () => {
    await until('the relay refuses the full mailbox again', async () => {
      const r = smtplibSend(mta.address, smtp, sender, [full], NEXT_BYTES, `again-${run}-${Date.now()}@client.test`);
      return r.refused[full]?.[0] === 552 ? true : undefined;
    }, 30_000, 1000);
  });
});
