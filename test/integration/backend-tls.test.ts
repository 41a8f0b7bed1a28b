/**
 * The proxies log in to the mailbox backends as the backend login, with its password, on every IMAP and POP3
 * login. That hop goes over STARTTLS, and the proxy checks the backend's certificate against the backend CA
 * (derived from the platform's backend TLS key) for the address the director names.
 *
 * A stand-in backend shows what a proxy sends: it is added to the director and a user moved to it, behind a tap
 * that records every byte on the wire. With a certificate of another CA, or of the backend CA for another address,
 * the proxy ends the handshake and sends no login; with the right one the login arrives, inside TLS only.
 *
 * The proxy's doveadm HTTP API (the backend-sync controller's, carrying the API key) is TLS 1.3 only, with a
 * certificate of the doveadm CA: curl and openssl s_client see what a caller gets.
 */

/** The certificate `openssl s_client` is served at `host:port` (implicit TLS), and whether it verified against `ca`. */
function servedCertificate(host: string, port: number, ca: string, extra: string[] = []): { certificate?: X509Certificate; verified: boolean; code: number } {
  const r = spawnSync('openssl', ['s_client', '-connect', `${host}:${port}`, '-CAfile', ca, '-verify_ip', host, ...extra], { input: '', encoding: 'utf8', timeout: 10_000 });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  return { ...(pem ? { certificate: new X509Certificate(pem) } : {}), verified: /Verify return code: 0 \(ok\)/.test(r.stdout), code: r.status ?? -1 };
}
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { TLSSocket } from 'node:tls';
import { closeServer } from '../../src/sockets.ts';
import { openImapSession, openPop3Session } from '../../src/protocol/index.ts';
import { instanceContext } from '../../src/agent/index.ts';
import { doveadmTlsPath } from '../../src/config/index.ts';
import { deriveInternalCa, doveadmCa, issueInternalCertificate } from '../../src/internal-tls/index.ts';
import { until } from '../support/poll.ts';
import { API_KEY, DOMAIN, doveadm, startPlatform, type Platform } from '../support/platform.ts';

const POOL = '127.142.0.0/16';
/** The stand-in backend and the tap in front of it: addresses of the pool no instance takes. */
const STAND_IN = '127.142.200.1';
const TAP = '127.142.200.2';
const PASSWORD = 'backend-tls-password';

interface StandIn {
  /** Every byte the proxy sent, as the wire carried it. */
  wire(): Buffer;
  /** What the proxy sent inside TLS. */
  inside(): string;
  handshakes: { completed: number; failed: number };
  close(): Promise<void>;
}

/**
 * An IMAP server that offers STARTTLS, answers every command OK and every login NO, with `pem` (key and
 * certificate) as its certificate; a tap on `STAND_IN`:`port` records the wire and forwards to it.
 */
async function startStandIn(t: TestContext, port: number, pem: string): Promise<StandIn> {
  const wire: Buffer[] = [];
  let inside = '';
  const handshakes = { completed: 0, failed: 0 };
  const open = new Set<Socket>();
  const track = (socket: Socket): void => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  };
  const imap = createServer((socket) => {
    track(socket);
    let plain = true;
    let stream: Socket | TLSSocket = socket;
    let buffered = '';
    const answer = (line: string): void => {
      const [tag = '*', verb = ''] = line.split(' ');
      const command = verb.toUpperCase();
      if (command === 'STARTTLS' && plain) {
        stream.write(`${tag} OK Begin TLS\r\n`);
        plain = false;
        socket.removeAllListeners('data');
        const secure = new TLSSocket(socket, { isServer: true, key: pem, cert: pem });
        secure.on('secure', () => handshakes.completed++);
        secure.on('error', () => handshakes.failed++);
        secure.on('data', (chunk: Buffer) => {
          inside += chunk.toString('latin1');
          onData(chunk);
        });
        stream = secure;
        return;
      }
      if (command === 'CAPABILITY') stream.write(`* CAPABILITY IMAP4rev1 SASL-IR ID AUTH=PLAIN${plain ? ' STARTTLS' : ''}\r\n`);
      if (command === 'ID') stream.write('* ID NIL\r\n');
      stream.write(command === 'AUTHENTICATE' || command === 'LOGIN' ? `${tag} NO [AUTHENTICATIONFAILED] stand-in\r\n` : `${tag} OK done\r\n`);
    };
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      for (let lf = buffered.indexOf('\n'); lf !== -1; lf = buffered.indexOf('\n')) {
        const line = buffered.slice(0, lf).replace(/\r$/, '');
        buffered = buffered.slice(lf + 1);
        answer(line);
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    socket.write('* OK [CAPABILITY IMAP4rev1 SASL-IR ID STARTTLS] stand-in ready\r\n');
  });
  const tap = createServer((client) => {
    track(client);
    const server = connect({ host: TAP, port });
    client.on('data', (chunk: Buffer) => wire.push(Buffer.from(chunk)));
    client.pipe(server).pipe(client);
    const end = (): void => {
      client.destroy();
      server.destroy();
    };
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
  });
  const listen = (s: Server, host: string) => new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, host, resolve));
  await listen(imap, TAP);
  await listen(tap, STAND_IN);
  const close = async () => {
    await Promise.all([closeServer(tap, open), closeServer(imap, open)]);
  };
  t.after(close);
  return { wire: () => Buffer.concat(wire), inside: () => inside, handshakes, close };
}

