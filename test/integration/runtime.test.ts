import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { openSmtpSession } from '../../src/protocol/index.ts';
import { watchEndpoints } from '../support/endpoints.ts';
import { imapMessageIds, message, waitQueueEmpty } from '../support/mail.ts';
import { DOMAIN, doveadm, localCaFile, startPlatform } from '../support/platform.ts';

const POOL = '127.82.0.0/16';
const PASSWORD = 'runtime-password';

async function waitUntil<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

async function rcptCode(host: string, port: number, to: string): Promise<number | undefined> {
  const session = await openSmtpSession({ host, port, heloName: 'client.test', timeoutMs: 15_000 });
  try {
    const r = await session.send(message(`probe-${Date.now()}@client.test`, 'sender@remote.test', to));
    return r.data?.code ?? r.rcpt[0]?.code;
  } finally {
    await session.quit();
  }
}

test('the single-host runtime: status, endpoints, scaling, self-healing, accounts', { timeout: 600_000 }, async (t) => {
  // A drain budget of 12 s: the last subtest waits it out once.
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 5, password: PASSWORD, roles: { mailbox: 2, proxy: 1, mta: 1, msa: 0 }, extra: { drainSeconds: 12 } });
  const watch = watchEndpoints(t, join(platform.stateDir, 'control.sock'));
  await watch.waitFor((e) => e.type === 'SYNCED', 10_000);

  await t.test('GIVEN a running platform WHEN status --json is asked THEN every instance shows role, address, ports by protocol, state and readiness', async () => {
    const r = platform.cli(['status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const all = (JSON.parse(r.stdout) as { instances: Awaited<ReturnType<typeof platform.status>> }).instances;
    assert.deepEqual(all.map((i) => i.name), ['ldap-0', 'kvs-0', 'mailbox-0', 'mailbox-1', 'proxy-0', 'mta-0']);
    for (const i of all) {
      assert.match(i.address, /^127\.82\.\d+\.\d+$/);
      assert.equal(i.state, 'running');
      assert.equal(i.ready, true);
      assert.equal(i.restarts, 0);
    }
    // No msa here, so no SMTP AUTH relay port on the proxy; the quota relay's port while the mta asks at RCPT.
    assert.deepEqual(Object.keys((await platform.instance('proxy-0')).ports).sort(), ['director', 'doveadm', 'http', 'imap', 'imaps', 'lmtp', 'pop3', 'pop3s', 'quotaStatus']);
    assert.equal((await platform.instance('mailbox-0')).ports.quotaStatus, 12340);
    assert.equal((await platform.instance('mta-0')).ports.smtp, 25);
  });

  await t.test('WHEN the endpoint stream is opened THEN it lists every instance as ready before SYNCED', () => {
    const synced = watch.events.findIndex((e) => e.type === 'SYNCED');
    const listed = watch.events.slice(0, synced).map((e) => `${e.endpoint?.name}:${e.endpoint?.ready}`).sort();
    assert.deepEqual(listed, ['kvs-0:true', 'ldap-0:true', 'mailbox-0:true', 'mailbox-1:true', 'mta-0:true', 'proxy-0:true']);
  });

  await t.test('WHEN mailbox is scaled to 3 THEN mailbox-2 appears, becomes ready and is published', async () => {
    const from = watch.events.length;
    const r = platform.cli(['scale', 'mailbox', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await platform.instance('mailbox-2')).ready, true);
    await watch.waitFor((e) => e.endpoint?.name === 'mailbox-2' && e.endpoint.ready, 10_000, from);
  });

  await t.test('WHEN scale returns THEN the new backend is already up in the director and status says so', async () => {
    const added = await platform.instance('mailbox-2');
    const proxy = await platform.instance('proxy-0');
    const row = (await doveadm(proxy.address, proxy.ports.doveadm as number, 'directorStatus')).find((h) => h['mail server ip'] === added.address);
    assert.equal(row?.state, 'up', `the director lists mailbox-2 (${added.address}) up`);
    assert.deepEqual(added.director && { state: added.director.state, listedBy: added.director.listedBy, directors: added.director.directors }, { state: 'up', listedBy: 1, directors: 1 });
  });

  await t.test('WHEN a user logs in through the proxy THEN status at once shows that user on the backend the director chose', async () => {
    const proxy = await platform.instance('proxy-0');
    const user = `user2@${DOMAIN}`;
    await imapMessageIds(proxy.address, proxy.ports.imap as number, user, PASSWORD, platform.clientTls('starttls'));
    const [assigned] = await doveadm(proxy.address, proxy.ports.doveadm as number, 'directorStatus', { user });
    const backend = (await platform.status()).find((i) => i.role === 'mailbox' && i.address === assigned?.status);
    assert.ok(backend, `a mailbox at ${assigned?.status ?? '?'}`);
    assert.ok((backend.director?.users ?? 0) >= 1, `status shows ${backend.name}'s users: ${JSON.stringify(backend.director)}`);
  });

  await t.test('WHEN mailbox is scaled back to 2 THEN mailbox-2 is published terminating, then deleted, and shared mail storage stays', async () => {
    const from = watch.events.length;
    const r = platform.cli(['scale', 'mailbox', '2']);
    assert.equal(r.code, 0, r.stderr);
    await watch.waitFor((e) => e.endpoint?.name === 'mailbox-2' && e.endpoint.terminating, 10_000, from);
    await watch.waitFor((e) => e.type === 'DELETED' && e.endpoint?.name === 'mailbox-2', 10_000, from);
    assert.deepEqual((await platform.status()).filter((i) => i.role === 'mailbox').map((i) => i.name), ['mailbox-0', 'mailbox-1']);
    assert.ok(existsSync(join(platform.stateDir, 'data', 'mail-storage')));
    const drains = readFileSync(join(platform.stateDir, 'logs', 'mailbox-2.log'), 'utf8').split('\n').filter((l) => l.includes('"drain finished"'));
    assert.match(drains.at(-1) ?? '(no drain logged)', /"completed":true/, 'its drain heard from the directors that nobody is routed there');
  });

  await t.test('WHEN a role that cannot scale is scaled THEN the CLI says why and exits non-zero', () => {
    const r = platform.cli(['scale', 'ldap', '2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ldap runs as a single instance/);
  });

  await t.test('WHEN a mailbox daemon is killed with -9 THEN it comes back on a new address with a restart counted', async () => {
    const before = (await platform.instance('mailbox-1'));
    const from = watch.events.length;
    const pid = Number(readFileSync(`/run/mailfleet/${readdirRun(platform.stateDir)}/mailbox-1/master.pid`, 'utf8'));
    process.kill(pid, 'SIGKILL');
    await watch.waitFor((e) => e.type === 'DELETED' && e.endpoint?.address === before.address, 20_000, from);
    const back = await watch.waitFor((e) => e.endpoint?.name === 'mailbox-1' && e.endpoint.ready && e.endpoint.address !== before.address, 60_000, from);
    const now = (await platform.instance('mailbox-1'));
    assert.equal(now.address, back.endpoint?.address);
    assert.equal(now.restarts, 1);
  });

  await t.test('WHEN slapd is killed with -9 THEN ldap returns on a new address and the mta follows it for recipient lookups', async () => {
    const before = (await platform.instance('ldap-0'));
    const from = watch.events.length;
    const pid = Number(readFileSync(`/run/mailfleet/${readdirRun(platform.stateDir)}/ldap-0/slapd.pid`, 'utf8'));
    process.kill(pid, 'SIGKILL');
    await watch.waitFor((e) => e.endpoint?.name === 'ldap-0' && e.endpoint.ready && e.endpoint.address !== before.address, 60_000, from);
    const mta = (await platform.instance('mta-0'));
    // The mta reloads for the new LDAP address meanwhile: a session may fail or wait (Postfix starts its smtpd
    // processes afresh) until it has; what must hold is that it gets there.
    let last = '';
    const code = await waitUntil('mta accepting a known recipient', async () => {
      const c = await rcptCode(mta.address, mta.ports.smtp as number, `user1@${DOMAIN}`).catch((err: unknown) => {
        last = err instanceof Error ? err.message : String(err);
        return undefined;
      });
      return c === 250 ? c : undefined;
    }, 60_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last failure: ${last}`, { cause: err });
    });
    assert.equal(code, 250);
    assert.equal(await rcptCode(mta.address, mta.ports.smtp as number, `nobody@${DOMAIN}`), 550);
  });

  await t.test('WHEN an account is added, listed and removed with the CLI THEN LDAP, delivery and rejection follow', async () => {
    const address = `carol@${DOMAIN}`;
    const added = platform.cli(['accounts', 'add', address, '--password', 'carol-password-1']);
    assert.equal(added.code, 0, added.stderr);
    const dup = platform.cli(['accounts', 'add', address, '--password', 'carol-password-1']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists/);
    const list = JSON.parse(platform.cli(['accounts', 'list', '--json']).stdout) as { address: string }[];
    assert.ok(list.some((a) => a.address === address));

    const mta = (await platform.instance('mta-0'));
    const proxy = (await platform.instance('proxy-0'));
    const id = `carol-${Date.now()}@client.test`;
    const session = await openSmtpSession({ host: mta.address, port: mta.ports.smtp as number });
    try {
      assert.equal((await session.send(message(id, 'sender@remote.test', address))).data?.code, 250);
    } finally {
      await session.quit();
    }
    await waitQueueEmpty(join(platform.stateDir, 'instances', 'mta-0', 'config'));
    assert.deepEqual(await imapMessageIds(proxy.address, proxy.ports.imaps as number, address, 'carol-password-1', platform.clientTls('implicit')), [id]);

    const removed = platform.cli(['accounts', 'remove', address]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(await rcptCode(mta.address, mta.ports.smtp as number, address), 550);
  });

  await t.test('GIVEN a user logged in over IMAP (Python\'s imaplib) WHEN mailfleet down runs THEN it says what it waits for, the proxy ends the session at its drain budget\'s end, and no agent is killed', async () => {
    const proxy = await platform.instance('proxy-0');
    const holder = spawn('/usr/bin/python3', ['-c', [
      'import imaplib, ssl, sys, time',
      'ctx = ssl.create_default_context(cafile=sys.argv[3]); ctx.check_hostname = False',
      'm = imaplib.IMAP4_SSL(sys.argv[1], int(sys.argv[2]), ssl_context=ctx)',
      `m.login('user1@${DOMAIN}', sys.argv[4]); m.select('INBOX')`,
      'print("logged in", flush=True)',
      'time.sleep(120)',
    ].join('\n'), proxy.address, String(proxy.ports.imaps), localCaFile(platform.stateDir), PASSWORD], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => holder.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      holder.stdout.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`imaplib exited ${code} before logging in`)));
    });

    const r = platform.cli(['down']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /still stopping after 1\d s \(each instance drains within spec\.drainSeconds\): draining proxy-0; \d+ more to stop after/);
    const drains = readFileSync(join(platform.stateDir, 'logs', 'proxy-0.log'), 'utf8').split('\n').filter((l) => l.includes('"msg":"drain finished"'));
    assert.equal(drains.length, 1, drains.join('\n'));
    assert.match(drains[0] ?? '', /"completed":false,"detail":"kicked the sessions of 1 user\(s\)"/);
    assert.doesNotMatch(readFileSync(join(platform.stateDir, 'logs', 'runtime.log'), 'utf8'), /did not stop in time/);
    holder.kill('SIGKILL'); // it names the state dir's CA file: not the platform's
    await new Promise((resolve) => holder.exitCode === null && holder.signalCode === null ? holder.once('exit', resolve) : resolve(undefined));
    assert.deepEqual(platform.leftovers(), []);
  });
});

function readdirRun(stateDir: string): string {
  // The runtime keeps sockets and pid files under /run/mailfleet/<hash of the state dir>.
  const runtimeRun = readFileSync(join(stateDir, 'instances', 'mailbox-0', 'config', 'dovecot.conf'), 'utf8');
  const m = /^base_dir = \/run\/mailfleet\/([0-9a-f]{8})\//m.exec(runtimeRun);
  if (!m?.[1]) throw new Error('no base_dir in dovecot.conf');
  return m[1];
}
