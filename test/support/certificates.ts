/**
 * Test certificates made with the openssl command line: a CA, and server certificates it signs, written
 * where the agent reads them (`<tlsDir>/<name>/tls.crt|tls.key`) or anywhere else.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  /** PEM file of the CA certificate: what clients verify against. */
  certFile: string;
  keyFile: string;
}

export interface IssuedCertificate {
  /** Full chain PEM (leaf only: the CA is the trust anchor). */
  cert: string;
  key: string;
  serial: string;
}

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function makeCa(name = 'mailfleet test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-ca-'));
  const certFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'ca.key');
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '30', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { dir, certFile, keyFile };
}

export function removeCa(ca: TestCa): void {
  rmSync(ca.dir, { recursive: true, force: true });
}

let issued = 0;

/**
 * A server certificate for `hosts` (DNS names or IP addresses; the first is the subject), signed by `ca`.
 * `keyType` rsa makes an RSA-2048 key.
 */
export function issue(ca: TestCa, hosts: readonly string[], options: { days?: number; keyType?: 'ec' | 'rsa' } = {}): IssuedCertificate {
  const base = join(ca.dir, `leaf-${process.pid}-${++issued}`);
  const keyArgs = options.keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  openssl(['req', ...keyArgs, '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${hosts[0] ?? 'localhost'}`]);
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  writeFileSync(`${base}.ext`, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  const serial = `${Date.now().toString(16)}${issued.toString(16).padStart(4, '0')}`;
  openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${serial}`, '-days', String(options.days ?? 10), '-extfile', `${base}.ext`, '-out', `${base}.crt`]);
  const out = { cert: readFileSync(`${base}.crt`, 'utf8'), key: readFileSync(`${base}.key`, 'utf8'), serial: serial.toUpperCase() };
  for (const ext of ['key', 'csr', 'ext', 'crt']) rmSync(`${base}.${ext}`, { force: true });
  return out;
}

/** Writes a pair where an issuer would: each file replaced with one rename, the key mode 0600. */
export function writePair(dir: string, pair: { cert: string; key: string }): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, body, mode] of [['tls.key', pair.key, 0o600], ['tls.crt', pair.cert, 0o644]] as const) {
    const temp = join(dir, `.${file}.tmp`);
    writeFileSync(temp, body, { mode });
    chmodSync(temp, mode);
    renameSync(temp, join(dir, file));
  }
}

/**
 * Writes a pair the way the kubelet updates a Secret volume: the files are symlinks through `..data`, a
 * symlink to a timestamped directory, and an update swaps `..data` with one rename.
 */
export function writeSecretVolume(dir: string, pair: { cert: string; key: string }): void {
  mkdirSync(dir, { recursive: true });
  const version = `..${Date.now()}_${++issued}`;
  mkdirSync(join(dir, version));
  writeFileSync(join(dir, version, 'tls.crt'), pair.cert, { mode: 0o644 });
  writeFileSync(join(dir, version, 'tls.key'), pair.key, { mode: 0o600 });
  rmSync(join(dir, '..data_tmp'), { force: true });
  symlinkSync(version, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const file of ['tls.crt', 'tls.key']) {
    if (!existsSync(join(dir, file))) symlinkSync(`..data/${file}`, join(dir, file));
  }
}

/** The serial number (hex, upper case) of the first certificate in a PEM text. */
export function serialOf(pem: string): string {
  return openssl(['x509', '-noout', '-serial'], pem).trim().replace(/^serial=/, '').replace(/^0+/, '');
}
