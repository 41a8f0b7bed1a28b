import assert from 'node:assert/strict';
import { test } from 'node:test';
import { doveadmTlsPath, postfixOutboundFiles, redisSocketPath, redisTlsPath, roleConfigFiles, serviceAccountsChangeLdif, slapdConfigLdif, type ConfigInput, type Peers } from '../../src/config/index.ts';
import { parseSpec, withSecrets, type PlatformSpec, type Role } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';

const spec = parseSpec(`apiVersion: mailfleet.io/v1alpha1
kind: MailPlatform
metadata: { name: demo }
spec:
  domains: [example.com, example.net]
  hostname: mx.example.com
`).spec;

const peers: Peers = {
  ldap: [{ name: 'ldap-0', host: 'ldap-0.ldap' }],
  kvs: [{ name: 'kvs-0', host: 'kvs-0.kvs' }],
  mailbox: [{ name: 'mailbox-0', host: 'mailbox-0.mailbox' }, { name: 'mailbox-1', host: 'mailbox-1.mailbox' }],
  proxy: [{ name: 'proxy-0', host: 'proxy-0.proxy' }, { name: 'proxy-1', host: 'proxy-1.proxy' }],
  mta: [],
  msa: [],
};

/** What the single host generates (or a pod's Secret holds) before configs are written. */
const SECRETS = { ldapAdminPassword: 'test-admin-secret-0123', ldapReaderPassword: 'test-reader-secret-0123', ldapAuthPassword: 'test-auth-secret-0123', ldapTlsKey: 'test-ldap-tls-key-0123456789', doveadmApiKey: 'test-doveadm-key-0123456789', backendLoginPassword: 'test-backend-login-0123', redisPassword: 'test-redis-secret-0123' };

function input(role: Role, listen = '0.0.0.0', withSpec: PlatformSpec = spec): ConfigInput {
  return {
    spec: withSecrets(withSpec, SECRETS),
    peers,
    instance: { role, name: `${role}-0`, listen, configDir: '/etc/mailfleet', dataDir: '/var/lib/mailfleet', runDir: '/run/mailfleet', mailDir: '/srv/mail', tlsDir: '/etc/mailfleet/tls' },
  };
}

/** `key = value` lines of a Postfix or Dovecot-style file. */
function settings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+) = ?(.*)$/.exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

test('GIVEN the mta role WHEN rendered THEN recipients come from LDAP, unknown ones are refused and delivery is LMTP to the proxies', () => {
  const files = roleConfigFiles('mta', input('mta'));
  const main = settings(files['main.cf'] ?? '');
  assert.equal(main.get('virtual_mailbox_maps'), 'proxy:ldap:/etc/mailfleet/ldap-mailboxes.cf');
  assert.equal(main.get('virtual_transport'), 'lmtp:inet:[proxy-0.proxy]:24');
  assert.equal(main.get('lmtp_fallback_relay'), '[proxy-1.proxy]:24');
  assert.equal(main.get('maillog_file'), '/dev/stdout');
  assert.match(main.get('smtpd_recipient_restrictions') ?? '', /reject_unlisted_recipient/);
  assert.equal(main.get('unknown_virtual_mailbox_reject_code'), '550');
  assert.match(files['master.cf'] ?? '', /^0\.0\.0\.0:25 inet n - n - 1 postscreen$/m);
  assert.match(files['ldap-mailboxes.cf'] ?? '', /^server_host = ldap:\/\/ldap-0\.ldap:389$/m);
});

test('GIVEN the mta and msa roles WHEN rendered THEN the served domains are the spec\'s, listed without an LDAP lookup', () => {
  for (const role of ['mta', 'msa'] as const) {
    const files = roleConfigFiles(role, input(role));
    const main = settings(files['main.cf'] ?? '');
    assert.equal(main.get('virtual_mailbox_domains'), 'example.com example.net');
    assert.equal(main.get('proxy_read_maps'), '$virtual_mailbox_maps $smtpd_sender_login_maps');
    assert.equal(files['ldap-domains.cf'], undefined);
  }
});

test('GIVEN the mta and msa roles WHEN rendered THEN message_size_limit is the spec\'s, the figure the proxy\'s LMTP router sizes its own limit from', () => {
  for (const role of ['mta', 'msa'] as const) {
    assert.equal(settings(roleConfigFiles(role, input(role))['main.cf'] ?? '').get('message_size_limit'), String(spec.messageSizeLimit));
  }
  assert.equal(spec.messageSizeLimit, 52_428_800);
});

