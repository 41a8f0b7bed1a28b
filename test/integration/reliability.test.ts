import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { agentSocket, instanceContext } from '../../src/agent/index.ts';
import { openSmtpSession, type SmtpSession } from '../../src/protocol/index.ts';
import { eachLimited, imapMessageIds, message, waitQueueEmpty } from '../support/mail.ts';
import { DOMAIN, processesMentioning, runCli, startPlatform, type Platform } from '../support/platform.ts';
import { until } from '../support/poll.ts';

const POOL = '127.84.0.0/16';
const PASSWORD = 'reliable-password';
const ACCOUNTS = 50;

interface LoadResult {
  accepted: Map<string, string>;
  refused: number;
  failedSessions: number;
}

/**
 * Sends `count` messages with unique Message-IDs over `parallel` sessions to whichever mta instances are
 * up, following them as they move. A message whose outcome is unknown (the session broke) is never resent
 * under the same Message-ID: only those answered 250 count as accepted (into `accepted`, which the caller
 * may watch while the load runs).
 */
async function load(p: Platform, count: number, parallel: number, run: string, accepted = new Map<string, string>()): Promise<LoadResult> {
  let refused = 0;
  let failedSessions = 0;
  let next = 0;
  const mtas = async () => (await p.status()).filter((i) => i.role === 'mta' && i.ready);
  await Promise.all(Array.from({ length: parallel }, async (_, worker) => {
    let session: SmtpSession | undefined;
    while (next < count) {
      if (!session) {
        const list = await mtas();
        const target = list[worker % Math.max(1, list.length)];
        if (!target) {
          await delay(200);
          continue;
        }
        try {
          session = await openSmtpSession({ host: target.address, port: target.ports.smtp as number, heloName: 'load.test', timeoutMs: 20_000 });
        } catch {
          failedSessions++;
          await delay(200);
          continue;
        }
      }
      const i = next++;
      const to = `user${(i % ACCOUNTS) + 1}@${DOMAIN}`;
      const id = `load-${run}-${i}@load.test`;
      try {
        const r = await session.send(message(id, 'sender@remote.test', to));
        if (r.data?.code === 250) accepted.set(id, to);
        else {
          refused++;
          await session.quit();
          session = undefined;
        }
      } catch {
        failedSessions++;
        session = undefined;
      }
    }
    await session?.quit();
  }));
  return { accepted, refused, failedSessions };
}

async function settle(p: Platform): Promise<void> {
  for (const i of (await p.status()).filter((x) => x.role === 'mta')) {
    const conf = join(p.stateDir, 'instances', i.name, 'config');
    execFileSync('postqueue', ['-c', conf, '-f']);
    await waitQueueEmpty(conf, 240_000);
  }
}

async function census(p: Platform, expected: Map<string, string>) {
  const proxy = (await p.instance('proxy-0'));
  const users = Array.from({ length: ACCOUNTS }, (_, i) => `user${i + 1}@${DOMAIN}`);
  const seen = await eachLimited(users, 6, async (u) => ({ user: u, ids: await imapMessageIds(proxy.address, proxy.ports.imaps as number, u, PASSWORD, p.clientTls('implicit')) }));
  const count = new Map<string, number>();
  for (const { user, ids } of seen) {
    for (const id of ids) {
      count.set(id, (count.get(id) ?? 0) + 1);
      if (expected.has(id)) assert.equal(expected.get(id), user, `${id} in ${user}`);
    }
  }
  const lost = [...expected.keys()].filter((id) => !count.has(id));
  const duplicated = [...count.entries()].filter(([, n]) => n > 1).map(([id]) => id);
  return { delivered: [...expected.keys()].filter((id) => count.get(id) === 1).length, lost, duplicated };
}

/** A process's state letter from /proc (R, S, T, Z, …), or `gone`. */
function runState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return 'gone';
  }
}

