/**
 * TLS on every client-facing listener of a running platform, seen by stock clients: Python's smtplib,
 * imaplib and poplib verifying against the CA, and `openssl s_client`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { stringify } from 'yaml';
import { runPrefix } from '../../src/agent/index.ts';
import { ensureBuilt } from '../support/build.ts';
import { issue, makeCa, removeCa, writePair } from '../support/certificates.ts';
import { waitQueueEmpty } from '../support/mail.ts';
import { DOMAIN, processesMentioning, startPlatform } from '../support/platform.ts';
import { until } from '../support/poll.ts';
import { filesTls, pythonClient, sClient, type Peer, type TlsStart } from '../support/tls-clients.ts';

const POOL = '127.102.0.0/16';
const PASSWORD = 'tls-listeners-password';
const DEFAULT_NAME = 'mx.example.com';
const NET_NAMES = ['mail.example.net', 'imap.example.net'];
/** The load balancer, outside what the pool hands out first, and a client address as it reports one. */
const BALANCER = '127.102.200.1';
const CLIENT = '198.51.100.7';
const LB_PORTS = { smtp: 10025, submission: 10587, submissions: 10465, imap: 10143, imaps: 10993, pop3: 10110, pop3s: 10995 };

test('TLS on every mail protocol, with stock clients', { timeout: 600_000 }, async (t) => {
  const ca = makeCa();
  const certDir = mkdtempSync(join(tmpdir(), 'mailfleet-tls-'));
  t.after(() => {
    removeCa(ca);
    rmSync(certDir, { recursive: true, force: true });
  });
  const main = issue(ca, [DEFAULT_NAME]);
  const net = issue(ca, NET_NAMES);
  const tls = filesTls(certDir, [{ name: 'default', hosts: [DEFAULT_NAME], pair: main }, { name: 'net', hosts: NET_NAMES, pair: net }]);
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 3, password: PASSWORD, roles: { mailbox: 1 },
    extra: { tls, loadBalancer: { sourceRanges: [`${BALANCER}/32`], ports: LB_PORTS } },
  });
  const mta = await platform.instance('mta-0');
  const msa = await platform.instance('msa-0');
  const proxy = await platform.instance('proxy-0');
  const run = Date.now().toString(36);
  const user = `user1@${DOMAIN}`;
  const account = { ca: ca.certFile, user, password: PASSWORD };

  /** Every client-facing listener, and how TLS starts on it. */
  const listeners: [string, string, number, TlsStart][] = [
    ['smtp', mta.address, 25, 'smtp'],
    ['submission', msa.address, 587, 'smtp'],
    ['submissions', msa.address, 465, 'implicit'],
    ['imap', proxy.address, 143, 'imap'],
    ['imaps', proxy.address, 993, 'implicit'],
    ['pop3', proxy.address, 110, 'pop3'],
    ['pop3s', proxy.address, 995, 'implicit'],
  ];
  const inbound = `inbound-${run}@client.test`;
  const submitted = `submitted-${run}@client.test`;
  const submittedImplicit = `submitted465-${run}@client.test`;

  await t.test('GIVEN port 25 WHEN a sender uses STARTTLS THEN the certificate verifies for the MX name and the message is accepted', () => {
    const r = pythonClient<{ starttls_offered: boolean; starttls: { code: number }; peer: Peer; refused: object }>('smtp-starttls', {
      ...account, host: mta.address, port: 25, name: DEFAULT_NAME, sender: 'sender@remote.test', to: user, mid: inbound,
    });
    assert.equal(r.error, undefined);
    assert.equal(r.starttls_offered, true);
    assert.equal(r.starttls.code, 220);
    assert.deepEqual(r.peer.names, [DEFAULT_NAME]);
    assert.deepEqual(r.refused, {});
  });

  await t.test('GIVEN port 587 WHEN a client tries AUTH or MAIL before STARTTLS THEN both get 530 5.7.0, AUTH is not even offered, and after STARTTLS AUTH and submission work', () => {
    const r = pythonClient<Record<string, { code: number; text: string } | boolean | object>>('submission', { ...account, host: msa.address, port: 587, name: DEFAULT_NAME, to: `user2@${DOMAIN}`, mid: submitted });
    assert.equal(r.error, undefined);
    assert.equal(r.auth_offered_before_tls, false);
    assert.equal(r.starttls_offered, true);
    assert.deepEqual(r.auth_before_tls, { code: 530, text: '5.7.0 Must issue a STARTTLS command first' });
    assert.deepEqual(r.mail_before_tls, { code: 530, text: '5.7.0 Must issue a STARTTLS command first' });
    assert.equal(r.auth_offered_after_tls, true);
    assert.equal((r.login as { code: number }).code, 235);
    assert.deepEqual(r.refused, {});
  });

  await t.test('GIVEN port 465 WHEN a client speaks TLS from the first byte THEN AUTH and submission work', async () => {
    const r = pythonClient<{ peer: Peer; login: { code: number }; refused: object }>('submissions', { ...account, host: msa.address, port: 465, name: DEFAULT_NAME, to: `user2@${DOMAIN}`, mid: submittedImplicit });
    assert.equal(r.error, undefined);
    assert.deepEqual(r.peer.names, [DEFAULT_NAME]);
    assert.equal(r.login.code, 235);
    assert.deepEqual(r.refused, {});
    // Everything sent so far is delivered before the mailboxes are read.
    await Promise.all([waitQueueEmpty(join(platform.stateDir, 'instances', 'mta-0', 'config')), waitQueueEmpty(join(platform.stateDir, 'instances', 'msa-0', 'config'))]);
  });

  await t.test('GIVEN port 143 WHEN a client connects THEN LOGINDISABLED is advertised and LOGIN refused until STARTTLS, after which LOGIN works', () => {
    const r = pythonClient<{ capabilities_before_tls: string[]; login_before_tls: string; capabilities_after_tls: string[]; login: string; found: number; header: string }>('imap', {
      ...account, host: proxy.address, port: 143, name: DEFAULT_NAME, mid: inbound,
    });
    assert.equal(r.error, undefined);
    assert.ok(r.capabilities_before_tls.includes('LOGINDISABLED'), JSON.stringify(r.capabilities_before_tls));
    assert.ok(r.capabilities_before_tls.includes('STARTTLS'));
    assert.match(r.login_before_tls, /PRIVACYREQUIRED|Plaintext authentication disallowed/);
    assert.ok(!r.capabilities_after_tls.includes('LOGINDISABLED'));
    assert.equal(r.login, 'OK');
    assert.equal(r.found, 1);
  });

  await t.test('GIVEN a message received on 25 over STARTTLS WHEN it is read over IMAPS THEN its Received header records the TLS protocol and cipher', () => {
    const r = pythonClient<{ peer: Peer; found: number; header: string }>('imaps', { ...account, host: proxy.address, port: 993, name: DEFAULT_NAME, mid: inbound });
    assert.equal(r.error, undefined);
    assert.equal(r.found, 1);
    const received = r.header.split(/\r\n(?=\S)/).find((h) => h.startsWith('Received:') && h.includes('client.test')) ?? '';
    assert.match(received.replace(/\r\n\s+/g, ' '), /\(using TLSv1\.[23] with cipher \S+ \(\d+\/\d+ bits\)/);
  });

  await t.test('GIVEN messages submitted on 587 and 465 WHEN read over IMAPS on 993 THEN both are there', () => {
    for (const mid of [submitted, submittedImplicit]) {
      const r = pythonClient<{ found: number }>('imaps', { ...account, user: `user2@${DOMAIN}`, host: proxy.address, port: 993, name: DEFAULT_NAME, mid });
      assert.equal(r.error, undefined);
      assert.equal(r.found, 1, mid);
    }
  });

  await t.test('GIVEN port 110 WHEN a client sends USER before STLS THEN it is refused, and after STLS USER/PASS work', () => {
    const r = pythonClient<{ capa_before_tls: string[]; user_before_tls: string; pass: string; count: number }>('pop3', { ...account, host: proxy.address, port: 110, name: DEFAULT_NAME });
    assert.equal(r.error, undefined);
    assert.ok(r.capa_before_tls.includes('STLS'));
    assert.match(r.user_before_tls, /^-ERR .*Plaintext authentication disallowed/);
    assert.match(r.pass, /^\+OK/);
    assert.equal(r.count, 1);
  });

  await t.test('GIVEN port 995 WHEN a client speaks TLS from the first byte THEN USER/PASS work', () => {
    const r = pythonClient<{ peer: Peer; pass: string; count: number }>('pop3s', { ...account, host: proxy.address, port: 995, name: DEFAULT_NAME });
    assert.equal(r.error, undefined);
    assert.match(r.pass, /^\+OK/);
    assert.equal(r.count, 1);
  });

  await t.test('GIVEN the load balancer WHEN it forwards clients to the balancer ports THEN TLS works behind the PROXY header, plaintext logins still wait for STARTTLS, and the daemons see the client\'s address', () => {
    const lb = { ...account, name: DEFAULT_NAME, proxy_from: BALANCER, client: CLIENT };
    const sub = pythonClient<{ auth_before_tls: { code: number }; login: { code: number } }>('submission', { ...lb, host: msa.address, port: LB_PORTS.submission, to: `user3@${DOMAIN}`, mid: `lb587-${run}@client.test` });
    assert.equal(sub.error, undefined, JSON.stringify(sub));
    assert.equal(sub.auth_before_tls.code, 530);
    assert.equal(sub.login.code, 235);
    const subs = pythonClient<{ peer: Peer; login: { code: number } }>('submissions', { ...lb, host: msa.address, port: LB_PORTS.submissions, to: `user3@${DOMAIN}`, mid: `lb465-${run}@client.test` });
    assert.equal(subs.error, undefined, JSON.stringify(subs));
    assert.equal(subs.peer.serial, main.serial);
    assert.equal(subs.login.code, 235);
    const imap = pythonClient<{ capabilities_before_tls: string[]; login: string }>('imap', { ...lb, host: proxy.address, port: LB_PORTS.imap });
    assert.equal(imap.error, undefined, JSON.stringify(imap));
    assert.ok(imap.capabilities_before_tls.includes('LOGINDISABLED'), 'a PROXY header does not make a connection secure');
    assert.equal(imap.login, 'OK');
    for (const [action, port] of [['imaps', LB_PORTS.imaps], ['pop3', LB_PORTS.pop3], ['pop3s', LB_PORTS.pop3s]] as const) {
      const r = pythonClient<{ peer: Peer }>(action, { ...lb, host: proxy.address, port });
      assert.equal(r.error, undefined, `${action}: ${JSON.stringify(r)}`);
      assert.equal(r.peer.serial, main.serial, action);
    }
    const mx = pythonClient<{ starttls: { code: number }; refused: object }>('smtp-starttls', { ...lb, host: mta.address, port: LB_PORTS.smtp, sender: 'sender@remote.test', to: `user3@${DOMAIN}`, mid: `lb25-${run}@client.test` });
    assert.equal(mx.error, undefined, JSON.stringify(mx));
    assert.equal(mx.starttls.code, 220);
    assert.deepEqual(mx.refused, {});
    assert.match(readFileSync(join(platform.stateDir, 'logs', 'msa-0.log'), 'utf8'), new RegExp(`submissions-lb.*\\[${CLIENT.replaceAll('.', '\\.')}\\]`));
    assert.match(readFileSync(join(platform.stateDir, 'logs', 'proxy-0.log'), 'utf8'), new RegExp(`user=<${user}>.*rip=${CLIENT.replaceAll('.', '\\.')}.*TLS`));
  });

  await t.test('GIVEN two certificates WHEN clients ask by SNI on every listener THEN each name gets its certificate, and an unknown name or none the default', () => {
    for (const [what, host, port, start] of listeners) {
      for (const [name, serial] of [[DEFAULT_NAME, main.serial], [NET_NAMES[0], net.serial], [NET_NAMES[1], net.serial]] as const) {
        const r = sClient(host, port, start, name, ca);
        assert.equal(r.serial, serial, `${what} for ${name}: ${r.output.slice(-600)}`);
      }
      for (const name of ['other.example.org', undefined]) {
        // The default certificate does not name these: the handshake completes, verification by name is the client's.
        const r = sClient(host, port, start, name, ca);
        assert.equal(r.serial, main.serial, `${what} for ${name ?? 'no SNI'}: ${r.output.slice(-600)}`);
      }
    }
    // And a stock client verifying the name accepts the second certificate for its names.
    const r = pythonClient<{ peer: Peer }>('pop3s', { ...account, host: proxy.address, port: 995, name: NET_NAMES[1] as string });
    assert.equal(r.error, undefined);
    assert.deepEqual(r.peer.names, NET_NAMES);
  });

  await t.test('GIVEN a client that offers TLS 1.0 or 1.1 only WHEN it connects to any listener THEN the handshake is refused, and the same client with TLS 1.2 gets through', () => {
    // SECLEVEL=0 lets this OpenSSL offer the old protocols at all: the refusal must be the server's.
    const old = ['-cipher', 'DEFAULT:@SECLEVEL=0'];
    for (const [what, host, port, start] of listeners) {
      for (const version of ['-tls1', '-tls1_1']) {
        const r = sClient(host, port, start, DEFAULT_NAME, ca, [version, ...old]);
        assert.equal(r.ok, false, `${what} ${version} was accepted: ${r.output.slice(-600)}`);
        assert.equal(r.serial, undefined, `${what} ${version}`);
      }
      assert.equal(sClient(host, port, start, DEFAULT_NAME, ca, ['-tls1_2', ...old]).protocol, 'TLSv1.2', `${what} TLS 1.2`);
    }
  });

  await t.test('GIVEN TLS 1.2 WHEN a client offers only a suite without forward secrecy and AEAD THEN it is refused; ECDHE with AES-GCM is taken', () => {
    for (const [what, host, port, start] of listeners) {
      const cbc = sClient(host, port, start, DEFAULT_NAME, ca, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA']);
      assert.equal(cbc.ok, false, `${what} accepted a CBC suite`);
      const gcm = sClient(host, port, start, DEFAULT_NAME, ca, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256']);
      assert.equal(gcm.cipher, 'ECDHE-ECDSA-AES128-GCM-SHA256', what);
    }
  });

  await t.test('GIVEN a TLS session on 465 WHEN the client comes back with it THEN the session is resumed', () => {
    const file = join(certDir, 'session.pem');
    // QUIT and wait for the server to close: a TLS 1.3 ticket comes after the handshake.
    const first = sClient(msa.address, 465, 'implicit', DEFAULT_NAME, ca, ['-sess_out', file, '-ign_eof', '-crlf'], 'QUIT\n');
    assert.ok(first.ok, first.output.slice(-600));
    const again = sClient(msa.address, 465, 'implicit', DEFAULT_NAME, ca, ['-sess_in', file, '-ign_eof', '-crlf'], 'QUIT\n');
    assert.match(again.output, /^Reused, TLSv1\.3/m, again.output.slice(-800));
  });

  await t.test('THEN no private key is in a config file, a log, or readable by anyone but root', () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) files.push(p);
      }
    };
    walk(join(platform.stateDir, 'instances'));
    walk(join(platform.stateDir, 'logs'));
    for (const f of files) assert.doesNotMatch(readFileSync(f, 'latin1'), /PRIVATE KEY-----/, f);
    const keyBody = main.key.split('\n')[1] ?? 'x';
    assert.ok(files.length > 10, 'the walk found the files');
    assert.ok(!platform.output().includes(keyBody));
  });

  await t.test('THEN each TLS role serves root-only copies of the certificates from its run dir', () => {
    for (const name of ['mta-0', 'msa-0', 'proxy-0']) {
      const conf = readFileSync(join(platform.stateDir, 'instances', name, 'config', name === 'proxy-0' ? 'dovecot.conf' : 'main.cf'), 'utf8');
      const file = /(\/run\/mailfleet\/\S+\/tls\/default\.pem)/.exec(conf)?.[1];
      assert.ok(file, name);
      assert.equal(statSync(file).mode & 0o777, 0o600, name);
      assert.equal(statSync(file).uid, 0, name);
      assert.equal(statSync(join(file, '..')).mode & 0o777, 0o700, name);
    }
  });
});

