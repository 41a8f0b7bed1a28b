import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SASL_LDAP_CONF } from '../../src/config/dovecot-proxy.ts';
import { roleConfigFiles, type ConfigFiles } from '../../src/config/index.ts';
import { withSecrets } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';
import { ONE_OF_EACH } from './peers.ts';

const peers = ONE_OF_EACH;
const BACKEND_LOGIN = 'b-secret-0123456789';
const SECRETS = { ldapAdminPassword: 'a-secret-0123456789', ldapReaderPassword: 'r-secret-0123456789', ldapAuthPassword: 'u-secret-0123456789', ldapTlsKey: 'test-ldap-tls-key-0123456789', doveadmApiKey: 'k-secret-0123456789', backendLoginPassword: BACKEND_LOGIN, redisPassword: 'd-secret-0123456789' };

function proxyFiles(dir = '/etc/mailfleet'): ConfigFiles {
  return roleConfigFiles('proxy', {
    spec: withSecrets(testSpec(), SECRETS),
    peers,
    instance: { role: 'proxy', name: 'proxy-0', listen: '0.0.0.0', configDir: dir, dataDir: dir, runDir: dir, mailDir: dir, tlsDir: dir },
  });
}

test('GIVEN the proxy WHEN rendered THEN the msa\'s SASL logins (service smtp) use a passdb without the backend master login, and stop there', () => {
  const files = proxyFiles();
  const sasl = files[SASL_LDAP_CONF] ?? '';
  assert.match(sasl, /^pass_attrs = mail=user, userPassword=password$/m);
  assert.ok(!sasl.includes(BACKEND_LOGIN), 'the backend login password is not in the SASL passdb');
  assert.doesNotMatch(sasl, /proxy|master|=pass=/);
  const conf = files['dovecot.conf'] ?? '';
  const block = /^protocol smtp \{\n((?: {2}.*\n)*)\}$/m.exec(conf)?.[1] ?? '';
  assert.match(block, new RegExp(`^ {4}args = /etc/mailfleet/${SASL_LDAP_CONF.replaceAll('.', '\\.')}$`, 'm'));
  // A wrong password or an LDAP failure must not fall through to the proxy passdb, whose success carries the master login.
  assert.match(block, /^ {4}result_failure = return-fail$/m);
  assert.match(block, /^ {4}result_internalfail = return-fail$/m);
  // IMAP and POP3 still proxy with the master login.
  assert.match(files['dovecot-ldap.conf.ext'] ?? '', /=proxy=y, =master=mailproxy, =pass=/);
});

/** The passdbs Dovecot's auth process uses for `service`, in order, as doveconf reports them. */
function passdbArgs(confPath: string, service: string): string[] {
  const r = spawnSync('doveconf', ['-c', confPath, '-f', `service=${service}`, 'passdb'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return [...r.stdout.matchAll(/^ {2}args = (.*)$/gm)].map((m) => m[1] as string);
}

const hasDoveconf = spawnSync('doveconf', ['-d'], { stdio: 'ignore' }).error === undefined;

test('GIVEN the rendered proxy config WHEN Dovecot reads it per service THEN smtp checks the SASL passdb first and imap and pop3 only the proxy passdb', { skip: hasDoveconf ? false : 'doveconf is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-sasl-'));
  try {
    const files = proxyFiles(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    // doveconf reads the `ssl_cert = <file` it is given; any content does for listing settings.
    mkdirSync(join(dir, 'tls'));
    writeFileSync(join(dir, 'tls', 'default.pem'), 'placeholder\n');
    const conf = join(dir, 'dovecot.conf');
    assert.deepEqual(passdbArgs(conf, 'smtp'), [join(dir, SASL_LDAP_CONF), join(dir, 'dovecot-ldap.conf.ext')]);
    for (const service of ['imap', 'pop3']) assert.deepEqual(passdbArgs(conf, service), [join(dir, 'dovecot-ldap.conf.ext')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
