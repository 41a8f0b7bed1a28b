import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { generatedConfig, writeRoleConfig, type DaemonInput } from '../../src/agent/daemons.ts';
import { account } from '../../src/agent/fs.ts';
import { loadPodSpec, mountedConfigFiles, mountedConfigSource, podPlaceholderValues, type PodMounts } from '../../src/agent/pod.ts';
import { effectiveSettings } from '../../src/agent/settings.ts';
import { POD_NAME_PLACEHOLDER, redactSpec, roleConfigFiles, secretPlaceholder, type Peers } from '../../src/config/index.ts';
import { isMailfleetError } from '../../src/errors.ts';
import { parseSpec, type MailPlatform } from '../../src/spec/index.ts';

const NO_PEERS: Peers = { ldap: [], kvs: [], mailbox: [], proxy: [], mta: [], msa: [] };

const platform = parseSpec(stringify({
  apiVersion: 'mailfleet.io/v1alpha1',
  kind: 'MailPlatform',
  metadata: { name: 'unit' },
  spec: {
    domains: ['example.com'],
    hostname: 'mx.example.com',
    ldap: { adminPassword: 'admin-secret-0123456789', readerPassword: 'reader-secret-0123456789', authPassword: 'auth-secret-0123456789', tlsKey: 'ldap-tls-key-0123456789' },
    director: { apiKey: 'doveadm-key-0123456789', backendLoginPassword: 'backend-login-0123456789', authRelayKey: 'auth-relay-key-0123456789', backendTlsKey: 'backend-tls-key-0123456789' },
    probe: { password: 'probe-secret-0123456789' },
    redis: { password: 'redis-secret-0123456789' },
    filter: { controllerPassword: 'rspamd-secret-0123456789' },
    alerting: { adminKey: 'metrics-admin-key-0123456789' },
    policy: { auth: { apiKey: 'auth-policy-key-0123456789', hashNonce: 'auth-policy-nonce-0123456789' } },
    accounts: {
      seed: [{ address: 'alice@example.com', password: 'alice-password' }],
      generate: [{ count: 2, prefix: 'user', domain: 'example.com', password: 'generated-password' }],
    },
  },
}));

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-test-agent-pod-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeSecrets(dir: string, secrets: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [key, value] of Object.entries(secrets)) writeFileSync(join(dir, key), value);
}

/** A directory laid out as the kubelet mounts a ConfigMap: keys are symlinks through `..data` into a timestamped dir. */
function configMapMount(dir: string, files: Record<string, string>): void {
  const stamp = '..2024_05_01_12_00_00.000000001';
  mkdirSync(join(dir, stamp), { recursive: true });
  for (const [name, body] of Object.entries(files)) {
    writeFileSync(join(dir, stamp, name), body);
    symlinkSync(join('..data', name), join(dir, name));
  }
  symlinkSync(stamp, join(dir, '..data'));
}

function podInput(root: string, configSource: DaemonInput['configSource']): DaemonInput {
  return {
    spec: platform.spec,
    peers: NO_PEERS,
    instance: { role: 'mta', name: 'mta-0', listen: '0.0.0.0', configDir: join(root, 'config'), dataDir: join(root, 'data'), runDir: join(root, 'run'), mailDir: join(root, 'mail'), tlsDir: join(root, 'tls') },
    configSource,
  };
}

test('GIVEN a mounted file with secret and pod-name placeholders WHEN installed THEN every placeholder carries its value', (t) => {
  const root = tempDir(t);
  const mounts: PodMounts = { configFrom: join(root, 'mount'), secretsDir: join(root, 'secrets'), specDir: join(root, 'spec') };
  configMapMount(mounts.configFrom, {
    'main.cf': `myhostname = ${POD_NAME_PLACEHOLDER}.mta\nbind_pw = ${secretPlaceholder('ldap-reader-password')}\n`,
  });
  writeSecrets(mounts.secretsDir, { 'ldap-reader-password': 'reader-secret-2\n' });

  writeRoleConfig(podInput(root, mountedConfigSource(mounts, 'mta-7')));

  assert.equal(readFileSync(join(root, 'config', 'main.cf'), 'utf8'), 'myhostname = mta-7.mta\nbind_pw = reader-secret-2\n');
});

