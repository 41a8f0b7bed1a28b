import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Peers } from '../../src/config/index.ts';
import type { PlatformSpec } from '../../src/spec/index.ts';
import { CLUSTER_PEERS, mainCfSettings } from '../support/postfix-main-cf.ts';
import { testSpec } from '../support/spec.ts';

const SECRETS = { ldapAdminPassword: 'test-admin-secret-0123', ldapReaderPassword: 'test-reader-secret-0123', ldapAuthPassword: 'test-auth-secret-0123', ldapTlsKey: 'test-ldap-tls-key-0123456789', doveadmApiKey: 'test-doveadm-key-0123456789', backendLoginPassword: 'test-backend-login-0123', redisPassword: 'test-redis-secret-0123' };

const PEERS: Peers = { ...CLUSTER_PEERS, policy: [{ name: 'policy', host: 'policy.mail.svc.cluster.local' }] };

function mainCf(role: 'mta' | 'msa', spec: PlatformSpec, peers: Peers = PEERS): Map<string, string> {
  return mainCfSettings(role, spec, peers, SECRETS);
}

const check = (context: string, host = 'policy.mail.svc.cluster.local', timeout = 2) =>
  `check_policy_service { inet:${host}:10040, timeout=${timeout}s, default_action=DUNNO, try_limit=1, policy_context=${context} }`;
/** The mta's quota check (config/postfix-quota.ts), which comes after flow control. */
const QUOTA_CHECK = 'check_policy_service { inet:proxy-0.proxy:12340, timeout=2s, default_action=DUNNO, try_limit=1 }';

test('GIVEN the default rules WHEN the mta is rendered THEN it asks the policy server at RCPT, after reject_unauth_destination has run, before the quota check', () => {
  const main = mainCf('mta', testSpec());
  assert.equal(main.get('smtpd_relay_restrictions'), 'reject_unauth_destination');
  assert.equal(main.get('smtpd_recipient_restrictions'), `reject_non_fqdn_recipient, reject_unknown_recipient_domain, reject_unlisted_recipient, ${check('mta')}, ${QUOTA_CHECK}`);
  assert.equal(main.get('smtpd_data_restrictions'), undefined, 'no mta rule counts messages');
  assert.equal(main.get('smtpd_end_of_data_restrictions'), undefined);
  assert.equal(main.get('smtpd_client_restrictions'), undefined);
  assert.equal(main.get('smtpd_delay_reject'), 'yes');
});

test('GIVEN the default rules WHEN the msa is rendered THEN it asks at DATA only (messages per account), not at RCPT', () => {
  const main = mainCf('msa', testSpec());
  assert.equal(main.get('smtpd_relay_restrictions'), 'permit_sasl_authenticated, reject');
  assert.equal(main.get('smtpd_recipient_restrictions'), 'reject_non_fqdn_recipient, reject_unlisted_recipient');
  assert.equal(main.get('smtpd_data_restrictions'), check('msa'));
  assert.equal(main.get('smtpd_client_restrictions'), '');
});

test('GIVEN rules at every stage WHEN rendered THEN each stage gets the check, CONNECT with smtpd_delay_reject off', () => {
  const spec = testSpec([
    'policy:',
    '  deadlineMs: 1500',
    '  rules:',
    '    - { name: c, key: client_address, count: connections, windows: [{ limit: 5, seconds: 60 }] }',
    '    - { name: r, key: recipient, count: recipients, windows: [{ limit: 5, seconds: 60 }] }',
    '    - { name: m, key: sender, count: messages, windows: [{ limit: 5, seconds: 60 }] }',
    '    - { name: b, key: sasl_username, count: bytes, windows: [{ limit: 5000, seconds: 60 }], contexts: [msa] }',
  ].join('\n'));
  const mta = mainCf('mta', spec);
  const c = check('mta', 'policy.mail.svc.cluster.local', 3);
  assert.equal(mta.get('smtpd_client_restrictions'), c);
  assert.equal(mta.get('smtpd_delay_reject'), 'no');
  assert.equal(mta.get('smtpd_recipient_restrictions'), `reject_non_fqdn_recipient, reject_unknown_recipient_domain, reject_unlisted_recipient, ${c}, ${QUOTA_CHECK}`);
  assert.equal(mta.get('smtpd_data_restrictions'), c);
  assert.equal(mta.get('smtpd_end_of_data_restrictions'), undefined, 'the bytes rule is the msa\'s');
  const msa = mainCf('msa', spec);
  assert.equal(msa.get('smtpd_end_of_data_restrictions'), check('msa', 'policy.mail.svc.cluster.local', 3));
  assert.equal(msa.get('smtpd_client_restrictions'), check('msa', 'policy.mail.svc.cluster.local', 3));
});

test('GIVEN the policy disabled, without replicas, without rules or without an instance WHEN rendered THEN no check is written', () => {
  const cases: [string, PlatformSpec, Peers][] = [
    ['disabled', testSpec('policy: { enabled: false }'), PEERS],
    ['no replicas', testSpec('policy: { replicas: 0 }'), PEERS],
    ['no rules', testSpec('policy: { rules: [] }'), PEERS],
    ['no instance now', testSpec(), { ...PEERS, policy: [] }],
    ['a peers file without policy', testSpec(), { ...PEERS, policy: undefined }],
  ];
  for (const [what, spec, peers] of cases) {
    for (const role of ['mta', 'msa'] as const) {
      const main = mainCf(role, spec, peers);
      assert.ok(![...main.values()].some((v) => v.includes('check_policy_service { inet:policy')), `${what}: ${role}`);
      assert.equal(main.get('smtpd_delay_reject'), 'yes', `${what}: ${role}`);
    }
  }
});

test('GIVEN a single-host instance on an address WHEN rendered THEN the check names the address; an IPv6 one in brackets', () => {
  assert.match(mainCf('mta', testSpec(), { ...PEERS, policy: [{ name: 'policy-0', host: '127.119.0.9' }] }).get('smtpd_recipient_restrictions') ?? '', /\{ inet:127\.119\.0\.9:10040, /);
  assert.match(mainCf('mta', testSpec(), { ...PEERS, policy: [{ name: 'policy-0', host: 'fd00::9' }] }).get('smtpd_recipient_restrictions') ?? '', /\{ inet:\[fd00::9\]:10040, /);
});
