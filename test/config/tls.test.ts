import assert from 'node:assert/strict';
import { test } from 'node:test';
import { POSTFIX_SNI_MAP, roleConfigFiles, servedCertificateFile, type ConfigInput, type InstanceContext } from '../../src/config/index.ts';
import { withSecrets, type PlatformSpec, type Role } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';
import { ONE_OF_EACH } from './peers.ts';

const peers = ONE_OF_EACH;
const SECRETS = { ldapAdminPassword: 'test-admin-secret-0123', ldapReaderPassword: 'test-reader-secret-0123', ldapAuthPassword: 'test-auth-secret-0123', ldapTlsKey: 'test-ldap-tls-key-0123456789', doveadmApiKey: 'test-doveadm-key-0123456789', backendLoginPassword: 'test-backend-login-0123', redisPassword: 'test-redis-secret-0123' };

const TWO_CERTIFICATES = `tls:
  certificates:
    - { name: main, hosts: [mx.example.com, smtp.example.com] }
    - { name: net, hosts: [mail.example.net, imap.example.net] }`;

function instance(role: Role): InstanceContext {
  return { role, name: `${role}-0`, listen: '0.0.0.0', configDir: '/etc/mailfleet', dataDir: '/var/lib/mailfleet', runDir: '/run/mailfleet/run', mailDir: '/srv/mail', tlsDir: '/etc/mailfleet/tls' };
}

function input(role: Role, spec: PlatformSpec = testSpec()): ConfigInput {
  return { spec: withSecrets(spec, SECRETS), peers, instance: instance(role) };
}

/** Top-level `key = value` lines (indented lines belong to a block and are left out). */
function settings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([a-z0-9_]+) = ?(.*)$/.exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

function mainCf(role: 'mta' | 'msa', spec?: PlatformSpec): Map<string, string> {
  return settings(roleConfigFiles(role, input(role, spec))['main.cf'] ?? '');
}

/** One Dovecot `inet_listener` block, by name, as `key = value` pairs. */
function listener(conf: string, name: string): Map<string, string> | undefined {
  const m = new RegExp(`^  inet_listener ${name} \\{\\n((?:    .*\\n)*)  \\}`, 'm').exec(conf);
  return m ? settings((m[1] ?? '').replace(/^ +/gm, '')) : undefined;
}

test('GIVEN the mta role WHEN rendered THEN STARTTLS is offered on 25 but not required, with the default certificate, and recorded in Received headers', () => {
  const main = mainCf('mta');
  assert.equal(main.get('smtpd_tls_security_level'), 'may');
  assert.equal(main.get('smtpd_tls_chain_files'), '/run/mailfleet/run/tls/default.pem');
  assert.equal(main.get('smtpd_tls_received_header'), 'yes');
  assert.equal(main.get('smtpd_tls_loglevel'), '1');
  assert.equal(main.get('tls_server_sni_maps'), undefined, 'one certificate: no SNI table');
});

test('GIVEN the mta and msa roles WHEN rendered THEN TLS 1.2 is the minimum, suites are ECDHE with AEAD, compression and renegotiation are off and sessions resume', () => {
  for (const role of ['mta', 'msa'] as const) {
    const main = mainCf(role);
    assert.equal(main.get('smtpd_tls_protocols'), '>=TLSv1.2', role);
    assert.equal(main.get('smtpd_tls_mandatory_protocols'), '>=TLSv1.2', role);
    assert.equal(main.get('smtpd_tls_ciphers'), 'high', role);
    assert.equal(main.get('smtpd_tls_mandatory_ciphers'), 'high', role);
    assert.equal(main.get('tls_high_cipherlist'), 'ECDHE+AESGCM:ECDHE+CHACHA20', role);
    assert.equal(main.get('tls_preempt_cipherlist'), 'yes', role);
    assert.equal(main.get('tls_ssl_options'), 'NO_COMPRESSION, NO_RENEGOTIATION', role);
    assert.equal(main.get('smtpd_tls_session_cache_database'), 'btree:${data_directory}/smtpd_scache', role);
  }
});