test('GIVEN a ConfigMap mount with ..data, a timestamped dir and dot files WHEN read THEN only the keys are installed', (t) => {
  const root = tempDir(t);
  const mount = join(root, 'mount');
  configMapMount(mount, { 'redis.conf': 'port 6379\n', 'dovecot.conf': 'protocols = imap\n' });
  // A dot file naming a key the Secret does not have: reading it would fail.
  writeFileSync(join(mount, '.hidden'), secretPlaceholder('absent'));
  mkdirSync(join(mount, 'subdir'));

  const files = mountedConfigFiles(mount, podPlaceholderValues(join(root, 'secrets'), 'kvs-0'), join(root, 'secrets'));

  assert.deepEqual(files, { 'dovecot.conf': 'protocols = imap\n', 'redis.conf': 'port 6379\n' });
});

test('GIVEN a mounted file naming a key the Secret lacks WHEN installed THEN PLACEHOLDER_UNRESOLVED names the key, the file and the secrets directory', (t) => {
  const root = tempDir(t);
  const mounts: PodMounts = { configFrom: join(root, 'mount'), secretsDir: join(root, 'secrets'), specDir: join(root, 'spec') };
  configMapMount(mounts.configFrom, { 'dovecot.conf': `doveadm_api_key = ${secretPlaceholder('doveadm-api-key')}\n` });
  writeSecrets(mounts.secretsDir, { 'ldap-reader-password': 'x' });

  assert.throws(() => writeRoleConfig(podInput(root, mountedConfigSource(mounts, 'proxy-0'))), (err: unknown) => {
    assert.ok(isMailfleetError(err, 'PLACEHOLDER_UNRESOLVED'));
    assert.match(err.message, /doveadm-api-key/);
    assert.ok(err.message.includes(mounts.secretsDir), err.message);
    assert.ok(err.message.includes(join(mounts.configFrom, 'dovecot.conf')), err.message);
    return true;
  });
});

test('GIVEN a Secret value spanning lines WHEN a file names it THEN it is refused rather than injected', (t) => {
  const root = tempDir(t);
  const secrets = join(root, 'secrets');
  writeSecrets(secrets, { 'ldap-reader-password': 'pw\nmydestination = evil\n' });
  configMapMount(join(root, 'mount'), { 'main.cf': `bind_pw = ${secretPlaceholder('ldap-reader-password')}\n` });

  assert.throws(() => mountedConfigFiles(join(root, 'mount'), podPlaceholderValues(secrets, 'mta-0'), secrets), (err: unknown) => isMailfleetError(err, 'PLACEHOLDER_UNRESOLVED'));
});

test('GIVEN a pod config source WHEN installed with a group THEN files are root-owned, group-readable and not world-readable', (t) => {
  const root = tempDir(t);
  const mounts: PodMounts = { configFrom: join(root, 'mount'), secretsDir: join(root, 'secrets'), specDir: join(root, 'spec') };
  configMapMount(mounts.configFrom, { 'main.cf': `bind_pw = ${secretPlaceholder('ldap-reader-password')}\n` });
  writeSecrets(mounts.secretsDir, { 'ldap-reader-password': 'reader-secret-2' });

  writeRoleConfig(podInput(root, mountedConfigSource(mounts, 'mta-0')), 'postfix');

  const st = statSync(join(root, 'config', 'main.cf'));
  assert.equal(st.mode & 0o777, 0o640);
  assert.equal(st.uid, 0);
  assert.equal(st.gid, account('postfix').gid);
});

test('GIVEN an installed pod config WHEN the mount changes and it is installed again (reload) THEN the new contents are installed', (t) => {
  const root = tempDir(t);
  const mounts: PodMounts = { configFrom: join(root, 'mount'), secretsDir: join(root, 'secrets'), specDir: join(root, 'spec') };
  configMapMount(mounts.configFrom, { 'redis.conf': 'maxclients 10000\n' });
  const input = podInput(root, mountedConfigSource(mounts, 'kvs-0'));
  writeRoleConfig(input);

  writeFileSync(join(mounts.configFrom, '..data', 'redis.conf'), 'maxclients 20000\n');
  writeRoleConfig(input);

  assert.equal(readFileSync(join(root, 'config', 'redis.conf'), 'utf8'), 'maxclients 20000\n');
});

test('GIVEN no config source (the single host) WHEN installed THEN the files are exactly what the generators return', (t) => {
  const root = tempDir(t);
  const input = { ...podInput(root, undefined), instance: { ...podInput(root, undefined).instance, role: 'kvs' as const, name: 'kvs-0', listen: '127.85.0.1' } };

  writeRoleConfig(input);

  const expected = roleConfigFiles('kvs', input);
  assert.deepEqual(generatedConfig(input), expected);
  assert.equal(readFileSync(join(root, 'config', 'redis.conf'), 'utf8'), expected['redis.conf']);
});

