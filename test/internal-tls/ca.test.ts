import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { ipBytes, namedBits, objectIdentifier, time, tlv, unsignedInteger } from '../../src/internal-tls/der.ts';
import { deriveInternalCa, issueInternalCertificate } from '../../src/internal-tls/ca.ts';

const SECRET = 'backend-tls-key-0123456789abcdef';
const certificateOf = (pem: string): X509Certificate => new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')));
const jwk = (ca: ReturnType<typeof deriveInternalCa>): string => JSON.stringify(ca.key.export({ format: 'jwk' }));

test('GIVEN DER values WHEN encoded THEN they are the bytes X.690 gives', () => {
  assert.equal(objectIdentifier('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
  assert.equal(unsignedInteger(Buffer.from([0x80])).toString('hex'), '02020080', 'a set top bit gets a 0x00 in front');
  assert.equal(unsignedInteger(Buffer.from([0, 0, 5])).toString('hex'), '020105', 'leading zeros go');
  assert.equal(namedBits([0]).toString('hex'), '03020780', 'digitalSignature: seven unused bits');
  assert.equal(namedBits([5, 6]).toString('hex'), '03020106', 'keyCertSign and cRLSign');
  assert.equal(tlv(0x04, Buffer.alloc(200)).subarray(0, 3).toString('hex'), '0481c8', 'long-form length');
  assert.equal(time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59))).toString('latin1').slice(2), '491231235959Z');
  assert.equal(time(new Date(Date.UTC(2050, 0, 1))).toString('latin1').slice(2), '20500101000000Z', 'GeneralizedTime from 2050');
});

test('GIVEN addresses WHEN turned into subjectAltName bytes THEN IPv4 and IPv6 are 4 and 16 bytes and anything else is none', () => {
  assert.equal(ipBytes('127.150.0.2')?.toString('hex'), '7f960002');
  assert.equal(ipBytes('fd00::1')?.toString('hex'), 'fd000000000000000000000000000001');
  assert.equal(ipBytes('::1')?.toString('hex'), '00000000000000000000000000000001');
  for (const bad of ['mailbox-0.mailbox.mail.svc', '256.1.1.1', '1.2.3', 'fd00::1::2', '1:2:3', 'g::1']) assert.equal(ipBytes(bad), undefined, bad);
});

test('GIVEN one secret WHEN the CA is derived twice THEN both have the same key and name; another secret or hop gives another key', () => {
  const a = deriveInternalCa(SECRET, 'backend');
  const b = deriveInternalCa(SECRET, 'backend');
  assert.equal(jwk(a), jwk(b));
  assert.equal(certificateOf(a.certPem).subject, certificateOf(b.certPem).subject);
  assert.equal(certificateOf(a.certPem).serialNumber, certificateOf(b.certPem).serialNumber);
  assert.notEqual(jwk(deriveInternalCa(`${SECRET}x`, 'backend')), jwk(a));
  assert.notEqual(jwk(deriveInternalCa(SECRET, 'ldap')), jwk(a));
});

test('GIVEN the derived CA WHEN read THEN it is a self-signed CA certificate that signs nothing but certificates', () => {
  const ca = certificateOf(deriveInternalCa(SECRET, 'backend').certPem);
  assert.equal(ca.ca, true);
  assert.equal(ca.subject, 'CN=mailfleet backend CA\nO=mailfleet');
  assert.ok(ca.verify(ca.publicKey), 'its own signature holds');
  assert.ok(ca.checkIssued(ca));
  assert.equal(ca.keyUsage, undefined, 'no extended key usage');
  assert.ok(Date.parse(ca.validTo) > Date.UTC(2100, 0, 1));
});

