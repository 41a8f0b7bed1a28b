/**
 * Certificates for one test file: a CA, a server certificate it signed, and a second CA that signed
 * nothing the server shows (for "untrusted" cases), made with the helpers in certificates.ts. Keys
 * are ECDSA P-256; everything lives in temporary directories that `remove()` deletes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue, makeCa, removeCa } from './certificates.ts';

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

/** `names`: DNS names and IP addresses the server certificate carries (the first is its CN). */
export function makeTestPki(names: readonly string[]): TestPki {
  const ca = makeCa('test-ca');
  const other = makeCa('other-ca');
  const remove = () => {
    removeCa(ca);
    removeCa(other);
  };
  try {
    const leaf = issue(ca, names.length > 0 ? names : ['server'], { days: 2 });
    const certFile = join(ca.dir, 'server.crt');
    const keyFile = join(ca.dir, 'server.key');
    writeFileSync(certFile, leaf.cert);
    writeFileSync(keyFile, leaf.key, { mode: 0o600 });
    return {
      dir: ca.dir,
      ca: readFileSync(ca.certFile, 'utf8'),
      otherCa: readFileSync(other.certFile, 'utf8'),
      cert: leaf.cert,
      key: leaf.key,
      certFile,
      keyFile,
      caFile: ca.certFile,
      remove,
    };
  } catch (err) {
    remove();
    throw err;
  }
}
