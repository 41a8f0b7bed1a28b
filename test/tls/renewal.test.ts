import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { isMailfleetError } from '../../src/errors.ts';
import { createCertificateRenewal, createTlsMetrics, issueFromLocalCa, loadOrCreateLocalCa, tlsPaths, type CertificateRenewal, type TlsMetrics } from '../../src/tls/index.ts';
import { capturedLogger } from '../support/log-lines.ts';
import { testSpec } from '../support/spec.ts';

const DAY_MS = 86_400_000;
const START = Date.parse('2030-01-01T00:00:00Z');
const mode = (path: string): number => statSync(path).mode & 0o777;

interface Setup {
  state: string;
  clock: { now: number };
  renewal: (tlsYaml: string) => { renewal: CertificateRenewal; metrics: TlsMetrics; lines: () => Record<string, unknown>[] };
  file: (name: string, part?: 'tls.crt' | 'tls.key') => string;
}

function setup(t: TestContext): Setup {
  const state = mkdtempSync('/tmp/mailfleet-unit-');
  t.after(() => rmSync(state, { recursive: true, force: true }));
  const clock = { now: START };
  return {
    state,
    clock,
    renewal(tlsYaml) {
      const { log, lines } = capturedLogger();
      const metrics = createTlsMetrics(new Registry());
      const renewal = createCertificateRenewal({
        platformName: 'demo', tls: testSpec(`tls: ${tlsYaml}`).tls, stateDir: state, certsDir: join(state, 'tls', 'certs'), log, metrics, now: () => clock.now,
      });
      return { renewal, metrics, lines };
    },
    file: (name, part = 'tls.crt') => join(state, 'tls', 'certs', name, part),
  };
}

const leafOf = (path: string) => new X509Certificate(readFileSync(path));
async function counter(metrics: TlsMetrics, labels: Partial<Record<'certificate' | 'issuer' | 'result', string>>): Promise<number> {
  const m = await metrics.renewals.get();
  const keys = Object.keys(labels) as (keyof typeof labels)[];
  return m.values.find((v) => keys.every((k) => v.labels[k] === labels[k]))?.value ?? 0;
}

test('GIVEN the default local issuer WHEN prepared THEN every certificate is issued by the local CA into a root-only directory, key 0600', async (t) => {
  const s = setup(t);
  const { renewal } = s.renewal('{ certificates: [{ name: default, hosts: [mx.example.com] }, { name: net, hosts: [imap.example.net, pop.example.net] }] }');
  const { caCertFile, caCreated } = await renewal.prepare();
  assert.equal(caCertFile, join(s.state, 'tls', 'ca.crt'));
  assert.equal(caCreated, true);
  const ca = new X509Certificate(readFileSync(join(s.state, 'tls', 'ca.crt')));
  assert.equal(mode(join(s.state, 'tls', 'certs')), 0o700);
  for (const [name, hosts] of [['default', ['mx.example.com']], ['net', ['imap.example.net', 'pop.example.net']]] as const) {
    assert.equal(mode(join(s.state, 'tls', 'certs', name)), 0o700, name);
    assert.equal(mode(s.file(name, 'tls.key')), 0o600, name);
    const leaf = leafOf(s.file(name));
    assert.ok(leaf.verify(ca.publicKey), name);
    for (const h of hosts) assert.equal(leaf.checkHost(h), h);
  }
});

test('GIVEN certificates issued WHEN the platform starts again THEN they are kept (same serial), and the status shows their dates', async (t) => {
  const s = setup(t);
  await s.renewal('{}').renewal.prepare();
  const serial = leafOf(s.file('default')).serialNumber;
  s.clock.now = START + DAY_MS;
  const { renewal, metrics } = s.renewal('{}');
  const { caCreated } = await renewal.prepare();
  assert.equal(caCreated, false);
  assert.equal(leafOf(s.file('default')).serialNumber, serial);
  assert.equal(await counter(metrics, { result: 'success' }), 0, 'nothing issued');
  const [status] = renewal.status();
  assert.equal(status?.name, 'default');
  assert.deepEqual(status?.hosts, ['mx.example.com']);
  assert.equal(status?.issuer, 'local');
  assert.equal(status?.standIn, false);
  assert.equal(status?.daysLeft, 89);
  assert.equal(status?.renewAt, new Date(Date.parse(status?.notBefore ?? '') + 0.67 * (Date.parse(status?.notAfter ?? '') - Date.parse(status?.notBefore ?? ''))).toISOString());
  const expiry = (await metrics.expiry.get()).values.find((v) => v.labels.certificate === 'default')?.value;
  assert.equal(expiry, Date.parse(status?.notAfter ?? '') / 1000);
});

