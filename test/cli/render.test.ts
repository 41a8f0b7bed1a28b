import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ldapCaSecretValue } from '../../src/config/index.ts';
import { issueInternalCertificate, redisCa } from '../../src/internal-tls/index.ts';
import { ensureBuilt } from '../support/build.ts';
import { runCli } from '../support/platform.ts';
import { validateObjects } from '../support/kube/openapi.ts';

const EXAMPLE = new URL('../../examples/mailfleet.yaml', import.meta.url).pathname;

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync('/tmp/mailfleet-unit-render-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('GIVEN a spec with a bad Kubernetes field WHEN rendered THEN it exits 2 naming the field and prints no YAML', (t) => {
  const spec = join(tempDir(t), 'bad.yaml');
  writeFileSync(spec, readFileSync(EXAMPLE, 'utf8').replace('    existingSecret: demo-secrets\n', '    existingSecret: demo-secrets\n    scrape: prometheus\n    storageSizes: { mail: lots }\n'));
  const r = runCli(['render', '-f', spec]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /spec\.kubernetes\.scrape: must be equal to one of the allowed values/);
  assert.match(r.stderr, /spec\.kubernetes\.storageSizes\.mail: expected a value matching/);
});

test('GIVEN the example, left with placeholders WHEN rendered THEN stderr names each by its field and stdout is the YAML alone', () => {
  const r = runCli(['render', '-f', EXAMPLE]);
  assert.equal(r.code, 0, r.stderr);
  const fields = r.stderr.split('\n').filter((l) => l !== '').map((l) => /^mailfleet: (?:warning|note): ([a-zA-Z.0-9]+):/.exec(l)?.[1] ?? l);
  assert.deepEqual(fields, ['spec.kubernetes.images.registry', 'spec.outbound.mailout.ipv4Cidr', 'spec.outbound.fallback.ipv4Cidr', 'spec.kubernetes.alertWebhookUrl', 'spec.accounts', 'spec.hostname', 'spec.kubernetes.unsafeSysctls', 'spec.kubernetes.logs.credentialsSecret']);
  // The one Secret nothing renders, with the command that makes it.
  assert.match(r.stderr, /kubectl -n mailfleet create secret generic mailfleet-logs-s3 --from-literal=access-key-id=… --from-literal=secret-access-key=…/);
  // What kubelet must allow, named with the way out.
  assert.match(r.stderr, /--allowed-unsafe-sysctls=net\.core\.somaxconn,net\.ipv4\.tcp_tw_reuse,net\.unix\.max_dgram_qlen .*false/);
  assert.ok(parseAllDocuments(r.stdout).every((d) => d.errors.length === 0), 'stdout parses as YAML');
});

test('GIVEN -o DIR WHEN rendered twice with an object dropped in between THEN the directory mirrors the output and the stale file is gone', (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'manifests');
  const first = runCli(['render', '-f', EXAMPLE, '-o', out]);
  assert.equal(first.code, 0, first.stderr);
  const files = readdirSync(out);
  assert.ok(files.includes('00-namespace-mailfleet.yaml') && files.includes('11-statefulset-mailout.yaml') && files.includes('kustomization.yaml'));
  const kustomization = readFileSync(join(out, 'kustomization.yaml'), 'utf8');
  assert.equal(kustomization.split('\n').filter((l) => l.startsWith('  - ')).length, files.length - 1, 'kustomization lists every object file');
  writeFileSync(join(out, 'README.md'), 'notes kept by the user\n');

  const spec = join(dir, 'no-outbound.yaml');
  writeFileSync(spec, readFileSync(EXAMPLE, 'utf8').replace('spec:\n', 'spec:\n  outbound: { mailout: { replicas: 0 }, fallback: { replicas: 0 } }\n'));
  const second = runCli(['render', '-f', spec, '-o', out]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /removed \d+ stale files/);
  const after = readdirSync(out);
  assert.ok(!after.includes('11-statefulset-mailout.yaml'), 'the dropped StatefulSet file is removed');
  assert.ok(after.includes('README.md'), 'files render did not write are left alone');
});

