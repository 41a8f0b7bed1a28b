/**
 * Who may drain an instance. A drain takes an MTA, a proxy or a mailbox out of service: only root (the runtime,
 * an operator) and, in a pod, the preStop hook may ask, on the agent's control socket. The HTTP port, which on
 * the single host every local user reaches (every instance address is loopback) and in a pod the network
 * does, serves probes and metrics only.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { instanceContext } from '../../src/agent/index.ts';
import { openSmtpSession } from '../../src/protocol/index.ts';
import type { Role } from '../../src/spec/index.ts';
import { ensureBuilt } from '../support/build.ts';
import { runCli, startPlatform, type InstanceStatus } from '../support/platform.ts';
import { until } from '../support/poll.ts';

const POOL = '127.99.0.0/16';
/** A loopback address no instance has: any local process can send from it. */
const STRANGER = '127.99.250.1';
const DRAIN_SECONDS = 2;
/** How long past its budget a drain may run before /livez fails, as the README says. */
const DRAIN_MARGIN_MS = 10_000;

interface Answer {
  status: number;
  body: string;
}

/** One HTTP request to an agent's port, optionally sent from `localAddress`. */
function ask(method: 'GET' | 'POST', instance: InstanceStatus, path: string, localAddress?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: instance.address, port: instance.ports.http, method, path, agent: false, timeout: 10_000, ...(localAddress ? { localAddress } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Where the README says an agent's control socket is: RUN_DIR/agent.sock (a mail role's instance: the prober and the policy server have no agent). */
function socketOf(stateDir: string, instance: InstanceStatus): string {
  return join(instanceContext(stateDir, instance.role as Role, instance.name, instance.address).runDir, 'agent.sock');
}

/** The pid of the agent's child running `exe` (its daemon's master), or undefined. */
function daemonPid(agentPid: number, exe: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === agentPid && readlinkSync(`/proc/${entry}/exe`) === exe) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

test('agents take a drain only on their root-only control socket', { timeout: 300_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: 1,
    roles: { ldap: 1, kvs: 0, mta: 1, msa: 0, proxy: 1, mailbox: 1 },
    extra: { drainSeconds: DRAIN_SECONDS },
  });
  const mta = await platform.instance('mta-0');
  const socket = socketOf(platform.stateDir, mta);

  /** The mta is untouched: ready, not draining, and it greets new SMTP sessions. */
  async function stillServing(): Promise<void> {
    assert.equal((await ask('GET', mta, '/readyz')).status, 200);
    assert.match((await ask('GET', mta, '/metrics')).body, /^mailfleet_agent_draining\{[^}]*\} 0$/m);
    const session = await openSmtpSession({ host: mta.address, port: mta.ports.smtp as number, heloName: 'still.test', timeoutMs: 10_000 });
    await session.quit();
  }

  await t.test('GIVEN a ready mta WHEN POST /drain reaches its HTTP port, from its own address or a stranger\'s THEN it is refused with 403 and nothing changes', async () => {
    for (const from of [undefined, mta.address, STRANGER]) {
      const answer = await ask('POST', mta, '/drain', from);
      assert.equal(answer.status, 403, `from ${from ?? 'the default address'}: ${answer.body}`);
      assert.match(answer.body, /control socket/);
    }
    await stillServing();
  });

  await t.test('GIVEN a ready mta and proxy WHEN their agents get SIGUSR1 and SIGUSR2 THEN each is passed on only where the daemon has a use for it: Postfix\'s master keeps running, Dovecot reopens its logs, nothing restarts', async () => {
    const proxy = await platform.instance('proxy-0');
    const targets = [
      { instance: mta, exe: '/usr/lib/postfix/sbin/master', passed: [] as string[] },
      { instance: proxy, exe: '/usr/sbin/dovecot', passed: ['SIGUSR1'] },
    ];
    for (const { instance, exe, passed } of targets) {
      const agent = instance.pid;
      assert.ok(agent !== null, instance.name);
      const daemon = daemonPid(agent, exe);
      assert.ok(daemon !== undefined, `${instance.name}: no ${exe} under agent ${agent}`);
      for (const sig of ['SIGUSR1', 'SIGUSR2'] as const) {
        process.kill(agent, sig);
        const log = join(platform.stateDir, 'logs', `${instance.name}.log`);
        const said = passed.includes(sig) ? `${sig} passed on to the daemon` : `${sig} not passed on`;
        await until(`${instance.name}: "${said}" in its log`, async () => (readFileSync(log, 'utf8').includes(said) ? true : undefined), 10_000);
      }
      await delay(1000);
      assert.equal(daemonPid(agent, exe), daemon, `${instance.name}: ${exe} still runs as pid ${daemon}`);
      const now = await platform.instance(instance.name);
      assert.equal(now.pid, agent, `${instance.name}: the agent was not restarted`);
      assert.equal(now.restarts, instance.restarts, instance.name);
      assert.equal((await ask('GET', now, '/readyz')).status, 200, instance.name);
    }
    await stillServing();
  });

  await t.test('THEN an agent runs with the allocator setting of bin/mailfleet, and its daemon without it (glibc\'s default)', async () => {
    const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const agent = (await platform.instance('mta-0')).pid;
    assert.ok(agent !== null);
    const daemon = daemonPid(agent, '/usr/lib/postfix/sbin/master');
    assert.ok(daemon !== undefined);
    assert.ok(environ(agent).includes('MALLOC_MMAP_THRESHOLD_=32768'), 'the agent');
    assert.ok(!environ(daemon).some((v) => v.startsWith('MALLOC_MMAP_THRESHOLD_=')), 'Postfix\'s master');
    assert.ok(environ(daemon).includes('MALLOC_TRIM_THRESHOLD_=131072'), 'Postfix\'s master keeps the trim threshold');
  });

  await t.test('THEN probes and metrics stay open on the HTTP port', async () => {
    for (const path of ['/livez', '/readyz', '/metrics']) assert.equal((await ask('GET', mta, path, STRANGER)).status, 200, path);
  });

  await t.test('THEN every agent\'s control socket is in its run dir: a socket, mode 0600, owned by root', async () => {
    for (const instance of await platform.status()) {
      const st = lstatSync(socketOf(platform.stateDir, instance));
      assert.ok(st.isSocket(), instance.name);
      assert.equal(st.mode & 0o777, 0o600, `${instance.name}: mode ${(st.mode & 0o777).toString(8)}`);
      assert.equal(st.uid, 0, instance.name);
    }
  });

  await t.test('GIVEN a local user other than root WHEN it runs mailfleet agent drain on the socket THEN it cannot connect and nothing changes', async () => {
    const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, ensureBuilt(), 'agent', 'drain', '--socket', socket], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /no agent answers on .*EACCES/);
    await stillServing();
  });

  const askedAt = Date.now();
  await t.test('WHEN root runs mailfleet agent drain --name THEN the drain completes, the mta goes unready and new sessions get 421', async () => {
    const r = runCli(['agent', 'drain', '--name', mta.name, '--state-dir', platform.stateDir]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const report = JSON.parse(r.stdout) as { completed: boolean; detail: string };
    assert.equal(report.completed, true, report.detail);
    assert.equal((await ask('GET', mta, '/readyz')).status, 503);
    await assert.rejects(openSmtpSession({ host: mta.address, port: mta.ports.smtp as number, heloName: 'late.test' }), (err: { replyCode?: number }) => err.replyCode === 421);
  });

  await t.test('WHEN the drain outlives its budget and margin THEN /livez fails, so the kubelet restarts the instance; until then it holds', async () => {
    const limitMs = DRAIN_SECONDS * 1000 + DRAIN_MARGIN_MS;
    assert.ok(Date.now() - askedAt < limitMs, 'this test came too late to see /livez hold');
    assert.equal((await ask('GET', mta, '/livez')).status, 200);
    await until('/livez to fail', async () => ((await ask('GET', mta, '/livez')).status === 503 ? true : undefined), limitMs + 10_000, 250);
    assert.ok(Date.now() - askedAt >= limitMs, `/livez failed after ${Date.now() - askedAt} ms, before the budget and margin of ${limitMs} ms`);
  });
});
