import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { BACKDATE_MS, issueFromLocalCa, loadOrCreateLocalCa, tlsPaths, type TlsPaths } from '../../src/tls/index.ts';

const DAY_MS = 86_400_000;
const mode = (path: string): number => statSync(path).mode & 0o777;

function freshPaths(t: TestContext): TlsPaths {
  const dir = mkdtempSync('/tmp/mailfleet-unit-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const paths = tlsPaths(dir, join(dir, 'tls', 'certs'));
  mkdirSync(paths.root, { recursive: true });
  return paths;
}

test('GIVEN a state dir without a CA WHEN the local CA is loaded THEN it is created: an ECDSA P-256 CA naming the platform, key 0600, certificate 0644', async (t) => {
  const paths = freshPaths(t);
  const { ca, created } = await loadOrCreateLocalCa(paths, 'demo');
  assert.equal(created, true);
  assert.equal(mode(paths.caKey), 0o600);
  assert.equal(mode(paths.caCert), 0o644);
  const cert = new X509Certificate(readFileSync(paths.caCert));
  assert.equal(cert.ca, true);
  assert.match(cert.subject, /CN=mailfleet demo local CA/);
  assert.ok(cert.verify(cert.publicKey), 'self-signed');
  assert.ok(cert.checkIssued(cert));
  const key = createPrivateKey(readFileSync(paths.caKey));
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(cert.checkPrivateKey(key));
  assert.ok(Date.parse(cert.validTo) - Date.now() > 9 * 365 * DAY_MS, `long-lived: ${cert.validTo}`);
  assert.equal(ca.cert.fingerprint256, cert.fingerprint256);
});

test('GIVEN a CA already created WHEN it is loaded again THEN the same CA comes back and nothing is rewritten', async (t) => {
  const paths = freshPaths(t);
  const first = await loadOrCreateLocalCa(paths, 'demo');
  const before = statSync(paths.caKey).mtimeMs;
  const again = await loadOrCreateLocalCa(paths, 'demo');
  assert.equal(again.created, false);
  assert.equal(again.ca.cert.fingerprint256, first.ca.cert.fingerprint256);
  assert.equal(statSync(paths.caKey).mtimeMs, before);
});

test('GIVEN only half of a CA (the key deleted) WHEN it is loaded THEN TLS_CA_INVALID, and no new CA silently replaces the one clients trust', async (t) => {
  const paths = freshPaths(t);
  const { ca } = await loadOrCreateLocalCa(paths, 'demo');
  unlinkSync(paths.caKey);
  await assert.rejects(loadOrCreateLocalCa(paths, 'demo'), (err: unknown) => isMailfleetError(err, 'TLS_CA_INVALID') && err.message.includes(paths.caKey));
  assert.equal(new X509Certificate(readFileSync(paths.caCert)).fingerprint256, ca.cert.fingerprint256);
});

test('GIVEN a CA key that is not the key of the CA certificate WHEN loaded THEN TLS_CA_INVALID', async (t) => {
  const paths = freshPaths(t);
  await loadOrCreateLocalCa(paths, 'demo');
  const other = freshPaths(t);
  await loadOrCreateLocalCa(other, 'demo');
  writeFileSync(paths.caKey, readFileSync(other.caKey));
  await assert.rejects(loadOrCreateLocalCa(paths, 'demo'), (err: unknown) => isMailfleetError(err, 'TLS_CA_INVALID'));
});

test('GIVEN a CA certificate file of binary noise WHEN loaded THEN TLS_CA_INVALID naming the file', async (t) => {
  const paths = freshPaths(t);
  await loadOrCreateLocalCa(paths, 'demo');
  writeFileSync(paths.caCert, Buffer.from([0xff, 0xfe, 0, 1, 2, 0x2d, 0x2d]));
  await assert.rejects(loadOrCreateLocalCa(paths, 'demo'), (err: unknown) => isMailfleetError(err, 'TLS_CA_INVALID') && err.message.includes(paths.caCert));
});

test('GIVEN the local CA WHEN it issues an ECDSA certificate for two hosts THEN the chain verifies against the CA and names exactly those hosts for validityDays', async (t) => {
  const paths = freshPaths(t);
  const { ca } = await loadOrCreateLocalCa(paths, 'demo');
  const now = Date.parse('2030-01-01T00:00:00Z');
  const pem = await issueFromLocalCa(ca, { hosts: ['mx.example.com', 'imap.example.net'], validityDays: 30, keyType: 'ecdsa-p256' }, now);
  const leaf = new X509Certificate(pem.cert);
  assert.ok(leaf.verify(ca.cert.publicKey), 'signed by the CA');
  assert.ok(leaf.checkIssued(ca.cert), 'issuer name and key id match the CA');
  assert.equal(leaf.ca, false);
  assert.equal(leaf.checkHost('mx.example.com'), 'mx.example.com');
  assert.equal(leaf.checkHost('imap.example.net'), 'imap.example.net');
  assert.equal(leaf.checkHost('pop.example.net'), undefined);
  assert.equal(leaf.subjectAltName, 'DNS:mx.example.com, DNS:imap.example.net');
  assert.equal(Date.parse(leaf.validFrom), now - BACKDATE_MS);
  assert.equal(Date.parse(leaf.validTo), now + 30 * DAY_MS);
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'server authentication only');
  const key = createPrivateKey(pem.key);
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(leaf.checkPrivateKey(key));
});

test('GIVEN keyType rsa-2048 WHEN the local CA issues THEN the key is a 2048-bit RSA key that belongs to the certificate', async (t) => {
  const paths = freshPaths(t);
  const { ca } = await loadOrCreateLocalCa(paths, 'demo');
  const pem = await issueFromLocalCa(ca, { hosts: ['mx.example.com'], validityDays: 90, keyType: 'rsa-2048' });
  const key = createPrivateKey(pem.key);
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(new X509Certificate(pem.cert).checkPrivateKey(key));
  assert.ok(new X509Certificate(pem.cert).verify(ca.cert.publicKey));
});

test('GIVEN two issuances for the same hosts WHEN compared THEN each has its own key and serial', async (t) => {
  const paths = freshPaths(t);
  const { ca } = await loadOrCreateLocalCa(paths, 'demo');
  const a = await issueFromLocalCa(ca, { hosts: ['mx.example.com'], validityDays: 90, keyType: 'ecdsa-p256' });
  const b = await issueFromLocalCa(ca, { hosts: ['mx.example.com'], validityDays: 90, keyType: 'ecdsa-p256' });
  assert.notEqual(a.key, b.key);
  assert.notEqual(new X509Certificate(a.cert).serialNumber, new X509Certificate(b.cert).serialNumber);
});