test('GIVEN render crd and render operator WHEN their output is validated THEN every object passes the OpenAPI schemas', async () => {
  const crd = runCli(['render', 'crd']);
  const operator = runCli(['render', 'operator', '--namespace', 'mail-ops', '--watch-namespace', 'tenants', '--allowed-registries', 'registry.example.net/mail']);
  const cluster = runCli(['render', 'operator', '--namespace', 'mail-ops', '--allow-cross-namespace']);
  for (const r of [crd, operator, cluster]) assert.equal(r.code, 0, r.stderr);
  const namespaced = parseAllDocuments(operator.stdout).map((d) => d.toJSON() as object);
  const clusterWide = parseAllDocuments(cluster.stdout).map((d) => d.toJSON() as object);
  const objects = [...parseAllDocuments(crd.stdout).map((d) => d.toJSON() as object), ...namespaced, ...clusterWide];
  const kindsOf = (list: object[]) => list.map((o) => (o as { kind: string }).kind);
  assert.deepEqual(kindsOf(objects).filter((k) => k === 'CustomResourceDefinition').length, 3);
  assert.ok(kindsOf(namespaced).includes('Role') && !kindsOf(namespaced).includes('ClusterRole'), 'namespaced by default');
  assert.ok(kindsOf(clusterWide).includes('ClusterRole') && !kindsOf(clusterWide).includes('Role'), 'a ClusterRole only when cross-namespace is allowed');
  const report = await validateObjects(objects);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.unchecked, []);
});

test('GIVEN an LDAP TLS key in a file or on stdin WHEN render ldap-ca runs THEN it prints the Secret value ldap-tls-ca of that key, one line; a short key is refused', (t) => {
  const key = 'an-ldap-tls-key-of-my-own-0123456789';
  const file = join(tempDir(t), 'ldap-tls-key');
  writeFileSync(file, `${key}\n`);
  const fromFile = runCli(['render', 'ldap-ca', '--key-file', file]);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(fromFile.stdout, `${ldapCaSecretValue(key)}\n`);
  const cert = new X509Certificate(Buffer.from(fromFile.stdout.trim(), 'base64'));
  assert.equal(cert.subject, 'CN=mailfleet ldap CA\nO=mailfleet');
  const fromStdin = spawnSync(process.execPath, [ensureBuilt(), 'render', 'ldap-ca', '--key-file', '-'], { input: key, encoding: 'utf8' });
  assert.equal(fromStdin.status, 0, fromStdin.stderr);
  assert.equal(fromStdin.stdout, fromFile.stdout, 'the same value from a pipe');
  writeFileSync(file, 'short\n');
  const short = runCli(['render', 'ldap-ca', '--key-file', file]);
  assert.equal(short.code, 2);
  assert.match(short.stderr, /the LDAP TLS key must be one line of at least 16 characters/);
  assert.equal(short.stdout, '');
});

test('GIVEN a Redis password or a doveadm API key WHEN render redis-ca or doveadm-ca runs THEN it prints the PEM CA a client of one\'s own trusts, which verifies what the platform serves', (t) => {
  const password = 'a-redis-password-of-my-own-0123456789';
  const file = join(tempDir(t), 'redis-password');
  writeFileSync(file, `${password}\n`);
  const redis = runCli(['render', 'redis-ca', '--password-file', file]);
  assert.equal(redis.code, 0, redis.stderr);
  const ca = new X509Certificate(redis.stdout);
  assert.equal(ca.subject, 'CN=mailfleet redis CA\nO=mailfleet');
  const leaf = new X509Certificate(issueInternalCertificate(redisCa(password), { hosts: ['127.0.0.1'], validityDays: 1 }).pem.replace(/^[\s\S]*?(?=-----BEGIN CERTIFICATE-----)/, ''));
  assert.ok(leaf.verify(ca.publicKey), 'a certificate the kvs agent issues verifies against the printed CA');
  const doveadm = spawnSync(process.execPath, [ensureBuilt(), 'render', 'doveadm-ca', '--key-file', '-'], { input: password, encoding: 'utf8' });
  assert.equal(doveadm.status, 0, doveadm.stderr);
  assert.equal(new X509Certificate(doveadm.stdout).subject, 'CN=mailfleet doveadm CA\nO=mailfleet');
  const missing = runCli(['render', 'redis-ca']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--password-file is required/);
});