test('GIVEN spec.tls.minProtocol TLSv1.3 WHEN mta, msa and proxy are rendered THEN every listener takes TLS 1.3 only', () => {
  const spec = testSpec('tls: { minProtocol: TLSv1.3 }');
  for (const role of ['mta', 'msa'] as const) {
    assert.equal(mainCf(role, spec).get('smtpd_tls_protocols'), '>=TLSv1.3');
    assert.equal(mainCf(role, spec).get('smtpd_tls_mandatory_protocols'), '>=TLSv1.3');
  }
  assert.equal(settings(roleConfigFiles('proxy', input('proxy', spec))['dovecot.conf'] ?? '').get('ssl_min_protocol'), 'TLSv1.3');
});

test('GIVEN the msa role WHEN rendered THEN 587 requires STARTTLS before anything, AUTH included, and 465 speaks TLS from the first byte', () => {
  const files = roleConfigFiles('msa', input('msa'));
  const main = settings(files['main.cf'] ?? '');
  assert.equal(main.get('smtpd_tls_security_level'), 'encrypt');
  assert.equal(main.get('smtpd_tls_auth_only'), 'yes');
  assert.doesNotMatch(files['main.cf'] ?? '', /smtpd_tls_security_level = none/);
  const master = files['master.cf'] ?? '';
  assert.match(master, /^0\.0\.0\.0:587 inet n - n - - smtpd -o syslog_name=postfix\/submission$/m);
  assert.match(master, /^0\.0\.0\.0:465 inet n - n - - smtpd -o syslog_name=postfix\/submissions -o smtpd_tls_wrappermode=yes$/m);
});

test('GIVEN other spec.ports WHEN msa and proxy are rendered THEN the implicit-TLS listeners follow them', () => {
  const spec = testSpec('ports: { submissions: 1465, imaps: 1993, pop3s: 1995 }');
  assert.match(roleConfigFiles('msa', input('msa', spec))['master.cf'] ?? '', /^0\.0\.0\.0:1465 inet .*smtpd_tls_wrappermode=yes$/m);
  const conf = roleConfigFiles('proxy', input('proxy', spec))['dovecot.conf'] ?? '';
  assert.equal(listener(conf, 'imaps')?.get('port'), '1993');
  assert.equal(listener(conf, 'pop3s')?.get('port'), '1995');
});

