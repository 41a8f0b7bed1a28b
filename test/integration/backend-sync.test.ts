import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { eachLimited, imapFlowTls, imapMessageIds, message, sendAll, waitQueueEmpty } from '../support/mail.ts';
import { DOMAIN, doveadm, startPlatform, type Platform } from '../support/platform.ts';
import { until } from '../support/poll.ts';

const run = promisify(execFile);
const POOL = '127.83.0.0/16';
const PASSWORD = 'sync-password-1';
const ACCOUNTS = 60;
const RESYNC_SECONDS = 3;

/** proxy-0's address, asked again only after it moved. */
const proxyCache = new WeakMap<Platform, { host: string; doveadm: number; imap: number }>();
async function proxyOf(p: Platform, refresh = false) {
  const cached = proxyCache.get(p);
  if (cached && !refresh) return cached;
  const proxy = (await p.instance('proxy-0'));
  const found = { host: proxy.address, doveadm: proxy.ports.doveadm as number, imap: proxy.ports.imap as number };
  proxyCache.set(p, found);
  return found;
}

async function directorHosts(p: Platform): Promise<string[]> {
  const { host, doveadm: port } = await proxyOf(p);
  return (await doveadm(host, port, 'directorStatus')).map((r) => r['mail server ip'] as string).sort();
}

async function liveBackends(p: Platform): Promise<string[]> {
  return (await p.status()).filter((i) => i.role === 'mailbox' && i.ready).map((i) => i.address).sort();
}

async function currentHost(p: Platform, user: string): Promise<string> {
  const { host, doveadm: port } = await proxyOf(p);
  const [row] = await doveadm(host, port, 'directorStatus', { user });
  return row?.status ?? 'n/a';
}

async function login(p: Platform, user: string): Promise<string[]> {
  const { host, imap } = await proxyOf(p);
  return imapMessageIds(host, imap, user, PASSWORD, p.clientTls('starttls'));
}

/** Users with a session on each backend, from `doveadm who` against the backend's own anvil. */
async function sessionsByBackend(p: Platform): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const i of (await p.status()).filter((x) => x.role === 'mailbox' && x.state === 'running')) {
    const conf = join(p.stateDir, 'instances', i.name, 'config', 'dovecot.conf');
    const { stdout } = await run('doveadm', ['-c', conf, 'who', '-1']).catch(() => ({ stdout: '' }));
    out.set(i.name, stdout.split('\n').slice(1).map((l) => l.split(/\s+/)[0] ?? '').filter((u) => u.includes('@')));
  }
  return out;
}