/** The platform's generated secret, as `mailfleet up` kept it. */
function secret(platform: Platform, key: string): string {
  const value = (JSON.parse(readFileSync(join(platform.stateDir, 'secrets.json'), 'utf8')) as Record<string, string>)[key];
  assert.ok(value, `${key} in secrets.json`);
  return value;
}

test('the proxies log in to the backends over TLS, to a backend the backend CA vouches for', { timeout: 600_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    roles: { mta: 0, msa: 0, proxy: 1, mailbox: 1, ldap: 1, kvs: 0 },
    accounts: 2,
    password: PASSWORD,
    // The controller would take the stand-in out of the director at its next resync.
    director: { resyncSeconds: 3600 },
  });
  const proxy = await platform.instance('proxy-0');
  const mailbox = await platform.instance('mailbox-0');
  const imapPort = mailbox.ports.imap as number;
  const user = `user1@${DOMAIN}`;
  const masterPassword = secret(platform, 'backend-login-password');
  const backendCa = deriveInternalCa(secret(platform, 'backend-tls-key'), 'backend');
  const director = (command: string, params: Record<string, string> = {}) => doveadm(proxy.address, proxy.ports.doveadm as number, command, params);

  await t.test('GIVEN a user WHEN they log in over IMAP and POP3 through the proxy THEN the backend took both logins over TLS', async () => {
    const imap = await openImapSession({ host: proxy.address, port: proxy.ports.imaps as number, timeoutMs: 20_000, tls: platform.clientTls('implicit') });
    assert.equal((await imap.login(user, PASSWORD)).status, 'OK');
    await imap.logout();
    const pop3 = await openPop3Session({ host: proxy.address, port: proxy.ports.pop3s as number, timeoutMs: 20_000, tls: platform.clientTls('implicit') });
    assert.equal((await pop3.login(user, PASSWORD)).ok, true);
    await pop3.quit();
    const log = join(platform.stateDir, 'logs', 'mailbox-0.log');
    const logins = await until('both logins in the backend\'s log', async () => {
      const lines = readFileSync(log, 'utf8').split('\n').filter((l) => /-login: Info: Login: user=<user1@example\.com>/.test(l));
      return lines.length >= 2 ? lines : undefined;
    }, 20_000);
    for (const line of logins) assert.match(line, /, TLS, /, line);
  });

  /** Puts the stand-in in the director, sends the user there, and has them log in through the proxy. */
  const loginThroughStandIn = async (pem: string): Promise<StandIn> => {
    const standIn = await startStandIn(t, imapPort, pem);
    // A director that just took a host out answers "busy" until its ring has synced.
    const settled = (command: string, params: Record<string, string>) => until(command, () => director(command, params).then(() => true, () => undefined), 20_000, 250);
    await settled('directorAdd', { host: STAND_IN });
    await settled('directorMove', { user, host: STAND_IN });
    const imap = await openImapSession({ host: proxy.address, port: proxy.ports.imaps as number, timeoutMs: 20_000, tls: platform.clientTls('implicit') });
    try {
      const reply = await imap.login(user, PASSWORD);
      assert.notEqual(reply.status, 'OK', 'the stand-in takes no login');
    } finally {
      await imap.logout().catch(() => undefined);
      await settled('directorMove', { user, host: mailbox.address });
      await settled('directorRemove', { host: STAND_IN });
      await standIn.close();
    }
    return standIn;
  };
  const assertNoSecretOnWire = (standIn: StandIn) => {
    const wire = standIn.wire().toString('latin1');
    assert.match(wire, /STARTTLS\r\n/, 'the proxy asked for TLS first');
    for (const needle of [masterPassword, Buffer.from(`${user}\0mailproxy\0${masterPassword}`).toString('base64'), 'mailproxy', 'AUTHENTICATE', 'LOGIN']) {
      assert.ok(!wire.includes(needle), `${needle.slice(0, 12)}… crossed the wire in clear`);
    }
  };

  await t.test('GIVEN a backend whose certificate another CA issued WHEN the user logs in THEN the proxy ends the handshake and sends no login', async () => {
    const stranger = deriveInternalCa('some-other-platform-key-0123456789', 'backend');
    const standIn = await loginThroughStandIn(issueInternalCertificate(stranger, { hosts: [STAND_IN], validityDays: 1 }).pem);
    assertNoSecretOnWire(standIn);
    // TLS 1.3: the server's side of the handshake is done before the client checks the certificate; the proxy then
    // ends it with an alert, and sends nothing inside.
    assert.ok(standIn.handshakes.completed + standIn.handshakes.failed > 0, 'the proxy started TLS');
    assert.equal(standIn.inside(), '');
  });

  await t.test('GIVEN a backend CA certificate for another address WHEN the user logs in THEN the proxy sends no login either', async () => {
    const standIn = await loginThroughStandIn(issueInternalCertificate(backendCa, { hosts: ['127.142.200.9'], validityDays: 1 }).pem);
    assertNoSecretOnWire(standIn);
    assert.ok(standIn.handshakes.completed + standIn.handshakes.failed > 0, 'the proxy started TLS');
    assert.equal(standIn.inside(), '');
  });

  await t.test('GIVEN a backend CA certificate for its address WHEN the user logs in THEN the master login arrives, inside TLS only', async () => {
    const standIn = await loginThroughStandIn(issueInternalCertificate(backendCa, { hosts: [STAND_IN], validityDays: 1 }).pem);
    assert.ok(standIn.handshakes.completed > 0);
    const plain = Buffer.from(`${user}\0mailproxy\0${masterPassword}`).toString('base64');
    assert.ok(standIn.inside().includes(plain) || standIn.inside().includes(masterPassword), `the login inside TLS: ${standIn.inside().slice(0, 300)}`);
    assertNoSecretOnWire(standIn);
  });

  await t.test('THEN the user is back on the real backend and logs in', async () => {
    const imap = await openImapSession({ host: proxy.address, port: proxy.ports.imaps as number, timeoutMs: 20_000, tls: platform.clientTls('implicit') });
    assert.equal((await imap.login(user, PASSWORD)).status, 'OK');
    await imap.logout();
  });

  await t.test('GIVEN the proxy\'s doveadm API WHEN stock clients call it THEN only TLS 1.3 with a certificate of the doveadm CA answers, and a reload serves a new one', async () => {
    const apiKey = API_KEY;
    const port = proxy.ports.doveadm as number;
    const dir = mkdtempSync(join(tmpdir(), 'mailfleet-doveadm-ca-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const caFile = join(dir, 'doveadm-ca.pem');
    writeFileSync(caFile, doveadmCa(apiKey).certPem);
    const call = (url: string, ...options: string[]) => spawnSync('curl', ['-sS', '--max-time', '10', ...options, '-H', `Authorization: X-Dovecot-API ${Buffer.from(apiKey).toString('base64')}`,
      '-H', 'Content-Type: application/json', '-d', '[["directorStatus",{},"c1"]]', `${url}/doveadm/v1`], { encoding: 'utf8', timeout: 15_000 });

    const ok = call(`https://${proxy.address}:${port}`, '--cacert', caFile);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^\[\["doveadmResponse",\[\{"mail server ip":/);
    const plain = call(`http://${proxy.address}:${port}`);
    assert.notEqual(plain.status, 0, 'a request in plain HTTP gets no answer');
    assert.equal(plain.stdout, '');
    const system = call(`https://${proxy.address}:${port}`);
    assert.equal(system.status, 60, `the system CAs do not vouch for it: ${system.stderr}`);

    const served = servedCertificate(proxy.address, port, caFile);
    assert.ok(served.verified, 'verified against the doveadm CA for the proxy\'s address');
    assert.equal(served.certificate?.issuer, 'CN=mailfleet doveadm CA\nO=mailfleet');
    assert.equal(servedCertificate(proxy.address, port, caFile, ['-tls1_2']).certificate, undefined, 'TLS 1.2 gets no certificate');
    const imaps = servedCertificate(proxy.address, proxy.ports.imaps as number, caFile);
    assert.ok(imaps.certificate && !imaps.verified, 'IMAPS keeps the public certificate');

    // What the agent's renewal does: a new certificate in place, then Dovecot reloads.
    const instance = instanceContext(platform.stateDir, 'proxy', 'proxy-0', proxy.address);
    writeFileSync(doveadmTlsPath(instance), issueInternalCertificate(doveadmCa(apiKey), { hosts: [proxy.address], validityDays: 2 }).pem, { mode: 0o600 });
    const reload = spawnSync('doveadm', ['-c', join(instance.configDir, 'dovecot.conf'), 'reload'], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(reload.status, 0, reload.stderr);
    const renewed = await until('the new certificate served', async () => {
      const now = servedCertificate(proxy.address, port, caFile);
      return now.verified && now.certificate?.serialNumber !== served.certificate?.serialNumber ? now.certificate : undefined;
    }, 20_000, 250);
    assert.ok(new Date(renewed.validTo).getTime() < Date.now() + 3 * 86_400_000);
    assert.ok((await director('directorStatus')).length > 0, 'the controller\'s client calls it still');
  });
});