test('GIVEN the ldap role WHEN rendered THEN slapd does not try syslog (its log is stderr, -d stats)', () => {
  const ldif = slapdConfigLdif(input('ldap'), '{SSHA}x');
  assert.match(ldif, /^olcLogLevel: 0$/m);
});

test('GIVEN the ldap role WHEN rendered THEN slapd serves TLS 1.3 with the certificate its agent issues and refuses a simple bind without TLS', () => {
  const ldif = slapdConfigLdif(input('ldap'), '{SSHA}x');
  const served = `${input('ldap').instance.runDir}/ldap-tls.pem`;
  assert.match(ldif, new RegExp(`^olcTLSCertificateFile: ${served}$`, 'm'));
  assert.match(ldif, new RegExp(`^olcTLSCertificateKeyFile: ${served}$`, 'm'));
  assert.match(ldif, /^olcTLSProtocolMin: 3\.4$/m);
  assert.match(ldif, /^olcSecurity: simple_bind=128$/m);
});

test('GIVEN every LDAP client WHEN rendered THEN it binds only after StartTLS, trusting the LDAP CA file among its config files and checking the name', () => {
  for (const role of ['mta', 'msa'] as const) {
    const files = roleConfigFiles(role, input(role));
    const map = files['ldap-mailboxes.cf'] ?? '';
    assert.match(map, /^start_tls = yes$/m, role);
    assert.match(map, /^tls_require_cert = yes$/m, role);
    assert.match(map, new RegExp(`^tls_ca_cert_file = ${input(role).instance.configDir}/ldap-ca.pem$`, 'm'), role);
    assert.match(files['ldap-ca.pem'] ?? '', /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=]+\n-----END CERTIFICATE-----\n$/, role);
  }
  for (const role of ['proxy', 'mailbox'] as const) {
    const files = roleConfigFiles(role, input(role));
    const ldapConfs = Object.entries(files).filter(([name]) => /^dovecot-ldap.*\.conf\.ext$/.test(name));
    assert.ok(ldapConfs.length > 0, role);
    for (const [name, conf] of ldapConfs) {
      assert.match(conf, /^tls = yes$/m, `${role} ${name}`);
      assert.match(conf, /^tls_require_cert = hard$/m, `${role} ${name}`);
      assert.match(conf, new RegExp(`^tls_ca_cert_file = ${input(role).instance.configDir}/ldap-ca.pem$`, 'm'), `${role} ${name}`);
    }
    assert.ok(files['ldap-ca.pem'], role);
  }
});

test('GIVEN the msa role WHEN rendered THEN SASL goes to Dovecot auth on the proxy, only clients logged in submit (whatever the recipient), as their own address', () => {
  const main = settings(roleConfigFiles('msa', input('msa'))['main.cf'] ?? '');
  assert.equal(main.get('smtpd_sasl_type'), 'dovecot');
  // Through the agent's relay on its own loopback (src/auth-relay), which carries it to the proxy in TLS.
  assert.equal(main.get('smtpd_sasl_path'), `inet:${input('msa').instance.listen === '0.0.0.0' ? '127.0.0.1' : input('msa').instance.listen}:12345`);
  assert.equal(roleConfigFiles('msa', input('msa'))['auth-relay-target'], 'proxy-0.proxy:12345\n');
  assert.equal(main.get('smtpd_relay_restrictions'), 'permit_sasl_authenticated, reject');
  assert.equal(main.get('smtpd_sender_login_maps'), `proxy:ldap:${input('msa').instance.configDir}/ldap-mailboxes.cf`);
  assert.equal(main.get('smtpd_sender_restrictions'), 'reject_non_fqdn_sender, reject_authenticated_sender_login_mismatch');
});

test('GIVEN the mta and msa roles WHEN rendered THEN an Authentication-Results header a client brings is dropped (rspamd writes them)', () => {
  for (const role of ['mta', 'msa'] as const) {
    const files = roleConfigFiles(role, input(role));
    assert.equal(settings(files['main.cf'] ?? '').get('header_checks'), `regexp:${input(role).instance.configDir}/header-checks`, role);
    assert.match(files['header-checks'] ?? '', /^\/\^Authentication-Results:\/ IGNORE$/m, role);
  }
});

