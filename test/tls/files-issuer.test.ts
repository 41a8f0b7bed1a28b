import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { isMailfleetError } from '../../src/errors.ts';
import { createCertificateRenewal, createTlsMetrics, issueFromLocalCa, loadOrCreateLocalCa, tlsPaths, type LocalCa } from '../../src/tls/index.ts';
import { capturedLogger } from '../support/log-lines.ts';
import { until } from '../support/poll.ts';
import { testSpec } from '../support/spec.ts';

interface Files {
  state: string;
  src: string;
  ca: LocalCa;
  /** Writes a fresh certificate for `hosts` and its key to the source files. */
  write(hosts: string[]): Promise<{ cert: string; key: string }>;
  renewal(): ReturnType<typeof createCertificateRenewal> & { failures(): Promise<number>; lines: () => Record<string, unknown>[] };
}

async function setup(t: TestContext): Promise<Files> {
  const state = mkdtempSync('/tmp/mailfleet-unit-');
  const src = mkdtempSync('/tmp/mailfleet-unit-');
  t.after(() => {
    rmSync(state, { recursive: true, force: true });
    rmSync(src, { recursive: true, force: true });
  });
  // The operator's own CA, elsewhere.
  const theirs = tlsPaths(src, join(src, 'certs'));
  mkdirSync(theirs.root);
  const { ca } = await loadOrCreateLocalCa(theirs, 'operator');
  const spec = testSpec(`tls: { issuer: files, checkSeconds: 1, certificates: [{ name: default, hosts: [mx.example.com], certFile: ${src}/mx.pem, keyFile: ${src}/mx.key }] }`);
  return {
    state,
    src,
    ca,
    async write(hosts) {
      const pem = await issueFromLocalCa(ca, { hosts, validityDays: 30, keyType: 'ecdsa-p256' });
      writeFileSync(join(src, 'mx.pem'), pem.cert);
      writeFileSync(join(src, 'mx.key'), pem.key, { mode: 0o600 });
      return pem;
    },
    renewal() {
      const { log, lines } = capturedLogger();
      const metrics = createTlsMetrics(new Registry());
      const r = createCertificateRenewal({ platformName: 'demo', tls: spec.tls, stateDir: state, certsDir: join(state, 'tls', 'certs'), log, metrics });
      const failures = async () => (await metrics.renewals.get()).values.find((v) => v.labels.result === 'failure')?.value ?? 0;
      return Object.assign(r, { failures, lines });
    },
  };
}

test('GIVEN issuer files WHEN prepared THEN the operator\'s certificate and key are copied into the certificates dir (key 0600) and no local CA is made', async (t) => {
  const f = await setup(t);
  const pem = await f.write(['mx.example.com']);
  const { caCertFile } = await f.renewal().prepare();
  assert.equal(caCertFile, undefined);
  const installed = join(f.state, 'tls', 'certs', 'default');
  assert.equal(readFileSync(join(installed, 'tls.crt'), 'utf8'), pem.cert);
  assert.equal(readFileSync(join(installed, 'tls.key'), 'utf8'), pem.key);
  assert.equal(statSync(join(installed, 'tls.key')).mode & 0o777, 0o600);
  assert.throws(() => statSync(join(f.state, 'tls', 'ca.key')), /ENOENT/);
});

test('GIVEN issuer files WHEN the key does not belong to the certificate THEN prepare fails with TLS_CERTIFICATE_INVALID naming the spec field', async (t) => {
  const f = await setup(t);
  await f.write(['mx.example.com']);
  const other = await issueFromLocalCa(f.ca, { hosts: ['mx.example.com'], validityDays: 30, keyType: 'ecdsa-p256' });
  writeFileSync(join(f.src, 'mx.key'), other.key);
  await assert.rejects(f.renewal().prepare(), (err: unknown) => isMailfleetError(err, 'TLS_CERTIFICATE_INVALID') && /spec\.tls\.certificates\[0\]/.test(err.message) && /does not belong/.test(err.message));
});

test('GIVEN issuer files WHEN the certificate does not name a host of the spec THEN prepare fails naming the host', async (t) => {
  const f = await setup(t);
  await f.write(['other.example.com']);
  await assert.rejects(f.renewal().prepare(), (err: unknown) => isMailfleetError(err, 'TLS_CERTIFICATE_INVALID') && err.message.includes('mx.example.com') && err.message.includes('spec.tls.certificates[0].certFile'));
});

test('GIVEN issuer files WHEN the source file is missing THEN prepare fails naming certFile', async (t) => {
  const f = await setup(t);
  await assert.rejects(f.renewal().prepare(), (err: unknown) => isMailfleetError(err, 'TLS_CERTIFICATE_INVALID') && err.message.includes('spec.tls.certificates[0].certFile'));
});

test('GIVEN files copied WHEN the operator replaces the source files THEN the next check copies the new pair', async (t) => {
  const f = await setup(t);
  await f.write(['mx.example.com']);
  const r = f.renewal();
  await r.prepare();
  const renewed = await f.write(['mx.example.com']);
  await r.check();
  assert.equal(readFileSync(join(f.state, 'tls', 'certs', 'default', 'tls.crt'), 'utf8'), renewed.cert);
  assert.ok(r.lines().some((l) => l.msg === 'certificate issued' && l.reason === 'source-changed'));
});

test('GIVEN files copied WHEN the source key is replaced by one that does not match THEN the old pair keeps serving, and the failure is logged, counted and in the status', async (t) => {
  const f = await setup(t);
  const good = await f.write(['mx.example.com']);
  const r = f.renewal();
  await r.prepare();
  writeFileSync(join(f.src, 'mx.key'), (await issueFromLocalCa(f.ca, { hosts: ['x.example.com'], validityDays: 1, keyType: 'ecdsa-p256' })).key);
  await r.check();
  assert.equal(readFileSync(join(f.state, 'tls', 'certs', 'default', 'tls.key'), 'utf8'), good.key);
  assert.equal(new X509Certificate(readFileSync(join(f.state, 'tls', 'certs', 'default', 'tls.crt'))).fingerprint256, new X509Certificate(good.cert).fingerprint256);
  assert.equal(await r.failures(), 1);
  const failed = r.lines().filter((l) => l.msg === 'certificate renewal failed');
  assert.equal(failed.length, 1);
  assert.match(String(failed[0]?.err), /does not belong/);
  assert.match(r.status()[0]?.lastError?.message ?? '', /does not belong/);
  assert.ok(!JSON.stringify(r.lines()).includes('PRIVATE KEY'));
});

test('GIVEN the renewal loop running WHEN the operator replaces the source files THEN the loop copies them within checkSeconds, and it ends when aborted', async (t) => {
  const f = await setup(t);
  await f.write(['mx.example.com']);
  const r = f.renewal();
  await r.prepare();
  const abort = new AbortController();
  const loop = r.start(abort.signal);
  t.after(() => abort.abort());
  const renewed = await f.write(['mx.example.com']);
  await until('the new pair copied', async () => (readFileSync(join(f.state, 'tls', 'certs', 'default', 'tls.crt'), 'utf8') === renewed.cert ? true : undefined), 10_000);
  assert.equal(readFileSync(join(f.state, 'tls', 'certs', 'default', 'tls.key'), 'utf8'), renewed.key);
  abort.abort();
  await loop;
});
