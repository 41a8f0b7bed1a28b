import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { SECRETS_FILE, withLocalSecrets } from '../../../src/runtime/local/secrets.ts';
import { parseSpec, type MailPlatform } from '../../../src/spec/index.ts';

const bare = (extra = ''): MailPlatform => parseSpec(`apiVersion: mailfleet.io/v1alpha1
kind: MailPlatform
metadata: { name: demo }
spec:
  domains: [example.com]
${extra}`);

function stateDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-test-secrets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('GIVEN a spec without secrets WHEN the single host starts the first time THEN strong ones are generated into a 0600 file', (t) => {
  const dir = stateDir(t);
  const { platform, generated } = withLocalSecrets(bare(), dir);
  assert.deepEqual(generated, ['spec.ldap.adminPassword', 'spec.ldap.readerPassword', 'spec.ldap.authPassword', 'spec.ldap.tlsKey', 'spec.director.apiKey', 'spec.director.backendLoginPassword', 'spec.director.authRelayKey', 'spec.director.backendTlsKey', 'spec.probe.password', 'spec.redis.password', 'spec.filter.controllerPassword', 'spec.alerting.adminKey', 'spec.policy.auth.apiKey', 'spec.policy.auth.hashNonce']);
  const values = [platform.spec.ldap.adminPassword, platform.spec.ldap.readerPassword, platform.spec.ldap.authPassword, platform.spec.director.apiKey, platform.spec.redis.password];
  for (const v of values) assert.match(v ?? '', /^[A-Za-z0-9_-]{43}$/);
  assert.equal(new Set(values).size, 5);
  assert.equal(statSync(join(dir, SECRETS_FILE)).mode & 0o777, 0o600);
});

test('GIVEN generated secrets WHEN the single host starts again THEN the same values are used and nothing is generated', (t) => {
  const dir = stateDir(t);
  const first = withLocalSecrets(bare(), dir).platform;
  const again = withLocalSecrets(bare(), dir);
  assert.deepEqual(again.generated, []);
  assert.deepEqual(again.platform.spec.ldap, first.spec.ldap);
  assert.equal(again.platform.spec.director.apiKey, first.spec.director.apiKey);
});

test('GIVEN a spec that gives a secret WHEN started THEN the spec\'s value is used and only the others are generated', (t) => {
  const dir = stateDir(t);
  const { platform, generated } = withLocalSecrets(bare('  director: { apiKey: my-own-doveadm-key-0123456 }\n'), dir);
  assert.equal(platform.spec.director.apiKey, 'my-own-doveadm-key-0123456');
  assert.deepEqual(generated, ['spec.ldap.adminPassword', 'spec.ldap.readerPassword', 'spec.ldap.authPassword', 'spec.ldap.tlsKey', 'spec.director.backendLoginPassword', 'spec.director.authRelayKey', 'spec.director.backendTlsKey', 'spec.probe.password', 'spec.redis.password', 'spec.filter.controllerPassword', 'spec.alerting.adminKey', 'spec.policy.auth.apiKey', 'spec.policy.auth.hashNonce']);
  assert.ok(!readFileSync(join(dir, SECRETS_FILE), 'utf8').includes('my-own-doveadm-key'));
});

test('GIVEN a kept secret that is a well-known value WHEN started THEN it is replaced by a generated one', (t) => {
  const dir = stateDir(t);
  writeFileSync(join(dir, SECRETS_FILE), JSON.stringify({ 'ldap-admin-password': 'change-me-ldap-admin' }), { mode: 0o600 });
  const { platform, generated } = withLocalSecrets(bare(), dir);
  assert.ok(generated.includes('spec.ldap.adminPassword'));
  assert.notEqual(platform.spec.ldap.adminPassword, 'change-me-ldap-admin');
});
