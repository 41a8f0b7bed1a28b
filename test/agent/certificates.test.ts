import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { certificateSources, installCertificates, readCertificate, type CertificateSource } from '../../src/agent/certificates.ts';
import type { InstanceContext } from '../../src/config/index.ts';
import { isMailfleetError } from '../../src/errors.ts';
import { issue, makeCa, removeCa, serialOf, writePair } from '../support/certificates.ts';
import { testSpec } from '../support/spec.ts';

const ca = makeCa();
test.after(() => removeCa(ca));
const good = issue(ca, ['mx.example.com', 'smtp.example.com']);
const other = issue(ca, ['mail.example.net']);

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-certs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function source(dir: string, cert: string | Buffer, key: string | Buffer): CertificateSource {
  writeFileSync(join(dir, 'tls.crt'), cert);
  writeFileSync(join(dir, 'tls.key'), key, { mode: 0o600 });
  return { name: 'default', field: 'spec.tls.certificates[0]', cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), served: join(dir, 'served.pem') };
}

function instance(dir: string): InstanceContext {
  return { role: 'mta', name: 'mta-0', listen: '127.0.0.1', configDir: join(dir, 'config'), dataDir: join(dir, 'data'), runDir: join(dir, 'run'), mailDir: join(dir, 'mail'), tlsDir: join(dir, 'tls') };
}

test('GIVEN a certificate and its key WHEN read THEN its names and expiry are known and the served form is the key, then the chain', (t) => {
  const reading = readCertificate(source(scratch(t), good.cert, good.key));
  assert.ok(reading.ok);
  assert.deepEqual(reading.facts.dnsNames, ['mx.example.com', 'smtp.example.com']);
  assert.ok(reading.facts.notAfter.getTime() > Date.now() + 9 * 86_400_000);
  const blocks = [...reading.served.matchAll(/-----BEGIN ([A-Z ]+)-----/g)].map((m) => m[1]);
  assert.deepEqual(blocks, ['PRIVATE KEY', 'CERTIFICATE']);
  assert.equal(serialOf(reading.served), good.serial);
});

test('GIVEN a chain with an intermediate and text around the blocks WHEN read THEN both certificates are served in order and the text is dropped', (t) => {
  const chain = `subject=CN = mx.example.com\n${good.cert}issuer stuff\n${readFileSync(ca.certFile, 'utf8')}`;
  const reading = readCertificate(source(scratch(t), chain, `# comment\n${good.key}`));
  assert.ok(reading.ok);
  assert.equal([...reading.served.matchAll(/-----BEGIN CERTIFICATE-----/g)].length, 2);
  assert.doesNotMatch(reading.served, /subject=|issuer stuff|# comment/);
});

test('GIVEN an RSA certificate WHEN read THEN it is served as well', (t) => {
  const rsa = issue(ca, ['rsa.example.com'], { keyType: 'rsa' });
  assert.ok(readCertificate(source(scratch(t), rsa.cert, rsa.key)).ok);
});

test('GIVEN the key of another certificate WHEN read THEN it is refused for not matching', (t) => {
  const reading = readCertificate(source(scratch(t), good.cert, other.key));
  assert.ok(!reading.ok);
  assert.match(reading.reason, /is not the key of the certificate/);
});

test('GIVEN a missing key file WHEN read THEN it is refused as unreadable', (t) => {
  const dir = scratch(t);
  const s = source(dir, good.cert, good.key);
  rmSync(s.key);
  const reading = readCertificate(s);
  assert.ok(!reading.ok);
  assert.match(reading.reason, /cannot read/);
  assert.match(reading.fingerprint, /^missing:ENOENT$/);
});

test('GIVEN hostile certificate files WHEN read THEN each is refused with a reason and none throws', (t) => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['binary noise', randomBytes(4096), /holds no PEM certificate/],
    ['empty', '', /holds no PEM certificate/],
    ['a truncated block', good.cert.slice(0, 200), /holds no PEM certificate/],
    ['a block of garbage', '-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n', /does not parse/],
    ['invalid UTF-8 inside a block', Buffer.concat([Buffer.from('-----BEGIN CERTIFICATE-----\n'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('\n-----END CERTIFICATE-----\n')]), /does not parse/],
    ['a huge file', 'A'.repeat(300 * 1024), /over \d+ bytes/],
    ['too long a chain', good.cert.repeat(11), /over 10 certificates/],
  ];
  for (const [what, cert, reason] of cases) {
    const reading = readCertificate(source(scratch(t), cert, good.key));
    assert.ok(!reading.ok, what);
    assert.match(reading.reason, reason, what);
  }
});

test('GIVEN an encrypted or broken key WHEN read THEN it is refused without a word of the key in the reason', (t) => {
  const encrypted = execFileSync('openssl', ['pkey', '-aes256', '-passout', 'pass:secret'], { input: good.key, encoding: 'utf8' });
  assert.match(encrypted, /ENCRYPTED PRIVATE KEY/);
  for (const key of [encrypted, good.key.replace(/[A-Za-z]/g, 'Q'), randomBytes(512)]) {
    const reading = readCertificate(source(scratch(t), good.cert, key));
    assert.ok(!reading.ok);
    assert.match(reading.reason, /is not an unencrypted PEM private key$/);
    const keyBody = String(key).split('\n')[1] ?? '';
    if (keyBody.length > 8) assert.ok(!reading.reason.includes(keyBody.slice(0, 16)));
  }
});

test('GIVEN a spec with two certificates WHEN installed THEN each served file is root\'s only, in a root-only directory', (t) => {
  const dir = scratch(t);
  const spec = testSpec('tls: { certificates: [{ name: main, hosts: [mx.example.com] }, { name: net, hosts: [mail.example.net] }] }');
  const inst = instance(dir);
  writePair(join(inst.tlsDir, 'main'), good);
  writePair(join(inst.tlsDir, 'net'), other);
  const facts = installCertificates(spec, inst);
  assert.deepEqual(facts.map((f) => f.name), ['main', 'net']);
  const [main, net] = certificateSources(spec, inst);
  assert.equal(statSync(main?.served ?? '').mode & 0o777, 0o600);
  assert.equal(statSync(join(inst.runDir, 'tls')).mode & 0o777, 0o700);
  assert.equal(serialOf(readFileSync(net?.served ?? '', 'utf8')), other.serial);
});

test('GIVEN a spec whose second certificate is missing WHEN installed THEN the start fails naming the field and the file', (t) => {
  const dir = scratch(t);
  const spec = testSpec('tls: { certificates: [{ name: main, hosts: [mx.example.com] }, { name: net, hosts: [mail.example.net] }] }');
  const inst = instance(dir);
  writePair(join(inst.tlsDir, 'main'), good);
  assert.throws(() => installCertificates(spec, inst), (err: unknown) => {
    assert.ok(isMailfleetError(err, 'TLS_CERTIFICATE_INVALID'));
    assert.match(err.message, /spec\.tls\.certificates\[1\] \(net\): cannot read: .*tls\/net\/tls\.crt/);
    return true;
  });
});
