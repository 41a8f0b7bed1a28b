/**
 * Accounts on the single host: passwords stored with a slow, salted scheme Dovecot verifies, a minimum
 * length that `accounts add` enforces with a clear error, and an LDAP account for Postfix that reads
 * addresses but never password hashes, while logins through the proxy still work. Every bind to slapd goes
 * after StartTLS to a certificate of the LDAP hop's CA; a bind in clear is refused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { X509Certificate } from 'node:crypto';
import { installLdapTls, instanceContext, reloadLdapTls } from '../../src/agent/index.ts';
import type { Peers } from '../../src/config/index.ts';
import { deriveInternalCa } from '../../src/internal-tls/index.ts';
import { validateSpec } from '../../src/spec/index.ts';
import type { TlsClientOptions } from '../../src/protocol/index.ts';
import { imapFlowTls } from '../support/mail.ts';
import { DOMAIN, startPlatform } from '../support/platform.ts';

const POOL = '127.98.0.0/16';
const PASSWORD = 'account-test-password';

/** `key = value` of a Postfix LDAP map file. */
function mapSetting(text: string, key: string): string {
  const line = text.split('\n').find((l) => l.startsWith(`${key} = `));
  assert.ok(line, `${key} in the map`);
  return line.slice(key.length + 3);
}

/**
 * One ldapsearch (ldap-utils, the system's libldap); the LDIF it prints, or its failure. With `ca`, after StartTLS
 * (`-ZZ`: no bind unless it succeeds) trusting that CA file alone; without, in clear.
 */
function ldapsearch(url: string, bindDn: string, password: string, base: string, filter: string, attrs: string[], ca: string | undefined): { code: number; ldif: string; stderr: string } {
  const r = spawnSync('ldapsearch', ['-x', ...(ca === undefined ? [] : ['-ZZ']), '-LLL', '-o', 'ldif-wrap=no', '-H', url, '-D', bindDn, '-w', password, '-b', base, filter, ...attrs], {
    encoding: 'utf8',
    // No system ldap.conf (its TLS_CACERT names the public CAs): the CA given here alone.
    env: { ...process.env, LDAPCONF: '/dev/null', LDAPRC: '/dev/null', ...(ca === undefined ? {} : { LDAPTLS_CACERT: ca, LDAPTLS_REQCERT: 'hard' }) },
  });
  return { code: r.status ?? -1, ldif: r.stdout, stderr: r.stderr };
}

/** The certificate slapd at `host:port` serves after StartTLS, checked against `ca` (`openssl s_client`). */
function servedLdapCertificate(host: string, port: number, ca: string): X509Certificate {
  const r = spawnSync('openssl', ['s_client', '-starttls', 'ldap', '-connect', `${host}:${port}`, '-CAfile', ca, '-verify_return_error', '-verify_ip', host], { input: '', encoding: 'utf8', timeout: 10_000 });
  assert.match(r.stdout, /Verify return code: 0 \(ok\)/, r.stderr);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  assert.ok(pem, 'a certificate in s_client\'s output');
  return new X509Certificate(pem);
}

/** Whether `user` can log in over IMAP with STARTTLS; false only when the server refused the credentials. */
async function imapLogin(host: string, port: number, user: string, pass: string, tls: TlsClientOptions): Promise<boolean> {
  const client = new ImapFlow({ host, port, auth: { user, pass }, logger: false, ...imapFlowTls(tls) });
  try {
    await client.connect();
    await client.logout();
    return true;
  } catch (err) {
    if ((err as { authenticationFailed?: boolean }).authenticationFailed === true) return false;
    throw err;
  }
}