test('GIVEN a certificate WHEN the clock passes renewAfter of its lifetime THEN the next check renews it and counts a success', async (t) => {
  const s = setup(t);
  const { renewal, metrics, lines } = s.renewal('{ validityDays: 10, renewAfter: 0.5 }');
  await renewal.prepare();
  const first = leafOf(s.file('default'));
  s.clock.now = START + 4 * DAY_MS;
  await renewal.check();
  assert.equal(leafOf(s.file('default')).serialNumber, first.serialNumber, 'not due at 40%');
  s.clock.now = START + 5 * DAY_MS + 60_000;
  await renewal.check();
  const second = leafOf(s.file('default'));
  assert.notEqual(second.serialNumber, first.serialNumber);
  assert.equal(Date.parse(second.validTo), Math.floor(s.clock.now / 1000) * 1000 + 10 * DAY_MS);
  assert.equal(await counter(metrics, { certificate: 'default', issuer: 'local', result: 'success' }), 2, 'first issue and the renewal');
  assert.ok(lines().some((l) => l.msg === 'certificate issued' && l.reason === 'due'));
});

test('GIVEN a certificate WHEN the spec names other hosts for it THEN it is reissued for exactly those at the next start', async (t) => {
  const s = setup(t);
  await s.renewal('{ certificates: [{ name: default, hosts: [mx.example.com] }] }').renewal.prepare();
  await s.renewal('{ certificates: [{ name: default, hosts: [mx.example.com, smtp.example.com] }] }').renewal.prepare();
  assert.equal(leafOf(s.file('default')).subjectAltName, 'DNS:mx.example.com, DNS:smtp.example.com');
});

test('GIVEN an ECDSA certificate WHEN the spec asks for rsa-2048 keys THEN it is reissued with an RSA key at the next start', async (t) => {
  const s = setup(t);
  await s.renewal('{}').renewal.prepare();
  const { renewal, lines } = s.renewal('{ keyType: rsa-2048 }');
  await renewal.prepare();
  const key = createPrivateKey(readFileSync(s.file('default', 'tls.key')));
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.ok(lines().some((l) => l.msg === 'certificate issued' && l.reason === 'key-changed'));
});

test('GIVEN an installed key that is garbage WHEN checked THEN the pair is replaced by a fresh, matching one', async (t) => {
  const s = setup(t);
  const { renewal, lines } = s.renewal('{}');
  await renewal.prepare();
  writeFileSync(s.file('default', 'tls.key'), 'not a key\n\0\xff');
  await renewal.check();
  const leaf = leafOf(s.file('default'));
  const key = readFileSync(s.file('default', 'tls.key'), 'utf8');
  assert.ok(leaf.checkPrivateKey(createPrivateKey(key)));
  assert.ok(lines().some((l) => l.msg === 'certificate issued' && l.reason === 'unusable'));
  assert.ok(!JSON.stringify(lines()).includes('PRIVATE KEY'), 'no key material in the log');
});

test('GIVEN a certificate not from the local CA WHEN the issuer is local THEN it is replaced by one from the local CA', async (t) => {
  const s = setup(t);
  const other = mkdtempSync('/tmp/mailfleet-unit-');
  t.after(() => rmSync(other, { recursive: true, force: true }));
  const foreignPaths = tlsPaths(other, join(other, 'certs'));
  mkdirSync(foreignPaths.root);
  const { ca: foreign } = await loadOrCreateLocalCa(foreignPaths, 'foreign');
  const { renewal } = s.renewal('{}');
  await renewal.prepare();
  const pem = await issueFromLocalCa(foreign, { hosts: ['mx.example.com'], validityDays: 90, keyType: 'ecdsa-p256' }, START);
  writeFileSync(s.file('default'), pem.cert);
  writeFileSync(s.file('default', 'tls.key'), pem.key);
  await renewal.check();
  const ca = new X509Certificate(readFileSync(join(s.state, 'tls', 'ca.crt')));
  assert.ok(leafOf(s.file('default')).verify(ca.publicKey));
});

test('GIVEN a status of issued certificates WHEN serialised THEN it holds no key material', async (t) => {
  const s = setup(t);
  const { renewal } = s.renewal('{}');
  await renewal.prepare();
  const key = readFileSync(s.file('default', 'tls.key'), 'utf8');
  const body = key.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  const text = JSON.stringify(renewal.status());
  assert.ok(!text.includes('PRIVATE KEY'));
  assert.ok(!text.includes(body.slice(0, 24)));
});

test('GIVEN a certificate file of binary noise in the CA slot WHEN prepared THEN up stops with TLS_CA_INVALID', async (t) => {
  const s = setup(t);
  await s.renewal('{}').renewal.prepare();
  writeFileSync(join(s.state, 'tls', 'ca.crt'), '\0\x01-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n');
  await assert.rejects(s.renewal('{}').renewal.prepare(), (err: unknown) => isMailfleetError(err, 'TLS_CA_INVALID'));
});