function metricsText(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ socketPath, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

test('backend sync with the real director and backends', { timeout: 900_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: ACCOUNTS,
    password: PASSWORD,
    roles: { mailbox: 3, proxy: 1, mta: 1, msa: 0 },
    director: { resyncSeconds: RESYNC_SECONDS, drainTimeoutSeconds: 20 },
  });
  const users = Array.from({ length: ACCOUNTS }, (_, i) => `user${i + 1}@${DOMAIN}`);
  const ids = new Map(users.map((u) => [u, `sync-${u}-${Date.now()}@client.test`]));
  const mta = (await platform.instance('mta-0'));
  const mtaConfig = join(platform.stateDir, 'instances', 'mta-0', 'config');
  const deliver = async (to: string[]) => {
    await sendAll(mta.address, mta.ports.smtp as number, to.map((u) => message(ids.get(u) as string, 'sender@remote.test', u)), 4);
    await waitQueueEmpty(mtaConfig);
  };
  // The second half stays fresh: never delivered to nor logged in, so the director has no mapping for them.
  const fresh = users.slice(ACCOUNTS / 2);
  await deliver(users.slice(0, ACCOUNTS / 2));

  await t.test('GIVEN a started platform THEN the director holds exactly the live backends and status shows them up', async () => {
    await until('director = live backends', async () => ((await directorHosts(platform)).join() === (await liveBackends(platform)).join() ? true : undefined), 10_000);
    for (const i of (await platform.status()).filter((x) => x.role === 'mailbox')) assert.equal((i as { director?: { state: string } }).director?.state, 'up', i.name);
  });

  let fourth = '';
  await t.test('WHEN mailbox scales 3 → 4 THEN new logins of fresh accounts land on the fourth backend', async () => {
    const r = platform.cli(['scale', 'mailbox', '4']);
    assert.equal(r.code, 0, r.stderr);
    fourth = (await platform.instance('mailbox-3')).address;
    await until('mailbox-3 in the director', async () => ((await directorHosts(platform)).includes(fourth) ? true : undefined), 5_000);
    await eachLimited(fresh, 6, (u) => login(platform, u));
    const hosts = await eachLimited(fresh, 6, (u) => currentHost(platform, u));
    assert.ok(hosts.includes(fourth), `no fresh user on ${fourth}: ${hosts.join(' ')}`);
    // Their mail now goes to the backend each was assigned to, mailbox-3 included.
    await deliver(fresh);
  });

  await t.test('WHEN mailbox scales 4 → 3 THEN its users move, log in and read their mail, and nobody is on two backends at once', async () => {
    const moved = (await eachLimited(fresh, 6, async (u) => ((await currentHost(platform, u)) === fourth ? u : undefined))).filter((u): u is string => !!u);
    assert.ok(moved.length > 0);
    const { host, imap } = await proxyOf(platform);
    const sessions = await Promise.all(moved.map(async (u) => {
      const c = new ImapFlow({ host, port: imap, auth: { user: u, pass: PASSWORD }, logger: false, ...imapFlowTls(platform.clientTls('starttls')) });
      c.on('error', () => undefined);
      await c.connect();
      await c.mailboxOpen('INBOX');
      return c;
    }));
    t.after(() => sessions.forEach((c) => c.close()));
    let sampling = true;
    const doubles: string[] = [];
    const sampler = (async () => {
      while (sampling) {
        const seen = new Map<string, string>();
        for (const [backend, list] of await sessionsByBackend(platform)) {
          for (const u of list) {
            if (seen.has(u) && seen.get(u) !== backend) doubles.push(`${u} on ${seen.get(u)} and ${backend}`);
            seen.set(u, backend);
          }
        }
      }
    })();
    const r = platform.cli(['scale', 'mailbox', '3']);
    sampling = false;
    await sampler;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(doubles, []);
    assert.ok(!(await directorHosts(platform)).includes(fourth));
    for (const u of moved) {
      assert.deepEqual(await login(platform, u), [ids.get(u)], `${u} reads its mail after the move`);
      assert.notEqual(await currentHost(platform, u), fourth);
    }
  });

  await t.test('WHEN a backend is killed with -9 THEN its users are served elsewhere within seconds and the director then holds exactly the live addresses', async () => {
    const victim = (await platform.instance('mailbox-1'));
    const loggedIn = (await eachLimited(users, 6, async (u) => ((await currentHost(platform, u)) === victim.address ? u : undefined))).filter((u): u is string => !!u);
    const user = loggedIn[0] ?? users[0];
    assert.ok(user !== undefined, 'a user to follow');
    const pid = await run('pgrep', ['-f', `dovecot -F -c ${join(platform.stateDir, 'instances', 'mailbox-1', 'config')}/dovecot.conf`]);
    const killedAt = Date.now();
    process.kill(Number(pid.stdout.trim().split('\n')[0]), 'SIGKILL');
    await until(`${user} served by another backend`, async () => ((await login(platform, user)).includes(ids.get(user) as string) ? true : undefined), 30_000);
    const servedAfterMs = Date.now() - killedAt;
    t.diagnostic(`${user} served again ${servedAfterMs} ms after the kill`);
    assert.ok(servedAfterMs < 15_000, `took ${servedAfterMs} ms`);
    await until('mailbox-1 back on a new address', async () => {
      const now = (await platform.instance('mailbox-1'));
      return now.ready && now.address !== victim.address ? true : undefined;
    }, 60_000);
    await until('director = live backends', async () => ((await directorHosts(platform)).join() === (await liveBackends(platform)).join() ? true : undefined), 10_000);
  });

  await t.test('WHEN a backend is removed behind the controller\'s back THEN the periodic resync repairs it', async () => {
    const { host, doveadm: port } = await proxyOf(platform);
    const target = (await platform.instance('mailbox-0')).address;
    await doveadm(host, port, 'directorRemove', { host: target });
    assert.ok(!(await directorHosts(platform)).includes(target));
    await until('resync re-adds the backend', async () => ((await directorHosts(platform)).includes(target) ? true : undefined), (RESYNC_SECONDS + 3) * 1000);
  });

  await t.test('WHEN the whole proxy layer restarts THEN the correct backend set is back within one resync', async () => {
    const before = (await platform.instance('proxy-0'));
    const pid = await run('pgrep', ['-f', `dovecot -F -c ${join(platform.stateDir, 'instances', 'proxy-0', 'config')}/dovecot.conf`]);
    process.kill(Number(pid.stdout.trim().split('\n')[0]), 'SIGKILL');
    await until('proxy-0 back', async () => {
      const now = (await platform.instance('proxy-0'));
      return now.ready && now.address !== before.address ? true : undefined;
    }, 60_000);
    await proxyOf(platform, true);
    await until('director = live backends', async () => ((await directorHosts(platform)).join() === (await liveBackends(platform)).join() ? true : undefined), (RESYNC_SECONDS + 3) * 1000);
  });

  await t.test('THEN the controller metrics show backends by state, reconciles and sync latency', async () => {
    const text = await metricsText(join(platform.stateDir, 'control.sock'));
    assert.match(text, /^mailfleet_backends\{state="up"\} 3$/m);
    assert.match(text, /^mailfleet_backends_sync_latency_seconds_count [1-9]\d*$/m);
    assert.match(text, /^mailfleet_backends_reconciles_total\{result="applied"\} [1-9]\d*$/m);
    assert.match(text, /^mailfleet_backends_steps_total\{op="remove"\} [1-9]\d*$/m);
  });
});