test('GIVEN the mta and msa roles WHEN rendered THEN SMTP smuggling is closed (bare newlines normalized, unauthorized pipelining refused) and one client holds at most 50 sessions', () => {
  for (const role of ['mta', 'msa'] as const) {
    const main = settings(roleConfigFiles(role, input(role))['main.cf'] ?? '');
    assert.equal(main.get('smtpd_forbid_bare_newline'), 'normalize', role);
    assert.equal(main.get('smtpd_forbid_unauth_pipelining'), 'yes', role);
    assert.equal(main.get('smtpd_client_connection_count_limit'), '50', role);
  }
});

test('GIVEN the mta and msa roles, behind a load balancer or not, WHEN rendered THEN ETRN is neither offered in the EHLO reply nor served', () => {
  for (const withSpec of [spec, testSpec('loadBalancer: { sourceRanges: [192.0.2.0/28] }')]) {
    for (const role of ['mta', 'msa'] as const) {
      const files = roleConfigFiles(role, input(role, '0.0.0.0', withSpec));
      const main = settings(files['main.cf'] ?? '');
      assert.equal(main.get('smtpd_discard_ehlo_keywords'), 'etrn', role);
      assert.equal(main.get('smtpd_etrn_restrictions'), 'reject', role);
      // No smtpd service of the role (submission, submissions, the PROXY-protocol ones) sets either back.
      assert.doesNotMatch(files['master.cf'] ?? '', /smtpd_(discard_ehlo_keywords|etrn_restrictions)/, role);
    }
  }
});

test('GIVEN the outbound pools (mailout, fallback) WHEN rendered THEN their smtpd neither offers ETRN in the EHLO reply nor serves it', () => {
  for (const pool of ['mailout', 'fallback'] as const) {
    const files = postfixOutboundFiles(input('mta'), pool, ['10.244.0.0/16']);
    const main = settings(files['main.cf'] ?? '');
    assert.equal(main.get('smtpd_discard_ehlo_keywords'), 'etrn', pool);
    assert.equal(main.get('smtpd_etrn_restrictions'), 'reject', pool);
    // The pool's one smtpd service (port 25) sets neither back.
    assert.match(files['master.cf'] ?? '', / inet n - n - - smtpd\b/, pool);
    assert.doesNotMatch(files['master.cf'] ?? '', /smtpd_(discard_ehlo_keywords|etrn_restrictions)/, pool);
  }
});

test('GIVEN outbound pools with and without an IPv6 range WHEN rendered THEN each sends over IPv6 only when its pool has one', () => {
  const dual = testSpec('outbound: { mailout: { ipv6Cidr: "2001:db8:25::/120" } }');
  const protocols = (pool: 'mailout' | 'fallback') => settings(postfixOutboundFiles(input('mta', '0.0.0.0', dual), pool, ['10.244.0.0/16'])['main.cf'] ?? '').get('inet_protocols');
  assert.equal(protocols('mailout'), 'all');
  assert.equal(protocols('fallback'), 'ipv4');
});

test('GIVEN a pod (listening on 0.0.0.0) behind a load balancer WHEN mta and msa are rendered THEN mynetworks is empty and relaying trusts no network', () => {
  const behindLb = testSpec('loadBalancer: { sourceRanges: [192.0.2.0/28] }');
  for (const role of ['mta', 'msa'] as const) {
    const main = settings(roleConfigFiles(role, input(role, '0.0.0.0', behindLb))['main.cf'] ?? '');
    assert.equal(main.get('mynetworks'), '', `${role}: a PROXY header claiming an address in mynetworks would make it trusted`);
    assert.doesNotMatch(main.get('smtpd_relay_restrictions') ?? '', /permit_mynetworks/);
    assert.match(main.get('smtpd_relay_restrictions') ?? '', role === 'mta' ? /reject_unauth_destination$/ : /permit_sasl_authenticated, reject$/);
  }
});

test('GIVEN spec.relayNetworks WHEN mta and msa are rendered THEN mynetworks is exactly those networks and they may relay', () => {
  const trusting = testSpec('relayNetworks: [10.20.0.0/16, 2001:db8:1::/48]');
  const mta = settings(roleConfigFiles('mta', input('mta', '0.0.0.0', trusting))['main.cf'] ?? '');
  assert.equal(mta.get('mynetworks'), '10.20.0.0/16 2001:db8:1::/48');
  assert.equal(mta.get('smtpd_relay_restrictions'), 'permit_mynetworks, reject_unauth_destination');
  const msa = settings(roleConfigFiles('msa', input('msa', '0.0.0.0', trusting))['main.cf'] ?? '');
  assert.equal(msa.get('smtpd_relay_restrictions'), 'permit_mynetworks, permit_sasl_authenticated, reject');
});

