/** Quota at RCPT in the generated configs: where the mta asks, what the backends answer, and nothing while it is off. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { roleConfigFiles, type ConfigInput, type Peers } from '../../src/config/index.ts';
import { withSecrets, type PlatformSpec } from '../../src/spec/index.ts';
import { CLUSTER_PEERS, mainCfSettings } from '../support/postfix-main-cf.ts';
import { testSpec } from '../support/spec.ts';

const SECRETS = { ldapAdminPassword: 'test-admin-secret-0123', ldapReaderPassword: 'test-reader-secret-0123', ldapAuthPassword: 'test-auth-secret-0123', ldapTlsKey: 'test-ldap-tls-key-0123456789', doveadmApiKey: 'test-doveadm-key-0123456789', backendLoginPassword: 'test-backend-login-0123', redisPassword: 'test-redis-secret-0123' };
const check = (host: string) => `check_policy_service { inet:${host}:12340, timeout=2s, default_action=DUNNO, try_limit=1 }`;

function backendConf(spec: PlatformSpec): string {
  const input: ConfigInput = {
    spec: withSecrets(spec, SECRETS),
    peers: CLUSTER_PEERS,
    instance: { role: 'mailbox', name: 'mailbox-0', listen: '127.88.0.4', configDir: '/etc/mailfleet', dataDir: '/var/lib/mailfleet', runDir: '/run/mailfleet', mailDir: '/srv/mail', tlsDir: '/etc/mailfleet/tls' },
  };
  return roleConfigFiles('mailbox', input)['dovecot.conf'] ?? '';
}

test('GIVEN the defaults WHEN the mta is rendered THEN it asks the proxy\'s quota relay at RCPT, last, after the recipient is known to exist', () => {
  const main = mainCfSettings('mta', testSpec('policy: { enabled: false }'), CLUSTER_PEERS, SECRETS);
  assert.equal(main.get('smtpd_recipient_restrictions'), `reject_non_fqdn_recipient, reject_unknown_recipient_domain, reject_unlisted_recipient, ${check('proxy-0.proxy')}`);
});

test('GIVEN two proxies on the single host WHEN mta-1 is rendered THEN it asks proxy-1, the one its ordinal picks', () => {
  const peers: Peers = { ...CLUSTER_PEERS, proxy: [{ name: 'proxy-0', host: '127.88.0.5' }, { name: 'proxy-1', host: '127.88.0.6' }] };
  const spec = withSecrets(testSpec('policy: { enabled: false }'), SECRETS);
  const input: ConfigInput = { spec, peers, instance: { role: 'mta', name: 'mta-1', listen: '127.88.0.7', configDir: '/c', dataDir: '/d', runDir: '/r', mailDir: '/m', tlsDir: '/t' } };
  assert.match(roleConfigFiles('mta', input)['main.cf'] ?? '', new RegExp(check('127.88.0.6').replace(/[{}.]/g, '\\$&')));
});

test('GIVEN the defaults WHEN the msa is rendered THEN it does not ask (submitted mail has a real sender to bounce to)', () => {
  const main = mainCfSettings('msa', testSpec('policy: { enabled: false }'), CLUSTER_PEERS, SECRETS);
  assert.equal(main.get('smtpd_recipient_restrictions'), 'reject_non_fqdn_recipient, reject_unlisted_recipient');
});

test('GIVEN the check off, or no proxy running now WHEN the mta is rendered THEN it does not ask', () => {
  const cases: [string, PlatformSpec, Peers][] = [
    ['off', testSpec('quota: { checkAtRcpt: false }'), CLUSTER_PEERS],
    ['no proxy running now', testSpec(), { ...CLUSTER_PEERS, proxy: [] }],
  ];
  for (const [what, spec, peers] of cases) {
    const main = mainCfSettings('mta', spec, peers, SECRETS);
    assert.doesNotMatch(main.get('smtpd_recipient_restrictions') ?? '', /12340/, what);
  }
});

test('GIVEN the defaults WHEN a backend is rendered THEN Dovecot\'s quota-status listens on its address and answers DUNNO unless the mailbox is full', () => {
  const conf = backendConf(testSpec());
  assert.match(conf, /service quota-status \{\n {2}inet_listener quota-status \{\n {4}address = 127\.88\.0\.4\n {4}port = 12340\n {2}\}\n {2}executable = quota-status -p postfix\n/);
  assert.match(conf, /^ {2}quota_status_success = DUNNO$/m);
  assert.match(conf, /^ {2}quota_status_nouser = DUNNO$/m);
  assert.match(conf, /^ {2}quota_status_overquota = "552 5\.2\.2 Mailbox is full"$/m);
});

test('GIVEN the check off WHEN a backend is rendered THEN it runs no quota-status', () => {
  const conf = backendConf(testSpec('quota: { checkAtRcpt: false }'));
  assert.doesNotMatch(conf, /quota-status|quota_status/);
  assert.match(conf, /quota = maildir:User quota/, 'quota itself stays');
});

test('GIVEN an unknown key under spec.quota WHEN parsed THEN the spec is refused, naming the field', () => {
  assert.throws(() => testSpec('quota: { checkAtRCPT: true }'), (err: { details?: string[] }) => err.details?.includes('spec.quota.checkAtRCPT: unknown field') === true);
});
