/**
 * Certificates made for one test file with the openssl command line: a CA, a server certificate
 * it signed, and a second CA that signed nothing the server shows (for "untrusted" cases). Keys
 * are ECDSA P-256; everything lives in a temporary directory removed in `t.after`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  readonly dir: string;
  /** PEM of the CA that signed `cert`. */
  readonly ca: string;
  /** PEM of a CA that signed nothing here. */
  readonly otherCa: string;
  /** The server certificate (PEM) and its key, for the names given. */
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  remove(): void;
}

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

/** `names`: DNS names and IP addresses the server certificate carries (the first is its CN). */
export function makeTestPki(names: readonly string[]): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-pki-'));
  try {
    const ca = makeCa(dir, 'test-ca');
    const other = makeCa(dir, 'other-ca');
    const keyFile = join(dir, 'server.key');
    const csr = join(dir, 'server.csr');
    const certFile = join(dir, 'server.crt');
    const ext = join(dir, 'server.ext');
    const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${names[0] ?? 'server'}`]);
    openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-out', certFile, '-extfile', ext]);
    return {
      dir,
      ca: readFileSync(ca.cert, 'utf8'),
      otherCa: readFileSync(other.cert, 'utf8'),
      cert: readFileSync(certFile, 'utf8'),
      key: readFileSync(keyFile, 'utf8'),
      certFile,
      keyFile,
      caFile: ca.cert,
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
