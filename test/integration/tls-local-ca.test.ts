/**
 * `mailfleet up` with the default issuer: a local CA made once in the state dir, the platform's certificates issued
 * from it before any daemon starts, the CA's path printed, and the certificates in `mailfleet status`.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CertificateStatus } from '../../src/tls/index.ts';
import { startPlatform } from '../support/platform.ts';

const POOL = '127.101.0.0/16';
const mode = (path: string): number => statSync(path).mode & 0o777;

test('GIVEN a spec with two certificates and the default issuer WHEN mailfleet up runs THEN the local CA issues both and status shows them', { timeout: 300_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: 1,
    roles: { ldap: 1, kvs: 1, mta: 0, msa: 0, proxy: 0, mailbox: 0 },
    extra: { tls: { validityDays: 30, certificates: [{ name: 'default', hosts: ['mx.example.com'] }, { name: 'net', hosts: ['imap.example.net', 'pop.example.net'] }] } },
  });
  const tls = join(platform.stateDir, 'tls');

  await t.test('THEN up printed where the CA certificate is, once', () => {
    const lines = platform.output().split('\n').filter((l) => l.includes('trust this CA in your clients'));
    assert.deepEqual(lines, [`mailfleet: trust this CA in your clients: ${join(tls, 'ca.crt')}`]);
  });

  await t.test('THEN the CA key is 0600, its certificate 0644, the certificate dirs root-only and every key 0600', () => {
    assert.equal(mode(join(tls, 'ca.key')), 0o600);
    assert.equal(mode(join(tls, 'ca.crt')), 0o644);
    assert.equal(mode(join(tls, 'certs')), 0o700);
    for (const name of ['default', 'net']) {
      assert.equal(mode(join(tls, 'certs', name)), 0o700, name);
      assert.equal(mode(join(tls, 'certs', name, 'tls.key')), 0o600, name);
      assert.equal(statSync(join(tls, 'certs', name, 'tls.key')).uid, 0, name);
    }
  });

  await t.test('THEN each certificate verifies against the CA and names its hosts', () => {
    const ca = new X509Certificate(readFileSync(join(tls, 'ca.crt')));
    const net = new X509Certificate(readFileSync(join(tls, 'certs', 'net', 'tls.crt')));
    assert.ok(net.verify(ca.publicKey));
    assert.equal(net.checkHost('pop.example.net'), 'pop.example.net');
    assert.equal(net.checkHost('mx.example.com'), undefined);
    assert.equal(new X509Certificate(readFileSync(join(tls, 'certs', 'default', 'tls.crt'))).checkHost('mx.example.com'), 'mx.example.com');
  });

  await t.test('WHEN status --json is asked THEN it lists both certificates with their hosts, issuer and dates, and no key material', () => {
    const r = platform.cli(['status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { certificates } = JSON.parse(r.stdout) as { certificates: CertificateStatus[] };
    assert.deepEqual(certificates.map((c) => [c.name, c.hosts, c.issuer, c.standIn, c.daysLeft]), [
      ['default', ['mx.example.com'], 'local', false, 29],
      ['net', ['imap.example.net', 'pop.example.net'], 'local', false, 29],
    ]);
    for (const c of certificates) assert.ok(c.notBefore && c.notAfter && c.renewAt, c.name);
    assert.doesNotMatch(r.stdout, /PRIVATE KEY/);
  });

  await t.test('WHEN status is asked as text THEN a certificate table follows the instances', () => {
    const r = platform.cli(['status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^CERTIFICATE\s+HOSTS\s+ISSUER\s+NOT BEFORE\s+NOT AFTER\s+DAYS LEFT\s+RENEW AT$/m);
    assert.match(r.stdout, /^net\s+imap\.example\.net,pop\.example\.net\s+local\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s+29\s+/m);
  });

  await t.test('WHEN the control socket\'s metrics are read THEN they carry each certificate\'s expiry beside the backend-sync metrics', async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ socketPath: join(platform.stateDir, 'control.sock'), path: '/metrics' }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject).end();
    });
    assert.equal(status, 200);
    const notAfter = Date.parse(new X509Certificate(readFileSync(join(tls, 'certs', 'net', 'tls.crt'))).validTo) / 1000;
    assert.match(body, new RegExp(`^mailfleet_tls_certificate_expiry_timestamp_seconds\\{certificate="net"\\} ${notAfter}$`, 'm'));
    assert.match(body, /^mailfleet_tls_certificate_stand_in\{certificate="default"\} 0$/m);
    assert.match(body, /^# TYPE mailfleet_backends_reconciles_total counter$/m);
  });
});
