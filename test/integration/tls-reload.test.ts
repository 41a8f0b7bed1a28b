/**
 * A certificate replaced on disk while the platform runs: the agents of mta, msa and proxy reload their
 * daemons; sessions opened before finish on the old certificate, new ones get the new; mail sent over
 * STARTTLS on 25 and 587 all through the reload is delivered, each message exactly once; a broken
 * replacement is refused and the last good certificate stays in service.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runPrefix } from '../../src/agent/index.ts';
import { openSmtpSession, type TlsClientOptions } from '../../src/protocol/index.ts';
import { issue, makeCa, removeCa } from '../support/certificates.ts';
import { eachLimited, imapMessageIds, message, waitQueueEmpty } from '../support/mail.ts';
import { until } from '../support/poll.ts';
import { DOMAIN, startPlatform, type InstanceStatus } from '../support/platform.ts';
import { filesTls, holdSession, pythonClient, replaceCertificate, sClient, type Peer, type TlsStart } from '../support/tls-clients.ts';

const POOL = '127.103.0.0/16';
const PASSWORD = 'tls-reload-password';
const NAME = 'mx.example.com';
const RELOAD_TIMEOUT_MS = 30_000;

/** Mail sent by one loader while the certificate changes: what was accepted, and every failure. */
interface Loaded {
  accepted: Map<string, string>;
  failures: string[];
}

/**
 * Sends one message per new session (each a full STARTTLS handshake, as MX traffic arrives) until `stop`,
 * authenticating first when `auth` is given.
 */
