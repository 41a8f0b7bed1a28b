/**
 * issuer: acme against a real ACME server (pebble): a stand-in from the local CA until the first order, issuance
 * through HTTP-01 answered by the runtime, renewal once renewAfter of the lifetime has passed, and an ACME server
 * that is gone: the certificate served stays, the failure is logged and counted.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createCertificateRenewal, createTlsMetrics } from '../../src/tls/index.ts';
import { capturedLogger } from '../support/log-lines.ts';
import { startDnsResponder, startPebble } from '../support/pebble.ts';
import { until } from '../support/poll.ts';
import { testSpec } from '../support/spec.ts';

// 127.100.0.0/16: this file's addresses.
const PEBBLE_HOST = '127.100.0.1';
const HTTP01_HOST = '127.100.0.2';
const HTTP01_PORT = 5002;
const DNS_HOST = '127.100.0.3';
const HOSTS = ['mx.example.com', 'imap.example.com'];

const mode = (path: string): number => statSync(path).mode & 0o777;

test('GIVEN issuer acme and a pebble ACME server WHEN the runtime keeps the certificates THEN it issues through HTTP-01, renews when due, and keeps serving when the server is gone', { timeout: 240_000 }, async (t) => {
  const dnsServer = await startDnsResponder(t, { host: DNS_HOST, names: HOSTS, address: HTTP01_HOST });
  const pebble = await startPebble(t, { host: PEBBLE_HOST, httpPort: HTTP01_PORT, dnsServer });
  const state = mkdtempSync('/tmp/mailfleet-test-');
  t.after(() => rmSync(state, { recursive: true, force: true }));
  const spec = testSpec(`tls:
    issuer: acme
    renewAfter: 0.0000001
    checkSeconds: 1
    certificates: [{ name: default, hosts: [${HOSTS.join(', ')}] }]
    acme: { directory: '${pebble.directory}', email: postmaster@example.com, http01Listen: '${HTTP01_HOST}:${HTTP01_PORT}', caFile: '${pebble.caFile}' }`);
  const { log, lines } = capturedLogger();
  const metrics = createTlsMetrics(new Registry());
  const renewal = createCertificateRenewal({ platformName: 'demo', tls: spec.tls, stateDir: state, certsDir: join(state, 'tls', 'certs'), log, metrics });
  const certFile = join(state, 'tls', 'certs', 'default', 'tls.crt');
  const leaf = () => new X509Certificate(readFileSync(certFile));
  const count = async (result: string) => (await metrics.renewals.get()).values.find((v) => v.labels.result === result && v.labels.issuer === 'acme')?.value ?? 0;
  const standInGauge = async () => (await metrics.standIn.get()).values.find((v) => v.labels.certificate === 'default')?.value;

  await t.test('WHEN prepared (before any daemon starts) THEN a stand-in from the local CA serves, marked in status and metrics, with no ACME order yet', async () => {
    await renewal.prepare();
    const ca = new X509Certificate(readFileSync(join(state, 'tls', 'ca.crt')));
    assert.ok(leaf().verify(ca.publicKey));
    assert.equal(renewal.status()[0]?.standIn, true);
    assert.equal(await standInGauge(), 1);
    assert.equal(await count('success') + await count('failure'), 0);
  });

  let issued: X509Certificate | undefined;
  /** The installed chain, each certificate signed by the next and the last by pebble's root. */
  async function assertChainVerifies(): Promise<void> {
    const chain = (readFileSync(certFile, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
    assert.ok(chain.length >= 2, `leaf and intermediate, got ${chain.length}`);
    const root = new X509Certificate(await pebble.root());
    for (const [i, cert] of chain.entries()) {
      const signer = chain[i + 1] ?? root;
      assert.ok(cert.checkIssued(signer) && cert.verify(signer.publicKey), `chain[${i}] (${cert.subject}) signed by ${signer.subject}`);
    }
  }

  let account = '';
  await t.test('WHEN checked THEN pebble issues a certificate for both hosts whose chain verifies against pebble\'s root', async () => {
    await renewal.check();
    issued = leaf();
    await assertChainVerifies();
    for (const h of HOSTS) assert.equal(issued.checkHost(h), h);
    assert.equal(renewal.status()[0]?.standIn, false);
    assert.equal(await standInGauge(), 0);
    assert.equal(await count('success'), 1);
    assert.equal(mode(join(state, 'tls', 'acme', 'account.key')), 0o600);
    account = readFileSync(join(state, 'tls', 'acme', 'account.key'), 'utf8');
    assert.equal(mode(join(state, 'tls', 'certs', 'default', 'tls.key')), 0o600);
    assert.ok(lines().some((l) => l.msg === 'certificate issued' && l.reason === 'stand-in'));
  });

  const abort = new AbortController();
  const loop = renewal.start(abort.signal);
  t.after(async () => {
    abort.abort();
    await loop;
  });

  await t.test('WHEN renewAfter of its lifetime has passed (1e-7 of pebble\'s five years, about 16 s) THEN the loop renews it with the same account', async () => {
    const at = issued ? Date.parse(issued.validFrom) : 0;
    const renewed = await until('a renewed certificate', async () => {
      const now = leaf();
      return now.serialNumber !== issued?.serialNumber ? now : undefined;
    }, 90_000, 500);
    const lifetime = Date.parse(issued?.validTo ?? '') - at;
    assert.ok(Date.now() >= at + 1e-7 * lifetime, 'not renewed before it was due');
    assert.equal(await count('success'), 2);
    await assertChainVerifies();
    assert.equal(readFileSync(join(state, 'tls', 'acme', 'account.key'), 'utf8'), account, 'the account key is kept');
    assert.ok(lines().some((l) => l.msg === 'certificate issued' && l.reason === 'due'));
    issued = renewed;
  });

  await t.test('GIVEN pebble stopped WHEN the next renewal is due THEN it fails: the certificate served stays, one log line says why, the metric counts it, status shows it', async () => {
    await pebble.stop();
    const failures = await until('a failed renewal', async () => ((await count('failure')) >= 1 ? count('failure') : undefined), 90_000, 500);
    assert.ok(failures >= 1);
    assert.equal(leaf().fingerprint256, issued?.fingerprint256);
    const failed = lines().filter((l) => l.msg === 'certificate renewal failed');
    assert.ok(failed.length >= 1);
    assert.equal(failed[0]?.certificate, 'default');
    assert.equal(failed[0]?.issuer, 'acme');
    assert.equal(failed[0]?.reason, 'due');
    assert.equal(failed[0]?.serving, 'installed');
    assert.match(String(failed[0]?.err), /ECONNREFUSED|connect/);
    const status = renewal.status()[0];
    assert.equal(status?.standIn, false);
    assert.match(status?.lastError?.message ?? '', /ECONNREFUSED|connect/);
    assert.ok(!JSON.stringify(lines()).includes('PRIVATE KEY'));
  });

  await t.test('GIVEN pebble stopped and a new state dir WHEN prepared and checked THEN the stand-in keeps serving, marked, with the failure in status', async () => {
    const fresh = mkdtempSync('/tmp/mailfleet-test-');
    t.after(() => rmSync(fresh, { recursive: true, force: true }));
    const captured = capturedLogger();
    const second = createCertificateRenewal({ platformName: 'demo', tls: spec.tls, stateDir: fresh, certsDir: join(fresh, 'tls', 'certs'), log: captured.log, metrics: createTlsMetrics(new Registry()) });
    await second.prepare();
    const standIn = new X509Certificate(readFileSync(join(fresh, 'tls', 'certs', 'default', 'tls.crt')));
    await second.check();
    assert.equal(new X509Certificate(readFileSync(join(fresh, 'tls', 'certs', 'default', 'tls.crt'))).fingerprint256, standIn.fingerprint256);
    const status = second.status()[0];
    assert.equal(status?.standIn, true);
    assert.equal(status?.lastError?.reason, 'stand-in');
    assert.match(status?.lastError?.message ?? '', /ECONNREFUSED/);
    assert.deepEqual(captured.lines().filter((l) => l.msg === 'certificate renewal failed').map((l) => l.serving), ['stand-in']);
  });
});