function writeRedactedSpec(specDir: string, doc: MailPlatform): Record<string, string> {
  const { spec, secrets } = redactSpec(doc.spec);
  mkdirSync(specDir, { recursive: true });
  writeFileSync(join(specDir, 'mailfleet.yaml'), stringify({ ...doc, spec }));
  return secrets;
}

test('GIVEN a redacted spec and the Secret WHEN the pod spec is loaded THEN it equals the original spec', (t) => {
  const root = tempDir(t);
  const mounts: PodMounts = { configFrom: join(root, 'mount'), secretsDir: join(root, 'secrets'), specDir: join(root, 'spec') };
  writeSecrets(mounts.secretsDir, writeRedactedSpec(mounts.specDir, platform));

  assert.deepEqual(loadPodSpec(mounts, 'ldap-0', 'ldap'), platform);
});

test('GIVEN an mta pod, whose Secret mount holds only the reader password WHEN the pod spec is loaded THEN that is resolved and the keys it lacks stay placeholders', (t) => {
  const root = tempDir(t);
  const mounts: PodMounts = { configFrom: join(root, 'mount'), secretsDir: join(root, 'secrets'), specDir: join(root, 'spec') };
  const secrets = writeRedactedSpec(mounts.specDir, platform);
  writeSecrets(mounts.secretsDir, { 'ldap-reader-password': secrets['ldap-reader-password'] ?? '' });

  const spec = loadPodSpec(mounts, 'mta-0', 'mta').spec;

  assert.equal(spec.ldap.readerPassword, platform.spec.ldap.readerPassword);
  assert.equal(spec.ldap.adminPassword, secretPlaceholder('ldap-admin-password'));
  assert.equal(spec.director.apiKey, secretPlaceholder('doveadm-api-key'));
});

test('GIVEN an mta pod WHEN the reader password is not mounted THEN loading fails naming that key', (t) => {
  const root = tempDir(t);
  const mounts: PodMounts = { configFrom: join(root, 'mount'), secretsDir: join(root, 'secrets'), specDir: join(root, 'spec') };
  writeRedactedSpec(mounts.specDir, platform);
  writeSecrets(mounts.secretsDir, {});

  assert.throws(() => loadPodSpec(mounts, 'mta-0', 'mta'), (err: unknown) => isMailfleetError(err, 'PLACEHOLDER_UNRESOLVED') && /ldap-reader-password/.test(err.message));
});

test('GIVEN a redacted spec WHEN a Secret key is missing THEN loading fails with PLACEHOLDER_UNRESOLVED naming the key and the secrets directory', (t) => {
  const root = tempDir(t);
  const mounts: PodMounts = { configFrom: join(root, 'mount'), secretsDir: join(root, 'secrets'), specDir: join(root, 'spec') };
  const secrets = writeRedactedSpec(mounts.specDir, platform);
  delete secrets['account-generate-0-password'];
  writeSecrets(mounts.secretsDir, secrets);

  assert.throws(() => loadPodSpec(mounts, 'ldap-0', 'ldap'), (err: unknown) => {
    assert.ok(isMailfleetError(err, 'PLACEHOLDER_UNRESOLVED'));
    assert.match(err.message, /account-generate-0-password/);
    assert.ok(err.message.includes(mounts.secretsDir), err.message);
    return true;
  });
});

test('GIVEN a spec with secrets WHEN the effective settings are described THEN no secret value appears', () => {
  const settings = effectiveSettings({
    origin: { mode: 'pod', specFile: '/etc/mailfleet/spec/mailfleet.yaml', configFrom: '/etc/mailfleet/config', secretsDir: '/etc/mailfleet/secrets' },
    spec: platform.spec,
    instance: { role: 'ldap', name: 'ldap-0', listen: '0.0.0.0', configDir: '/c', dataDir: '/d', runDir: '/r', mailDir: '/m', tlsDir: '/t' },
    peersFile: '/etc/mailfleet/spec/peers.json',
    logFormat: 'raw',
    healthHost: '0.0.0.0',
    healthPort: 8081,
  });

  const text = JSON.stringify(settings);
  for (const secret of Object.values(redactSpec(platform.spec).secrets)) assert.ok(!text.includes(secret), `${secret} leaked`);
  assert.ok(text.includes(secretPlaceholder('ldap-admin-password')));
});
