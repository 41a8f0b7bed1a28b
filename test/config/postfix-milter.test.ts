import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Peers } from '../../src/config/index.ts';
import type { PlatformSpec } from '../../src/spec/index.ts';
import { CLUSTER_PEERS, mainCfSettings } from '../support/postfix-main-cf.ts';
import { testSpec } from '../support/spec.ts';

const SECRETS = { ldapReaderPassword: 'test-reader-secret-0123', ldapTlsKey: 'test-ldap-tls-key-0123456789' };

const PEERS: Peers = { ...CLUSTER_PEERS, as: [{ name: 'as', host: 'as.mail.svc.cluster.local' }] };

function mainCf(role: 'mta' | 'msa', spec: PlatformSpec = testSpec(), peers: Peers = PEERS): Map<string, string> {
  return mainCfSettings(role, spec, peers, SECRETS);
}

test('GIVEN an as peer WHEN the mta and the msa are rendered THEN each uses rspamd as its one milter, failing open by default', () => {
  for (const role of ['mta', 'msa'] as const) {
    const main = mainCf(role);
    assert.equal(main.get('smtpd_milters'), 'inet:as.mail.svc.cluster.local:11332', role);
    assert.equal(main.get('non_smtpd_milters'), '', `${role}: bounces are not scanned`);
    assert.equal(main.get('milter_protocol'), '6');
    assert.equal(main.get('milter_default_action'), 'accept');
    assert.equal(main.get('milter_connect_timeout'), '5s');
    assert.equal(main.get('milter_command_timeout'), '10s');
    assert.equal(main.get('milter_content_timeout'), '130s', 'longer than rspamd\'s own IO timeout');
    assert.equal(main.get('milter_macro_daemon_name'), undefined, 'the host name stays the daemon name (rspamd\'s authserv-id)');
  }
});

test('GIVEN failure closed WHEN rendered THEN an unreachable rspamd makes Postfix answer 4xx (tempfail)', () => {
  assert.equal(mainCf('mta', testSpec('filter: { failure: closed }')).get('milter_default_action'), 'tempfail');
});

test('GIVEN several single-host as instances WHEN rendered THEN only the first is named (Postfix would run every listed milter on each message)', () => {
  const peers: Peers = { ...PEERS, as: [{ name: 'as-0', host: '127.121.0.5' }, { name: 'as-1', host: '127.121.0.6' }] };
  assert.equal(mainCf('mta', testSpec(), peers).get('smtpd_milters'), 'inet:127.121.0.5:11332');
  assert.equal(mainCf('mta', testSpec(), { ...PEERS, as: [{ name: 'as-0', host: 'fd00::5' }] }).get('smtpd_milters'), 'inet:[fd00::5]:11332');
});

test('GIVEN no as peer WHEN rendered THEN no milter setting is written at all', () => {
  for (const peers of [{ ...PEERS, as: [] }, { ...PEERS, as: undefined }] as Peers[]) {
    for (const role of ['mta', 'msa'] as const) {
      const main = mainCf(role, testSpec(), peers);
      assert.ok(![...main.keys()].some((k) => k.includes('milter')), role);
    }
  }
});
