/**
 * Accounts on the single host: passwords stored with a slow, salted scheme Dovecot verifies, a minimum
 * length that `accounts add` enforces with a clear error, and an LDAP account for Postfix that reads
 * addresses but never password hashes, while logins through the proxy still work.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
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

/** One ldapsearch; the LDIF it prints, or its failure. */
function ldapsearch(url: string, bindDn: string, password: string, base: string, filter: string, attrs: string[]): { code: number; ldif: string; stderr: string } {
  const r = spawnSync('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', url, '-D', bindDn, '-w', password, '-b', base, filter, ...attrs], { encoding: 'utf8' });
  return { code: r.status ?? -1, ldif: r.stdout, stderr: r.stderr };
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
  const hashOf = (address: string): string => {
    const r = ldapsearch(url, `cn=admin,${baseDn}`, adminPassword, accounts, `(mail=${address})`, ['userPassword']);
    assert.equal(r.code, 0, r.stderr);
    const line = r.ldif.split('\n').find((l) => l.startsWith('userPassword'));
    assert.ok(line, `userPassword of ${address}`);
    // `userPassword:: base64` (the value holds characters LDIF encodes) or `userPassword: value`.
    return line.startsWith('userPassword:: ') ? Buffer.from(line.slice(15), 'base64').toString('utf8') : line.slice(14);
  };

  await t.test('GIVEN the account Postfix binds with WHEN it searches accounts THEN it reads addresses and no password hash', () => {
    const map = readFileSync(join(platform.stateDir, 'instances', 'mta-0', 'config', 'ldap-mailboxes.cf'), 'utf8');
    const r = ldapsearch(url, mapSetting(map, 'bind_dn'), mapSetting(map, 'bind_pw'), accounts, '(objectClass=mailfleetAccount)', ['mail', 'userPassword']);
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
    const del = spawnSync('ldapdelete', ['-x', '-H', url, '-D', `cn=admin,${baseDn}`, '-w', adminPassword, authDn], { encoding: 'utf8' });
    assert.equal(del.status, 0, del.stderr);
    assert.equal(ldapsearch(url, `cn=admin,${baseDn}`, adminPassword, authDn, '(objectClass=*)', ['cn']).code, 32, 'gone');

    const restarted = platform.cli(['restart', 'ldap']);
    assert.equal(restarted.code, 0, restarted.stderr);

    const ldapNow = await platform.instance('ldap-0');
    const urlNow = `ldap://${ldapNow.address}:${ldapNow.ports.ldap}`;
    const authPassword = (JSON.parse(readFileSync(join(platform.stateDir, 'spec.json'), 'utf8')) as { spec: { ldap: { authPassword: string } } }).spec.ldap.authPassword;
    const asDovecot = ldapsearch(urlNow, authDn, authPassword, accounts, `(mail=user3@${DOMAIN})`, ['userPassword']);
    assert.equal(asDovecot.code, 0, asDovecot.stderr);
    assert.match(asDovecot.ldif, /^userPassword/m, 'Dovecot\'s account reads the hash it verifies');
    const proxyNow = await platform.instance('proxy-0');
    assert.equal(await imapLogin(proxyNow.address, proxyNow.ports.imap as number, `user3@${DOMAIN}`, PASSWORD, platform.clientTls('starttls')), true);
  });
});