test('GIVEN a backend certificate WHEN checked THEN the CA issued it, for exactly its addresses and name, for server use, for the days asked', () => {
  const ca = deriveInternalCa(SECRET, 'backend');
  const now = Date.UTC(2026, 11, 7, 12);
  const issued = issueInternalCertificate(ca, { hosts: ['10.42.0.17', 'mailbox-0.mailbox.mail.svc.cluster.local', 'fd00::17'], validityDays: 30 }, now);
  assert.match(issued.pem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\n/);
  const leaf = certificateOf(issued.pem);
  const caCert = certificateOf(ca.certPem);
  assert.ok(leaf.verify(caCert.publicKey));
  assert.ok(leaf.checkIssued(caCert));
  assert.equal(leaf.ca, false);
  assert.equal(leaf.checkIP('10.42.0.17'), '10.42.0.17');
  assert.equal(leaf.checkIP('fd00::17'), 'fd00::17');
  assert.equal(leaf.checkHost('mailbox-0.mailbox.mail.svc.cluster.local'), 'mailbox-0.mailbox.mail.svc.cluster.local');
  assert.equal(leaf.checkIP('10.42.0.18'), undefined);
  assert.equal(leaf.checkHost('mailbox-1.mailbox.mail.svc.cluster.local'), undefined);
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(Date.parse(leaf.validTo), now + 30 * 86_400_000);
  assert.ok(Date.parse(leaf.validFrom) < now);
  assert.equal(issued.notAfter.getTime(), now + 30 * 86_400_000);
  assert.notEqual(certificateOf(issueInternalCertificate(ca, { hosts: ['10.42.0.17'], validityDays: 30 }, now).pem).publicKey.export({ format: 'jwk' }).x, leaf.publicKey.export({ format: 'jwk' }).x, 'a new key each time');
});

test('GIVEN another secret\'s CA WHEN it checks a backend certificate THEN the certificate does not verify', () => {
  const leaf = certificateOf(issueInternalCertificate(deriveInternalCa(SECRET, 'backend'), { hosts: ['10.42.0.17'], validityDays: 1 }).pem);
  const stranger = certificateOf(deriveInternalCa('another-secret-0123456789abcdef', 'backend').certPem);
  assert.equal(leaf.verify(stranger.publicKey), false);
  assert.equal(leaf.checkIssued(stranger), false);
});

test('GIVEN no hosts or no secret WHEN asked THEN the issuer refuses', () => {
  assert.throws(() => issueInternalCertificate(deriveInternalCa(SECRET, 'backend'), { hosts: [], validityDays: 1 }), { code: 'TLS_ISSUE_FAILED' });
  assert.throws(() => deriveInternalCa('', 'backend'), { code: 'TLS_CA_INVALID' });
});

test('GIVEN an Ed25519 CA WHEN derived twice THEN its certificate is the same bytes, and it issues P-256 server certificates that verify', () => {
  const a = deriveInternalCa(SECRET, 'ldap', 'ed25519');
  const b = deriveInternalCa(SECRET, 'ldap', 'ed25519');
  assert.equal(a.certPem, b.certPem, 'a deterministic signature: the same certificate everywhere');
  assert.notEqual(deriveInternalCa(`${SECRET}x`, 'ldap', 'ed25519').certPem, a.certPem);
  assert.notEqual(deriveInternalCa(SECRET, 'backend', 'ed25519').certPem, a.certPem);
  assert.equal(a.key.asymmetricKeyType, 'ed25519');
  const caCert = certificateOf(a.certPem);
  assert.equal(caCert.subject, 'CN=mailfleet ldap CA\nO=mailfleet');
  assert.ok(caCert.verify(caCert.publicKey), 'its own signature holds');
  assert.ok(caCert.ca);
  assert.deepEqual(new X509Certificate(a.certDer).raw, caCert.raw, 'the DER is the PEM\'s');
  const issued = issueInternalCertificate(a, { hosts: ['127.0.0.1', 'ldap-0.ldap.mail.svc.cluster.local'], validityDays: 30 });
  const leaf = certificateOf(issued.pem);
  assert.equal(leaf.publicKey.asymmetricKeyType, 'ec');
  assert.ok(leaf.verify(caCert.publicKey));
  assert.ok(leaf.checkIssued(caCert));
  assert.equal(leaf.verify(certificateOf(deriveInternalCa(`${SECRET}x`, 'ldap', 'ed25519').certPem).publicKey), false);
});
