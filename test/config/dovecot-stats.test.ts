import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dovecotStatsSocket, MAILBOX_METRICS, PROXY_METRICS, roleConfigFiles, type ConfigInput } from '../../src/config/index.ts';
import { withSecrets, type Role } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';
import { ONE_OF_EACH } from './peers.ts';

const peers = ONE_OF_EACH;
const SECRETS = { ldapAdminPassword: 'a-secret-0123456789', ldapReaderPassword: 'r-secret-0123456789', ldapAuthPassword: 'u-secret-0123456789', ldapTlsKey: 'test-ldap-tls-key-0123456789', doveadmApiKey: 'k-secret-0123456789', backendLoginPassword: 'b-secret-0123456789', redisPassword: 'd-secret-0123456789' };

/** dovecot.conf of `role`, in a pod (`0.0.0.0`) or on the single host (its own loopback address). */
function dovecotConf(role: Role, listen: string): string {
  const input: ConfigInput = {
    spec: withSecrets(testSpec(), SECRETS),
    peers,
    instance: { role, name: `${role}-0`, listen, configDir: '/etc/mailfleet', dataDir: '/var/lib/mailfleet', runDir: '/run/mailfleet', mailDir: '/srv/mail', tlsDir: '/etc/mailfleet/tls' },
  };
  return roleConfigFiles(role, input)['dovecot.conf'] ?? '';
}

/** The `metric NAME { ... }` blocks: name → their settings. */
function metricBlocks(conf: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const m of conf.matchAll(/^metric (\S+) \{\n((?: {2}.*\n)*?)\}$/gm)) {
    const settings = Object.fromEntries([...(m[2] as string).matchAll(/^ {2}(\w+) = (.*)$/gm)].map((s) => [s[1] as string, s[2] as string]));
    out.set(m[1] as string, settings);
  }
  return out;
}

const statsBlock = (conf: string): string | undefined => /^service stats \{\n(?: {2}.*\n)*\}$/m.exec(conf)?.[0];

test('GIVEN a pod or the single host WHEN proxy and mailbox configs are rendered THEN the stats process serves HTTP on a root-only unix socket in the run dir, and on no TCP port', () => {
  for (const role of ['proxy', 'mailbox'] as const) {
    for (const listen of ['0.0.0.0', '127.111.0.3']) {
      const conf = dovecotConf(role, listen);
      assert.equal(statsBlock(conf), 'service stats {\n  unix_listener http {\n    mode = 0600\n  }\n}');
      assert.match(conf, /^base_dir = \/run\/mailfleet$/m);
    }
  }
  assert.equal(dovecotStatsSocket({ runDir: '/run/mailfleet' }), '/run/mailfleet/http');
});

test('GIVEN any Dovecot config WHEN rendered THEN stats_writer_socket_path is left to its default, never emptied (metrics would all stay 0)', () => {
  for (const role of ['proxy', 'mailbox'] as const) {
    for (const listen of ['0.0.0.0', '127.111.0.9']) assert.doesNotMatch(dovecotConf(role, listen), /stats_writer_socket_path/);
  }
});

test('GIVEN the proxy WHEN rendered THEN it counts logins and proxied sessions, one series each, and no backend-only event', () => {
  const blocks = metricBlocks(dovecotConf('proxy', '0.0.0.0'));
  assert.deepEqual([...blocks.keys()], ['auth_success', 'auth_failure', 'proxy_session']);
  assert.deepEqual(blocks.get('auth_success'), { filter: 'event=auth_request_finished AND success=yes' });
  // Dovecot 2.3.19 sets no `success` field on a failed login: `success=no` would never match.
  assert.deepEqual(blocks.get('auth_failure'), { filter: 'event=auth_request_finished AND NOT success=yes' });
  assert.deepEqual(blocks.get('proxy_session'), { filter: 'event=proxy_session_finished' });
});

test('GIVEN a mailbox WHEN rendered THEN it counts logins, IMAP commands by name and reply with a latency histogram, LMTP commands, deliveries and POP3 sessions', () => {
  const blocks = metricBlocks(dovecotConf('mailbox', '0.0.0.0'));
  assert.deepEqual([...blocks.keys()], ['auth_success', 'auth_failure', 'imap_command', 'imap_command_duration_seconds', 'lmtp_command', 'mail_delivery', 'pop3_session']);
  assert.deepEqual(blocks.get('imap_command'), { filter: 'event=imap_command_finished', group_by: 'cmd_name tagged_reply_state' });
  assert.deepEqual(blocks.get('imap_command_duration_seconds'), { filter: 'event=imap_command_finished', group_by: 'cmd_name duration:exponential:2:7:10' });
  assert.deepEqual(blocks.get('lmtp_command'), { filter: 'event=smtp_server_command_finished AND protocol=lmtp', group_by: 'cmd_name status_code' });
  assert.deepEqual(blocks.get('mail_delivery'), { filter: 'event=mail_delivery_finished' });
  assert.deepEqual(blocks.get('pop3_session'), { filter: 'event=mail_user_session_finished AND category=service:pop3' });
});

test('GIVEN the metric definitions WHEN checked THEN every name is one Dovecot prints (it drops other names without a word)', () => {
  for (const m of [...PROXY_METRICS, ...MAILBOX_METRICS]) assert.match(m.name, /^[a-z][a-z0-9_]*$/, m.name);
});

test('GIVEN roles without Dovecot WHEN rendered THEN they get no stats settings', () => {
  for (const role of ['mta', 'msa', 'kvs'] as const) {
    const files = Object.values(roleConfigFiles(role, { spec: withSecrets(testSpec(), SECRETS), peers, instance: { role, name: `${role}-0`, listen: '0.0.0.0', configDir: '/c', dataDir: '/d', runDir: '/r', mailDir: '/m', tlsDir: '/t' } }));
    for (const text of files) assert.doesNotMatch(text, /service stats|^metric /m);
  }
});