/** A lone agent, as `mailfleet up` starts one, on an address the platform above never hands out. */
const LONE = '127.102.250.1';

test('a lone mta agent and its certificate', { timeout: 180_000 }, async (t) => {
  const ca = makeCa();
  const stateDir = mkdtempSync(join(tmpdir(), 'mailfleet-lone-'));
  t.after(() => {
    removeCa(ca);
    rmSync(stateDir, { recursive: true, force: true });
  });
  // Postfix's processes traverse it to their queue, as they do the state dir `mailfleet up` makes.
  chmodSync(stateDir, 0o755);
  const specFile = join(stateDir, 'mailfleet.yaml');
  writeFileSync(specFile, stringify({
    apiVersion: 'mailfleet.io/v1alpha1',
    kind: 'MailPlatform',
    metadata: { name: 'lone' },
    spec: {
      domains: [DOMAIN],
      hostname: DEFAULT_NAME,
      drainSeconds: 1,
      director: { apiKey: 'lone-doveadm-api-key-0123456789' },
      ldap: { adminPassword: 'lone-admin-secret-0123', readerPassword: 'lone-reader-secret-0123', authPassword: 'lone-auth-secret-0123', tlsKey: 'lone-ldap-tls-key-0123' },
      tls: { minProtocol: 'TLSv1.3' },
    },
  }));
  writeFileSync(join(stateDir, 'peers.json'), JSON.stringify({ ldap: [{ name: 'ldap-0', host: '127.102.250.3' }], kvs: [], mailbox: [], proxy: [{ name: 'proxy-0', host: '127.102.250.2' }], mta: [], msa: [] }));
  const argv = [ensureBuilt(), 'agent', '--role', 'mta', '--name', 'mta-0', '--listen', LONE, '-f', specFile, '--state-dir', stateDir];
  t.after(() => {
    for (const pid of processesMentioning(stateDir)) process.kill(pid, 'SIGKILL');
    // Without a runtime nobody else removes the agent's run dir (sockets, the certificate it served).
    rmSync(runPrefix(stateDir), { recursive: true, force: true });
  });

  await t.test('GIVEN no certificate on disk WHEN the mta agent starts THEN it exits 1 naming the spec field and the file, and leaves no Postfix behind', () => {
    const r = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /spec\.tls\.certificates\[0\] \(default\): cannot read: .*\/tls\/certs\/default\/tls\.crt/);
    assert.deepEqual(processesMentioning(stateDir), []);
  });

  await t.test('GIVEN spec.tls.minProtocol TLSv1.3 WHEN a client offers TLS 1.2 only THEN the handshake is refused, and TLS 1.3 is taken', async () => {
    writePair(join(stateDir, 'tls', 'certs', 'default'), issue(ca, [DEFAULT_NAME]));
    const log = openSync(join(stateDir, 'agent.log'), 'a');
    const agent = spawn(process.execPath, argv, { stdio: ['ignore', log, log] });
    closeSync(log);
    const exited = new Promise((resolve) => agent.once('exit', resolve));
    t.after(async () => {
      agent.kill('SIGTERM');
      await Promise.race([exited, delay(30_000, undefined, { ref: false })]);
    });
    await until('STARTTLS on the lone mta', async () => (sClient(LONE, 25, 'smtp', DEFAULT_NAME, ca).ok ? true : undefined), 60_000, 200)
      .catch((err: unknown) => assert.fail(`${String(err)}\n${readFileSync(join(stateDir, 'agent.log'), 'utf8').slice(-3000)}`));
    const old = sClient(LONE, 25, 'smtp', DEFAULT_NAME, ca, ['-tls1_2']);
    assert.equal(old.ok, false, old.output.slice(-600));
    assert.equal(sClient(LONE, 25, 'smtp', DEFAULT_NAME, ca, ['-tls1_3']).protocol, 'TLSv1.3');
  });
});