test('GIVEN load balancer ranges WHEN mta and msa are rendered THEN the PROXY-protocol service is a unix service (the agent guards the balancer port), never an inet listener; on the mta postscreen reads the header', () => {
  const behindLb = testSpec('loadBalancer: { sourceRanges: [192.0.2.0/28] }');
  const expected = {
    mta: [
      'smtp-lb unix - n n - 1 postscreen -o syslog_name=postfix/smtp-lb -o postscreen_upstream_proxy_protocol=haproxy -o smtpd_service_name=smtpd-lb',
      'smtpd-lb pass - - n - - smtpd -o syslog_name=postfix/smtp-lb',
    ],
    msa: [
      'submission-lb unix - n n - - smtpd -o syslog_name=postfix/submission-lb -o smtpd_upstream_proxy_protocol=haproxy',
      'submissions-lb unix - n n - - smtpd -o syslog_name=postfix/submissions-lb -o smtpd_upstream_proxy_protocol=haproxy -o smtpd_tls_wrappermode=yes',
    ],
  };
  for (const role of ['mta', 'msa'] as const) {
    const master = roleConfigFiles(role, input(role, '0.0.0.0', behindLb))['master.cf'] ?? '';
    const proxied = master.split('\n').filter((l) => /^(smtpd?-lb|submissions?-lb) /.test(l));
    assert.deepEqual(proxied, expected[role]);
  }
  const direct = roleConfigFiles('mta', input('mta'))['master.cf'] ?? '';
  assert.doesNotMatch(direct, /upstream_proxy_protocol/, 'no balancer range: no PROXY-protocol service');
});

test('GIVEN the mta and msa roles WHEN rendered THEN a health-check smtpd of two processes of its own, without milters, listens on the instance\'s own address (a pod\'s loopback)', () => {
  const health = (role: 'mta' | 'msa', listen: string): string[] =>
    (roleConfigFiles(role, input(role, listen))['master.cf'] ?? '').split('\n').filter((l) => l.includes('syslog_name=postfix/health'));
  const common = 'inet n - n - 2 smtpd -o syslog_name=postfix/health -o smtpd_timeout=10s -o smtpd_milters= -o smtpd_client_connection_count_limit=0';
  assert.deepEqual(health('mta', '0.0.0.0'), [`127.0.0.1:10026 ${common}`]);
  assert.deepEqual(health('mta', '127.82.0.5'), [`127.82.0.5:10026 ${common}`]);
  assert.deepEqual(health('msa', '0.0.0.0'), [`127.0.0.1:10026 ${common}`, `127.0.0.1:10466 ${common} -o smtpd_tls_wrappermode=yes`]);
  // The outbound pools' agents run the mta's readiness dialogue, so they have the same service.
  for (const pool of ['mailout', 'fallback'] as const) {
    const master = postfixOutboundFiles(input('mta'), pool, ['10.244.0.0/16'])['master.cf'] ?? '';
    assert.deepEqual(master.split('\n').filter((l) => l.includes('syslog_name=postfix/health')), [`127.0.0.1:10026 ${common}`], pool);
  }
});

test('GIVEN any Postfix role WHEN rendered THEN foreign mail is held for the outbound pool and never routed to the Internet', () => {
  const main = settings(roleConfigFiles('mta', input('mta'))['main.cf'] ?? '');
  assert.equal(main.get('default_transport'), 'mailout');
  assert.equal(main.get('defer_transports'), 'mailout');
  assert.equal(main.get('relayhost'), '[127.0.0.1]:9');
});

test('GIVEN the proxy role WHEN rendered THEN clients are greeted with the host name, not the server and its distribution', () => {
  const conf = settings(roleConfigFiles('proxy', input('proxy'))['dovecot.conf'] ?? '');
  assert.equal(conf.get('login_greeting'), `${spec.hostname} ready.`);
});