test('reliability: rolling restarts, kill -9, hung daemons, stale pid files', { timeout: 1_200_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: ACCOUNTS,
    password: PASSWORD,
    roles: { mailbox: 3, proxy: 1, mta: 2, msa: 0 },
    director: { resyncSeconds: 5, drainTimeoutSeconds: 15 },
    extra: { drainSeconds: 15, hungSeconds: 6 },
  });

  await t.test('GIVEN 2,000 messages under load WHEN mta, proxy and mailbox are roll-restarted THEN every accepted message is in exactly one mailbox, once', async () => {
    const run = `roll${Date.now().toString(36)}`;
    const sending = load(platform, 2000, 6, run);
    const durations: Record<string, number> = {};
    for (const role of ['mta', 'proxy', 'mailbox']) {
      const started = Date.now();
      const r = platform.cli(['restart', role]);
      assert.equal(r.code, 0, `${role}: ${r.stderr}`);
      durations[role] = Date.now() - started;
    }
    const result = await sending;
    await settle(platform);
    const c = await census(platform, result.accepted);
    t.diagnostic(`accepted ${result.accepted.size}, refused ${result.refused}, broken sessions ${result.failedSessions}, delivered ${c.delivered}, lost ${c.lost.length}, duplicated ${c.duplicated.length}; rolling restart ms: ${JSON.stringify(durations)}`);
    assert.ok(result.accepted.size > 1000, `only ${result.accepted.size} accepted`);
    assert.deepEqual({ lost: c.lost.slice(0, 5), duplicated: c.duplicated.slice(0, 5) }, { lost: [], duplicated: [] });
  });

  await t.test('WHEN an mta is killed with -9 mid-load THEN after self-healing its queue is delivered and nothing accepted is lost', async () => {
    const run = `kill${Date.now().toString(36)}`;
    const victim = (await platform.instance('mta-0'));
    const accepted = new Map<string, string>();
    const sending = load(platform, 600, 4, run, accepted);
    // Kill once the load is well under way (not after a fixed time: on a fast machine it could be over).
    await until('100 messages accepted', async () => (accepted.size >= 100 ? true : undefined), 120_000, 20);
    // This platform's agent only: other platforms on this host run an mta-0 too.
    const agentPid = processesMentioning(platform.stateDir).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes('agent --role mta --name mta-0 '));
    assert.ok(agentPid !== undefined, 'the agent of mta-0');
    const masterPid = Number(readFileSync(join(platform.stateDir, 'data', 'mta-0', 'queue', 'pid', 'master.pid'), 'utf8').trim());
    process.kill(agentPid, 'SIGKILL');
    process.kill(masterPid, 'SIGKILL');
    const acceptedAtKill = accepted.size;
    const result = await sending;
    assert.ok(acceptedAtKill < 600, 'the kill came before the load ended');
    // The runtime notices the death and brings mta-0 back on a new address: wait for that state.
    const back = await until('mta-0 back on a new address', async () => {
      const now = await platform.instance('mta-0');
      return now.ready && now.address !== victim.address && now.restarts >= 1 ? now : undefined;
    }, 120_000, 200);
    t.diagnostic(`killed after ${acceptedAtKill} accepted; mta-0 back on ${back.address} after ${back.restarts} restart(s)`);
    await settle(platform);
    const c = await census(platform, result.accepted);
    t.diagnostic(`accepted ${result.accepted.size}, delivered ${c.delivered}, lost ${c.lost.length}, duplicated ${c.duplicated.length}`);
    assert.deepEqual({ lost: c.lost.slice(0, 5), duplicated: c.duplicated.slice(0, 5) }, { lost: [], duplicated: [] });
  });

  await t.test('WHEN a daemon is stopped with SIGSTOP THEN /readyz fails within seconds and /livez after its threshold, and both recover on SIGCONT', async () => {
    const box = (await platform.instance('mailbox-2'));
    const base = `http://${box.address}:${box.ports.http}`;
    const status = async (path: string) => (await fetch(base + path, { signal: AbortSignal.timeout(10_000) })).status;
    assert.equal(await status('/readyz'), 200);
    const conf = join(platform.stateDir, 'instances', 'mailbox-2', 'config', 'dovecot.conf');
    const pids = execFileSync('pgrep', ['-f', conf], { encoding: 'utf8' }).trim().split('\n').map(Number);
    const stoppedAt = Date.now();
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    t.after(() => pids.forEach((pid) => { try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ } }));
    // The whole login/lmtp tree is children of the master; stop them too so nothing answers.
    const children = execFileSync('pgrep', ['-P', pids.join(',')], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    for (const pid of children) process.kill(pid, 'SIGSTOP');
    t.after(() => children.forEach((pid) => { try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ } }));
    while ((await status('/readyz')) === 200) await delay(200);
    const readyFailedMs = Date.now() - stoppedAt;
    assert.equal(await status('/livez'), 200, 'liveness must not fail before its threshold');
    while ((await status('/livez')) === 200) await delay(500);
    const liveFailedMs = Date.now() - stoppedAt;
    t.diagnostic(`readyz failed after ${readyFailedMs} ms, livez after ${liveFailedMs} ms`);
    assert.ok(readyFailedMs < 5000, `readyz took ${readyFailedMs} ms`);
    // The threshold (6 s) runs from the last good answer, which came shortly before the stop.
    assert.ok(liveFailedMs >= 4000 && liveFailedMs > readyFailedMs, `livez failed too early: ${liveFailedMs} ms`);
    for (const pid of [...pids, ...children]) process.kill(pid, 'SIGCONT');
    await (async () => {
      const deadline = Date.now() + 15_000;
      while ((await status('/readyz')) !== 200 || (await status('/livez')) !== 200) {
        assert.ok(Date.now() < deadline, 'did not recover after SIGCONT');
        await delay(200);
      }
    })();
  });

  await t.test('WHEN a daemon stays stopped past the liveness window THEN the runtime restarts its instance on a new address, ready again', async () => {
    const box = await platform.instance('mailbox-2');
    const conf = join(platform.stateDir, 'instances', 'mailbox-2', 'config', 'dovecot.conf');
    const masters = execFileSync('pgrep', ['-f', conf], { encoding: 'utf8' }).trim().split('\n').map(Number);
    const tree = [...masters, ...execFileSync('pgrep', ['-P', masters.join(',')], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number)];
    for (const pid of tree) process.kill(pid, 'SIGSTOP');
    // Whatever the restart does not kill is let go at the end.
    t.after(() => tree.forEach((pid) => { try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ } }));
    const stoppedAt = Date.now();
    // hungSeconds (6) until /livez fails, LIVENESS_FAILURE_MS (30 s) of failing, the drain budget (15 s), the stop.
    const back = await until('mailbox-2 restarted on a new address and ready', async () => {
      const now = await platform.instance('mailbox-2');
      return now.ready && now.address !== box.address && now.restarts > box.restarts ? now : undefined;
    }, 150_000, 500);
    t.diagnostic(`mailbox-2 back on ${back.address} ${Math.round((Date.now() - stoppedAt) / 1000)} s after its daemon stopped`);
    const log = readFileSync(join(platform.stateDir, 'logs', 'runtime.log'), 'utf8');
    assert.match(log, /"instance":"mailbox-2".*instance failed its liveness probe; restarting it/);
    // Killed, each is gone at once or a zombie until whoever adopted it reaps it: neither runs any more.
    for (const pid of tree) {
      const state = await until(`process ${pid} of the hung daemon gone`, async () => {
        const s = runState(pid);
        return s === 'gone' || s === 'Z' ? s : undefined;
      }, 10_000, 200);
      t.diagnostic(`process ${pid}: ${state}`);
    }
  });

  await t.test('GIVEN a stale master.pid from a killed Postfix WHEN the mta starts again THEN it comes up', async () => {
    const pidFile = join(platform.stateDir, 'data', 'mta-1', 'queue', 'pid', 'master.pid');
    const masterPid = Number(readFileSync(pidFile, 'utf8').trim());
    const before = (await platform.instance('mta-1'));
    process.kill(masterPid, 'SIGKILL');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const now = (await platform.instance('mta-1'));
      if (now.ready && now.address !== before.address) break;
      assert.ok(Date.now() < deadline, 'mta-1 did not come back');
      await delay(200);
    }
    assert.ok(existsSync(pidFile));
    assert.notEqual(Number(readFileSync(pidFile, 'utf8').trim()), masterPid);
  });

  await t.test('WHEN an mta agent is asked to drain (the preStop hook) THEN it goes unready, answers new SMTP sessions with 421 and reports an empty queue', async () => {
    const mta = (await platform.instance('mta-1'));
    const base = `http://${mta.address}:${mta.ports.http}`;
    // As the preStop hook does, on the agent's control socket.
    const socket = agentSocket(instanceContext(platform.stateDir, 'mta', mta.name, mta.address).runDir);
    const r = runCli(['agent', 'drain', '--socket', socket]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const report = JSON.parse(r.stdout) as { completed: boolean; detail: string };
    assert.equal(report.completed, true, report.detail);
    assert.equal((await fetch(`${base}/readyz`)).status, 503);
    await assert.rejects(openSmtpSession({ host: mta.address, port: mta.ports.smtp as number, heloName: 'late.test' }), (err: { replyCode?: number }) => err.replyCode === 421);
  });
});