async function loadUntil(stop: AbortSignal, host: string, port: number, tls: TlsClientOptions, to: string[], prefix: string, out: Loaded, auth?: { user: string; pass: string }): Promise<void> {
  for (let n = 0; !stop.aborted; n++) {
    const rcpt = to[n % to.length] ?? '';
    const id = `${prefix}-${n}@client.test`;
    try {
      const session = await openSmtpSession({ host, port, heloName: 'client.test', timeoutMs: 20_000, tls });
      try {
        if (auth) {
          const reply = await session.authPlain(auth.user, auth.pass);
          if (reply.code !== 235) throw new Error(`AUTH: ${reply.code}`);
        }
        const result = await session.send(message(id, auth?.user ?? 'sender@remote.test', rcpt, 'reload load'));
        if (result.data?.code === 250) out.accepted.set(id, rcpt);
        else out.failures.push(`${id}: ${JSON.stringify(result)}`);
      } finally {
        await session.quit();
      }
    } catch (err) {
      out.failures.push(`${id}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

async function metric(instance: InstanceStatus, result: 'ok' | 'failed' | 'rejected'): Promise<number> {
  const res = await fetch(`http://${instance.address}:${instance.ports.http}/metrics`);
  const text = await res.text();
  const m = new RegExp(`^mailfleet_agent_certificate_reloads_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`no reload metric from ${instance.name}:\n${text}`);
  return Number(m[1]);
}

test('certificates replaced while the platform runs', { timeout: 600_000 }, async (t) => {
  const ca = makeCa();
  const certDir = mkdtempSync(join(tmpdir(), 'mailfleet-tls-'));
  t.after(() => {
    removeCa(ca);
    rmSync(certDir, { recursive: true, force: true });
  });
  const first = issue(ca, [NAME]);
  const tls = filesTls(certDir, [{ name: 'default', hosts: [NAME], pair: first }]);
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 3, password: PASSWORD, roles: { mailbox: 1 }, extra: { tls } });
  const mta = await platform.instance('mta-0');
  const msa = await platform.instance('msa-0');
  const proxy = await platform.instance('proxy-0');
  const tlsRoles = [mta, msa, proxy];
  const user = `user1@${DOMAIN}`;
  const account = { ca: ca.certFile, user, password: PASSWORD, name: NAME };
  const run = Date.now().toString(36);
  const listeners: [string, string, number, TlsStart][] = [
    ['smtp', mta.address, 25, 'smtp'],
    ['submissions', msa.address, 465, 'implicit'],
    ['imap', proxy.address, 143, 'imap'],
    ['imaps', proxy.address, 993, 'implicit'],
    ['pop3s', proxy.address, 995, 'implicit'],
  ];
  for (const [what, host, port, start] of listeners) assert.equal(sClient(host, port, start, NAME, ca).serial, first.serial, what);

  const imapSession = await holdSession(t, 'hold', { ...account, host: proxy.address, port: 993 });
  const smtpSession = await holdSession(t, 'hold-smtp', { ...account, host: msa.address, port: 465, to: `user2@${DOMAIN}`, mid: `held-${run}@client.test` });
  assert.equal(imapSession.before.serial, first.serial);
  assert.equal(smtpSession.before.serial, first.serial);
  const second = issue(ca, [NAME], { days: 20 });
  const clientTls = (): TlsClientOptions => ({ mode: 'starttls', ca: readFileSync(ca.certFile, 'utf8'), servername: NAME });
  const recipients = [`user1@${DOMAIN}`, `user3@${DOMAIN}`];
  const inbound: Loaded = { accepted: new Map(), failures: [] };
  const submitted: Loaded = { accepted: new Map(), failures: [] };
  const stopLoad = new AbortController();
  const loaders = Promise.all([
    loadUntil(stopLoad.signal, mta.address, 25, clientTls(), recipients, `in-${run}`, inbound),
    loadUntil(stopLoad.signal, msa.address, 587, clientTls(), recipients, `sub-${run}`, submitted, { user: `user2@${DOMAIN}`, pass: PASSWORD }),
  ]);
  t.after(async () => {
    stopLoad.abort();
    await loaders;
  });
  await until('mail flowing before the renewal', async () => (inbound.accepted.size >= 3 && submitted.accepted.size >= 3 ? true : undefined), RELOAD_TIMEOUT_MS, 100);

  await t.test('GIVEN open sessions and mail arriving over STARTTLS on 25 and 587 WHEN the certificate is renewed on disk THEN each TLS role\'s agent reloads its daemon once', async () => {
    replaceCertificate(platform.stateDir, certDir, 'default', second);
    for (const instance of tlsRoles) {
      await until(`${instance.name} reloaded`, async () => ((await metric(instance, 'ok')) === 1 ? true : undefined), RELOAD_TIMEOUT_MS, 200);
    }
  });

  await t.test('THEN new connections on every listener get the new certificate', async () => {
    for (const [what, host, port, start] of listeners) {
      // Postfix's smtpd and Dovecot's login processes that are not in a session are replaced within moments.
      await until(`${what} serving the new certificate`, async () => (sClient(host, port, start, NAME, ca).serial === second.serial ? true : undefined), RELOAD_TIMEOUT_MS, 200);
    }
    const r = pythonClient<{ peer: Peer; login: string }>('imaps', { ...account, host: proxy.address, port: 993 });
    assert.equal(r.error, undefined);
    assert.equal(r.peer.serial, second.serial);
    assert.equal(r.login, 'OK');
  });

  await t.test('THEN every message sent over STARTTLS through the reload was accepted and is delivered exactly once', async () => {
    // A few more sessions on the new certificate, then the load stops.
    const after = { in: inbound.accepted.size, sub: submitted.accepted.size };
    await until('mail flowing after the renewal', async () => (inbound.accepted.size >= after.in + 3 && submitted.accepted.size >= after.sub + 3 ? true : undefined), RELOAD_TIMEOUT_MS, 100);
    stopLoad.abort();
    await loaders;
    assert.deepEqual([...inbound.failures, ...submitted.failures], [], 'no session failed during the reload');
    await waitQueueEmpty(join(platform.stateDir, 'instances', 'mta-0', 'config'));
    await waitQueueEmpty(join(platform.stateDir, 'instances', 'msa-0', 'config'));
    const expected = new Map([...inbound.accepted, ...submitted.accepted]);
    const seen = await eachLimited(recipients, 2, async (u) => ({ user: u, ids: await imapMessageIds(proxy.address, 993, u, PASSWORD, { mode: 'implicit', ca: readFileSync(ca.certFile, 'utf8'), servername: NAME }) }));
    const count = new Map<string, number>();
    for (const { user: u, ids } of seen) {
      for (const id of ids.filter((i) => i.includes(run))) {
        assert.equal(expected.get(id), u, `${id} in the right mailbox`);
        count.set(id, (count.get(id) ?? 0) + 1);
      }
    }
    const missing = [...expected.keys()].filter((id) => !count.has(id));
    const twice = [...count].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(missing, [], 'every accepted message delivered');
    assert.deepEqual(twice, [], 'none delivered twice');
    assert.ok(expected.size >= 12, `a load worth the name: ${inbound.accepted.size} on 25, ${submitted.accepted.size} on 587`);
  });

  // Dovecot 2.3 proxies a logged-in IMAP or POP3 session inside the login process that took it. A reload
  // replaces those processes; with Dovecot's default (shutdown_clients = yes) the old ones end their sessions
  // once idle for 2 s and are killed 6 s later. The generated configs let them run on until their clients leave.
  await t.test('THEN the IMAPS session opened before keeps working, still on the old certificate, though idle since the reload', async () => {
    const r = await imapSession.finish();
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.equal(r.noop, 'OK');
    assert.equal(r.select, 'OK');
    assert.equal((r.after as Peer).serial, first.serial);
  });

  await t.test('THEN the submission session opened before on 465 still sends, on the old certificate', async () => {
    const r = await smtpSession.finish();
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.deepEqual(r.refused, {});
    assert.equal((r.after as Peer).serial, first.serial);
  });

  await t.test('GIVEN the new certificate in service WHEN a broken renewal arrives (a certificate with another\'s key) THEN it is refused and the good one keeps serving', async () => {
    const stray = issue(ca, [NAME]);
    replaceCertificate(platform.stateDir, certDir, 'default', { cert: issue(ca, [NAME]).cert, key: stray.key });
    for (const instance of tlsRoles) {
      await until(`${instance.name} refused it`, async () => ((await metric(instance, 'rejected')) === 1 ? true : undefined), RELOAD_TIMEOUT_MS, 200);
      assert.equal(await metric(instance, 'ok'), 1, instance.name);
    }
    for (const [what, host, port, start] of listeners) assert.equal(sClient(host, port, start, NAME, ca).serial, second.serial, what);
  });

  await t.test('THEN each agent logged the reload with the certificate\'s new expiry, and no key', () => {
    for (const instance of tlsRoles) {
      const log = readFileSync(join(platform.stateDir, 'logs', `${instance.name}.log`), 'utf8');
      const line = log.split('\n').find((l) => l.includes('"certificates reloaded"'));
      assert.ok(line, `${instance.name} logged no reload`);
      const notAfter = (JSON.parse(line) as { certificates: { notAfter: string }[] }).certificates[0]?.notAfter ?? '';
      assert.ok(Date.parse(notAfter) > Date.now() + 19 * 86_400_000, notAfter);
      assert.match(log, /new certificate refused; the old one stays in service/);
      assert.doesNotMatch(log, /PRIVATE KEY/);
    }
  });

  await t.test('WHEN the platform goes down THEN no served copy of a key is left in the run dirs', async () => {
    const served = (): string[] => {
      try {
        return readdirSync(runPrefix(platform.stateDir), { recursive: true, encoding: 'utf8' }).filter((p) => /(^|\/)tls\/[^/]+\.pem$/.test(p));
      } catch {
        return [];
      }
    };
    assert.equal(served().length, 3, 'mta, msa and proxy each serve one');
    await platform.down();
    assert.deepEqual(served(), []);
  });
});