test('GIVEN the proxy role WHEN rendered THEN it is a director ring member with the doveadm HTTP API and an API key', () => {
  const files = roleConfigFiles('proxy', input('proxy'));
  const conf = files['dovecot.conf'] ?? '';
  const s = settings(conf);
  assert.equal(s.get('director_servers'), 'proxy-0.proxy:9090 proxy-1.proxy:9090');
  assert.equal(s.get('director_mail_servers'), 'mailbox-0.mailbox mailbox-1.mailbox');
  assert.equal(s.get('doveadm_api_key'), SECRETS.doveadmApiKey);
  assert.match(conf, /executable = imap-login director/);
  assert.match(conf, /executable = pop3-login director/);
  assert.match(files['dovecot-ldap.conf.ext'] ?? '', /=proxy=y/);
  for (const line of conf.split('\n')) if (line.includes('{')) assert.match(line, /\{$/, `Dovecot needs '{' at the end of the line: ${line}`);
});

test('GIVEN a proxy WHEN rendered THEN its doveadm HTTP listener serves TLS 1.3 only, with the certificate its agent issues, and the login services keep the public one', () => {
  const inst = input('proxy');
  const conf = roleConfigFiles('proxy', inst)['dovecot.conf'] ?? '';
  const doveadm = conf.slice(conf.indexOf('service doveadm {'));
  assert.match(doveadm.slice(0, doveadm.indexOf('\n}')), /inet_listener http \{\n[^}]*ssl = yes\n/);
  const file = doveadmTlsPath(inst.instance);
  const filter = conf.slice(conf.indexOf('protocol doveadm {'));
  assert.equal(filter.slice(0, filter.indexOf('}') + 1), `protocol doveadm {\n  ssl_cert = <${file}\n  ssl_key = <${file}\n  ssl_min_protocol = TLSv1.3\n}`);
  assert.notEqual(settings(conf).get('ssl_cert'), `<${file}`, 'the global certificate stays the public one');
});

test('GIVEN proxy and mailbox WHEN rendered THEN auth workers verify the slow password hashes, with room for the hash\'s memory', () => {
  for (const role of ['proxy', 'mailbox'] as const) {
    const conf = roleConfigFiles(role, input(role))['dovecot.conf'] ?? '';
    assert.equal(settings(conf).get('auth_cache_verify_password_with_worker'), 'yes');
    assert.match(conf, /^service auth-worker \{\n {2}vsz_limit = 256 M\n\}$/m);
    assert.match(roleConfigFiles(role, input(role))['dovecot-ldap.conf.ext'] ?? '', /^default_pass_scheme = ARGON2ID$/m);
  }
  const heavy = testSpec('accounts: { passwordHash: { memoryKiB: 1048576, passes: 1 } }');
  assert.match(roleConfigFiles('proxy', input('proxy', '0.0.0.0', heavy))['dovecot.conf'] ?? '', /^ {2}vsz_limit = 1152 M$/m);
});

test('GIVEN proxy and mailbox WHEN rendered THEN the proxy logs in to the backend as the master user after STARTTLS, so the user\'s hash is verified once and the password stays on the proxy', () => {
  const proxyLdap = roleConfigFiles('proxy', input('proxy'))['dovecot-ldap.conf.ext'] ?? '';
  assert.match(proxyLdap, new RegExp(`^pass_attrs = mail=user, userPassword=password, =proxy=y, =master=mailproxy, =pass=${SECRETS.backendLoginPassword}, =starttls=yes$`, 'm'));
  const backend = roleConfigFiles('mailbox', input('mailbox'))['dovecot.conf'] ?? '';
  const master = backend.indexOf('  master = yes');
  assert.ok(master > 0 && master < backend.indexOf('  driver = ldap'), 'the master passdb comes before the users\' passdb');
  assert.match(backend, new RegExp(`^ {2}args = user=mailproxy password=${SECRETS.backendLoginPassword}$`, 'm'));
  assert.match(backend, /^ {2}pass = yes$/m, 'the user must still exist in LDAP');
  assert.doesNotMatch(roleConfigFiles('mailbox', input('mailbox'))['dovecot-ldap.conf.ext'] ?? '', /master|=pass=/);
});

test('GIVEN the mailbox role WHEN rendered THEN mail lives under the shared storage and quota comes from LDAP', () => {
  const files = roleConfigFiles('mailbox', input('mailbox'));
  assert.match(files['dovecot-ldap.conf.ext'] ?? '', /=home=\/srv\/mail\/%d\/%n/);
  assert.match(files['dovecot-ldap.conf.ext'] ?? '', /mailQuotaBytes=quota_rule=\*:bytes=%\$/);
  assert.equal(settings(files['dovecot.conf'] ?? '').get('mail_location'), 'maildir:~/Maildir');
});

test('GIVEN the same spec WHEN rendered for a pod and for a loopback instance THEN only addresses differ', () => {
  const pod = roleConfigFiles('mailbox', input('mailbox', '0.0.0.0'));
  const local = roleConfigFiles('mailbox', input('mailbox', '127.77.0.9'));
  assert.equal((local['dovecot.conf'] ?? '').replaceAll('127.77.0.9', '0.0.0.0'), pod['dovecot.conf']);
});

test('GIVEN the same input twice WHEN rendered THEN the output is byte-identical', () => {
  for (const role of ['mta', 'msa', 'proxy', 'mailbox', 'kvs'] as const) {
    assert.deepEqual(roleConfigFiles(role, input(role)), roleConfigFiles(role, input(role)));
  }
});

test('GIVEN the ldap role WHEN its config is rendered THEN only Dovecot\'s bind reads account password hashes, service hashes are bind-only, and Postfix\'s bind reads the rest', () => {
  const ldif = slapdConfigLdif(input('ldap'), '{SSHA}x');
  const rules = ldif.split('\n').filter((l) => l.startsWith('olcAccess:') && !l.includes('cn=peercred'));
  assert.deepEqual(rules, [
    'olcAccess: {0}to dn.subtree="ou=accounts,dc=mailfleet,dc=test" attrs=userPassword by dn.exact="cn=mailauth,dc=mailfleet,dc=test" read by anonymous auth by * none',
    'olcAccess: {1}to attrs=userPassword by anonymous auth by * none',
    'olcAccess: {2}to * by dn.exact="cn=mailreader,dc=mailfleet,dc=test" read by dn.exact="cn=mailauth,dc=mailfleet,dc=test" read by * none',
  ]);
});

test('GIVEN the service accounts WHEN an existing directory is brought up to date THEN an existing one gets its password replaced and a missing one is added', () => {
  const ldif = serviceAccountsChangeLdif(spec, { reader: '{SSHA}r', auth: '{SSHA}a' }, new Set(['cn=mailreader,dc=mailfleet,dc=test']));
  assert.equal(ldif, [
    'dn: cn=mailreader,dc=mailfleet,dc=test', 'changetype: modify', 'replace: userPassword', 'userPassword: {SSHA}r', '-', '',
    'dn: cn=mailauth,dc=mailfleet,dc=test', 'changetype: add', 'objectClass: organizationalRole', 'objectClass: simpleSecurityObject', 'cn: mailauth', 'userPassword: {SSHA}a', '',
  ].join('\n'));
});

test('GIVEN Postfix and Dovecot WHEN rendered THEN Postfix binds as the reader and Dovecot as its own account', () => {
  assert.match(roleConfigFiles('mta', input('mta'))['ldap-mailboxes.cf'] ?? '', /^bind_dn = cn=mailreader,dc=mailfleet,dc=test$/m);
  for (const role of ['proxy', 'mailbox'] as const) {
    const ldap = roleConfigFiles(role, input(role))['dovecot-ldap.conf.ext'] ?? '';
    assert.match(ldap, /^dn = cn=mailauth,dc=mailfleet,dc=test$/m);
    assert.match(ldap, /^dnpass = test-auth-secret-0123$/m);
  }
});

test('GIVEN the kvs role WHEN rendered THEN Redis requires the platform\'s password from every client', () => {
  const conf = roleConfigFiles('kvs', input('kvs', '127.0.0.9'))['redis.conf'] ?? '';
  assert.match(conf, new RegExp(`^requirepass ${SECRETS.redisPassword}$`, 'm'));
  assert.match(conf, /^bind 127\.0\.0\.9$/m);
});

test('GIVEN the kvs role WHEN rendered THEN its TCP port serves TLS 1.3 only, with the certificate its agent issues, and its agent has a socket of its own', () => {
  const inst = input('kvs', '127.0.0.9');
  const conf = roleConfigFiles('kvs', inst)['redis.conf'] ?? '';
  assert.match(conf, /^port 0$/m, 'no plaintext port');
  assert.match(conf, /^tls-port 6379$/m);
  assert.match(conf, new RegExp(`^tls-cert-file ${redisTlsPath(inst.instance)}$`, 'm'));
  assert.match(conf, new RegExp(`^tls-key-file ${redisTlsPath(inst.instance)}$`, 'm'));
  assert.match(conf, /^tls-protocols "TLSv1\.3"$/m);
  assert.match(conf, /^tls-auth-clients no$/m, 'the password admits clients, not a certificate');
  assert.match(conf, new RegExp(`^unixsocket ${redisSocketPath(inst.instance)}$`, 'm'));
  assert.match(conf, /^unixsocketperm 600$/m);
});