test('accounts: password storage, rules and LDAP access', { timeout: 300_000 }, async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 3, password: PASSWORD, roles: { mailbox: 1, proxy: 1, mta: 1, msa: 0, kvs: 0 } });
  const ldap = await platform.instance('ldap-0');
  const proxy = await platform.instance('proxy-0');
  const url = `ldap://${ldap.address}:${ldap.ports.ldap}`;
  const spec = JSON.parse(readFileSync(join(platform.stateDir, 'spec.json'), 'utf8')) as { spec: { ldap: { baseDn: string; adminPassword: string } } };
  const { baseDn, adminPassword } = spec.spec.ldap;
  const accounts = `ou=accounts,${baseDn}`;
  // The CA file the platform's LDAP clients trust (the mta's Postfix).
  const ca = join(platform.stateDir, 'instances', 'mta-0', 'config', 'ldap-ca.pem');
  const hashOf = (address: string): string => {
    const r = ldapsearch(url, `cn=admin,${baseDn}`, adminPassword, accounts, `(mail=${address})`, ['userPassword'], ca);
    assert.equal(r.code, 0, r.stderr);
    const line = r.ldif.split('\n').find((l) => l.startsWith('userPassword'));
    assert.ok(line, `userPassword of ${address}`);
    // `userPassword:: base64` (the value holds characters LDIF encodes) or `userPassword: value`.
    return line.startsWith('userPassword:: ') ? Buffer.from(line.slice(15), 'base64').toString('utf8') : line.slice(14);
  };

  await t.test('GIVEN the account Postfix binds with WHEN it searches accounts THEN it reads addresses and no password hash', () => {
    const map = readFileSync(join(platform.stateDir, 'instances', 'mta-0', 'config', 'ldap-mailboxes.cf'), 'utf8');
    const r = ldapsearch(url, mapSetting(map, 'bind_dn'), mapSetting(map, 'bind_pw'), accounts, '(objectClass=mailfleetAccount)', ['mail', 'userPassword'], ca);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.ldif.split('\n').filter((l) => l.startsWith('mail: ')).length, 3, r.ldif);
    assert.doesNotMatch(r.ldif, /^userPassword/m, 'the Postfix bind account must not read password hashes');
  });

  await t.test('GIVEN generated accounts WHEN their entries are read THEN each password is an ARGON2ID hash with its own salt', () => {
    const hashes = [1, 2, 3].map((n) => hashOf(`user${n}@${DOMAIN}`));
    for (const h of hashes) assert.match(h, /^\{ARGON2ID\}\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.equal(new Set(hashes.map((h) => h.split('$')[4])).size, 3, 'distinct salts');
    const check = spawnSync('doveadm', ['pw', '-t', hashes[0] ?? '', '-p', PASSWORD], { encoding: 'utf8' });
    assert.equal(check.status, 0, `doveadm pw -t: ${check.stdout}${check.stderr}`);
  });

  await t.test('WHEN a user logs in over IMAP through the proxy THEN the right password works and a wrong one does not', async () => {
    assert.equal(await imapLogin(proxy.address, proxy.ports.imap as number, `user1@${DOMAIN}`, PASSWORD, platform.clientTls('starttls')), true);
    assert.equal(await imapLogin(proxy.address, proxy.ports.imap as number, `user2@${DOMAIN}`, `${PASSWORD}-wrong`, platform.clientTls('starttls')), false);
  });

  await t.test('GIVEN mail and logins have run WHEN slapd\'s log is read THEN every bind came over TLS 1.3 and none in clear', () => {
    const log = readFileSync(join(platform.stateDir, 'logs', 'ldap-0.log'), 'utf8');
    const binds = log.split('\n').filter((l) => / BIND dn=".*" mech=SIMPLE /.test(l));
    for (const account of ['cn=mailreader', 'cn=mailauth']) assert.ok(binds.some((l) => l.includes(`dn="${account},`)), `${account} bound (the mta's Postfix, the proxy's Dovecot)`);
    for (const bind of binds) assert.match(bind, / ssf=(128|256)$/, `a bind without TLS: ${bind}`);
    assert.doesNotMatch(log, /err=13 /, 'no bind was refused for want of TLS');
    assert.match(log, /TLS established tls_ssf=\d+ ssf=\d+ tls_proto=TLS1\.3 /);
  });

  await t.test('WHEN a client binds in clear THEN slapd refuses with confidentialityRequired; with StartTLS against another CA THEN the client refuses slapd', () => {
    const map = readFileSync(join(platform.stateDir, 'instances', 'mta-0', 'config', 'ldap-mailboxes.cf'), 'utf8');
    const clear = ldapsearch(url, mapSetting(map, 'bind_dn'), mapSetting(map, 'bind_pw'), accounts, '(objectClass=mailfleetAccount)', ['mail'], undefined);
    assert.equal(clear.code, 13, clear.stderr);
    assert.match(clear.stderr, /Confidentiality required/);
    const dir = mkdtempSync(join(tmpdir(), 'mailfleet-ldap-ca-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const stranger = join(dir, 'other-ca.pem');
    writeFileSync(stranger, deriveInternalCa('another-platform-ldap-tls-key-0123', 'ldap', 'ed25519').certPem);
    const impostor = ldapsearch(url, mapSetting(map, 'bind_dn'), mapSetting(map, 'bind_pw'), accounts, '(objectClass=mailfleetAccount)', ['mail'], stranger);
    assert.notEqual(impostor.code, 0);
    assert.match(impostor.stderr, /ldap_start_tls: Connect error/);
    assert.equal(impostor.ldif, '');
  });

  await t.test('GIVEN slapd running WHEN its agent issues a new certificate and writes slapd\'s TLS settings again over ldapi THEN new sessions get it, without a restart', async () => {
    const before = servedLdapCertificate(ldap.address, ldap.ports.ldap as number, ca);
    const instance = instanceContext(platform.stateDir, 'ldap', 'ldap-0', ldap.address);
    const slapdPid = readFileSync(join(instance.runDir, 'slapd.pid'), 'utf8');
    const spec = validateSpec(JSON.parse(readFileSync(join(platform.stateDir, 'spec.json'), 'utf8')), 'spec.json').spec;
    const peers = JSON.parse(readFileSync(join(platform.stateDir, 'peers.json'), 'utf8')) as Peers;
    const notAfter = installLdapTls(spec, instance, peers);
    await reloadLdapTls(instance);
    const after = servedLdapCertificate(ldap.address, ldap.ports.ldap as number, ca);
    assert.notEqual(after.serialNumber, before.serialNumber, 'the new certificate');
    assert.equal(Date.parse(after.validTo), notAfter.getTime());
    assert.equal(after.checkIP(ldap.address), ldap.address);
    const map = readFileSync(join(platform.stateDir, 'instances', 'mta-0', 'config', 'ldap-mailboxes.cf'), 'utf8');
    assert.equal(ldapsearch(url, mapSetting(map, 'bind_dn'), mapSetting(map, 'bind_pw'), accounts, '(objectClass=mailfleetAccount)', ['mail'], ca).code, 0);
    assert.equal(readFileSync(join(instance.runDir, 'slapd.pid'), 'utf8'), slapdPid, 'the same slapd');
  });

  await t.test('WHEN accounts add gets a password shorter than the minimum THEN it exits 2 naming the rule and adds nothing', () => {
    const r = platform.cli(['accounts', 'add', `short@${DOMAIN}`, '--password', 'elevenchars']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /at least 12 characters/);
    assert.match(r.stderr, /spec\.accounts\.passwordMinLength/);
    assert.doesNotMatch(platform.cli(['accounts', 'list']).stdout, /short@/);
  });

  await t.test('WHEN accounts add gets a long enough password THEN the account is stored as ARGON2ID and logs in', async () => {
    const r = platform.cli(['accounts', 'add', `carol@${DOMAIN}`, '--password', 'carol-long-password']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(hashOf(`carol@${DOMAIN}`), /^\{ARGON2ID\}\$argon2id\$/);
    assert.equal(await imapLogin(proxy.address, proxy.ports.imap as number, `carol@${DOMAIN}`, 'carol-long-password', platform.clientTls('starttls')), true);
  });


  await t.test('GIVEN an account logged in (its password in the proxy\'s auth cache, a session open) WHEN it is removed THEN its password fails at once and the session is ended', async () => {
    const user = `carol@${DOMAIN}`;
    assert.equal(await imapLogin(proxy.address, proxy.ports.imap as number, user, 'carol-long-password', platform.clientTls('starttls')), true);
    const open = new ImapFlow({ host: proxy.address, port: proxy.ports.imap as number, auth: { user, pass: 'carol-long-password' }, logger: false, ...imapFlowTls(platform.clientTls('starttls')) });
    open.on('error', () => undefined);
    await open.connect();
    const ended = new Promise<void>((resolve) => open.once('close', () => resolve()));
    t.after(() => open.close());

    const r = platform.cli(['accounts', 'remove', user]);

    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'every proxy and mailbox forgot the account');
    assert.equal(await imapLogin(proxy.address, proxy.ports.imap as number, user, 'carol-long-password', platform.clientTls('starttls')), false, 'within the cache\'s 60 s');
    await Promise.race([ended, delay(10_000).then(() => assert.fail('the open session was not ended'))]);
  });

  await t.test('GIVEN a directory without Dovecot\'s bind account (seeded by an older version) WHEN ldap restarts THEN it is added with the current secret and logins work', async () => {
    const authDn = `cn=mailauth,${baseDn}`;
    const del = spawnSync('ldapdelete', ['-x', '-ZZ', '-H', url, '-D', `cn=admin,${baseDn}`, '-w', adminPassword, authDn], {
      encoding: 'utf8',
      env: { ...process.env, LDAPCONF: '/dev/null', LDAPRC: '/dev/null', LDAPTLS_CACERT: ca, LDAPTLS_REQCERT: 'hard' },
    });
    assert.equal(del.status, 0, del.stderr);
    assert.equal(ldapsearch(url, `cn=admin,${baseDn}`, adminPassword, authDn, '(objectClass=*)', ['cn'], ca).code, 32, 'gone');

    const restarted = platform.cli(['restart', 'ldap']);
    assert.equal(restarted.code, 0, restarted.stderr);

    const ldapNow = await platform.instance('ldap-0');
    const urlNow = `ldap://${ldapNow.address}:${ldapNow.ports.ldap}`;
    const authPassword = (JSON.parse(readFileSync(join(platform.stateDir, 'spec.json'), 'utf8')) as { spec: { ldap: { authPassword: string } } }).spec.ldap.authPassword;
    const asDovecot = ldapsearch(urlNow, authDn, authPassword, accounts, `(mail=user3@${DOMAIN})`, ['userPassword'], ca);
    assert.equal(asDovecot.code, 0, asDovecot.stderr);
    assert.match(asDovecot.ldif, /^userPassword/m, 'Dovecot\'s account reads the hash it verifies');
    const proxyNow = await platform.instance('proxy-0');
    assert.equal(await imapLogin(proxyNow.address, proxyNow.ports.imap as number, `user3@${DOMAIN}`, PASSWORD, platform.clientTls('starttls')), true);
  });
});