test('GIVEN two certificates WHEN mta and msa are rendered THEN a texthash SNI table maps every host name to its certificate\'s served file', () => {
  const spec = testSpec(TWO_CERTIFICATES);
  for (const role of ['mta', 'msa'] as const) {
    const files = roleConfigFiles(role, input(role, spec));
    const main = settings(files['main.cf'] ?? '');
    assert.equal(main.get('smtpd_tls_chain_files'), '/run/mailfleet/run/tls/main.pem');
    assert.equal(main.get('tls_server_sni_maps'), `texthash:/etc/mailfleet/${POSTFIX_SNI_MAP}`);
    const rows = (files[POSTFIX_SNI_MAP] ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    assert.deepEqual(rows, [
      'mx.example.com /run/mailfleet/run/tls/main.pem',
      'smtp.example.com /run/mailfleet/run/tls/main.pem',
      'mail.example.net /run/mailfleet/run/tls/net.pem',
      'imap.example.net /run/mailfleet/run/tls/net.pem',
    ]);
  }
});

test('GIVEN the proxy role WHEN rendered THEN TLS is on with the default certificate, the key is read from a file, and plaintext logins wait for TLS', () => {
  const conf = roleConfigFiles('proxy', input('proxy'))['dovecot.conf'] ?? '';
  const s = settings(conf);
  assert.equal(s.get('ssl'), 'yes');
  assert.equal(s.get('ssl_cert'), '</run/mailfleet/run/tls/default.pem');
  assert.equal(s.get('ssl_key'), '</run/mailfleet/run/tls/default.pem');
  assert.equal(s.get('ssl_min_protocol'), 'TLSv1.2');
  assert.equal(s.get('ssl_cipher_list'), 'ECDHE+AESGCM:ECDHE+CHACHA20');
  assert.equal(s.get('ssl_prefer_server_ciphers'), 'yes');
  assert.equal(s.get('disable_plaintext_auth'), 'yes');
  // Trusted networks count as secured: the proxy trusts none.
  assert.equal(s.get('login_trusted_networks'), undefined);
  assert.equal(listener(conf, 'imap')?.get('ssl'), undefined, '143 is STARTTLS');
  assert.equal(listener(conf, 'imaps')?.get('ssl'), 'yes');
  assert.equal(listener(conf, 'imaps')?.get('port'), '993');
  assert.equal(listener(conf, 'pop3s')?.get('ssl'), 'yes');
  assert.equal(listener(conf, 'pop3s')?.get('port'), '995');
  for (const internal of ['ring', 'auth-client']) assert.equal(listener(conf, internal)?.get('ssl'), undefined, internal);
  // doveadm's HTTP API carries the API key: implicit TLS, with its own certificate (generators.test.ts).
  assert.equal(listener(conf, 'http')?.get('ssl'), 'yes');
});

test('GIVEN two certificates WHEN the proxy is rendered THEN each host of the other certificate has a local_name block and the default has none', () => {
  const conf = roleConfigFiles('proxy', input('proxy', testSpec(TWO_CERTIFICATES)))['dovecot.conf'] ?? '';
  assert.equal(settings(conf).get('ssl_cert'), '</run/mailfleet/run/tls/main.pem');
  const blocks = [...conf.matchAll(/^local_name (\S+) \{\n((?: {2}.*\n)*)\}/gm)].map((m) => [m[1], m[2]]);
  const file = '/run/mailfleet/run/tls/net.pem';
  assert.deepEqual(blocks, [
    ['mail.example.net', `  ssl_cert = <${file}\n  ssl_key = <${file}\n`],
    ['imap.example.net', `  ssl_cert = <${file}\n  ssl_key = <${file}\n`],
  ]);
});

test('GIVEN load balancer ranges WHEN the proxy is rendered THEN the balancer has PROXY-protocol listeners for IMAPS and POP3S too, with TLS', () => {
  const conf = roleConfigFiles('proxy', input('proxy', testSpec('loadBalancer: { sourceRanges: [192.0.2.0/28] }')))['dovecot.conf'] ?? '';
  for (const [name, port, ssl] of [['imap_lb', '10143', undefined], ['imaps_lb', '10993', 'yes'], ['pop3_lb', '10110', undefined], ['pop3s_lb', '10995', 'yes']] as const) {
    const l = listener(conf, name);
    assert.equal(l?.get('port'), port, name);
    assert.equal(l?.get('haproxy'), 'yes', name);
    assert.equal(l?.get('ssl'), ssl, name);
  }
  assert.equal(listener(roleConfigFiles('proxy', input('proxy'))['dovecot.conf'] ?? '', 'imaps_lb'), undefined, 'no ranges: no balancer listener');
});

test('GIVEN proxy and mailbox WHEN rendered THEN the backend serves TLS 1.3 with the certificate its agent issues, and the proxy trusts the backend CA its agent writes', () => {
  const backend = settings(roleConfigFiles('mailbox', input('mailbox'))['dovecot.conf'] ?? '');
  assert.equal(backend.get('ssl'), 'yes');
  assert.equal(backend.get('ssl_cert'), '</run/mailfleet/run/backend-tls.pem');
  assert.equal(backend.get('ssl_key'), '</run/mailfleet/run/backend-tls.pem');
  assert.equal(backend.get('ssl_min_protocol'), 'TLSv1.3');
  const proxy = settings(roleConfigFiles('proxy', input('proxy'))['dovecot.conf'] ?? '');
  // The login proxy ignores ssl_client_ca_*: only ssl_ca reaches it.
  assert.equal(proxy.get('ssl_ca'), '</run/mailfleet/run/backend-ca.pem');
  assert.equal(proxy.get('ssl_require_crl'), 'no');
  assert.equal(proxy.get('ssl_verify_client_cert'), undefined, 'clients are asked for no certificate');
});

test('GIVEN no proxy WHEN the mailbox role is rendered THEN nothing logs in to it and it speaks no TLS', () => {
  const s = settings(roleConfigFiles('mailbox', input('mailbox', testSpec('roles: { proxy: { replicas: 0 }, mta: { replicas: 0 }, msa: { replicas: 0 } }')))['dovecot.conf'] ?? '');
  assert.equal(s.get('ssl'), 'no');
  assert.equal(s.get('ssl_cert'), undefined);
});

test('GIVEN an instance WHEN its served certificate file is named THEN it is in the run dir, not where the issuer writes', () => {
  assert.equal(servedCertificateFile(instance('proxy'), 'default'), '/run/mailfleet/run/tls/default.pem');
});
