import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MailfleetError } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import { MAX_PEM_BYTES } from './pem.ts';

/** The keys of a `kubernetes.io/tls` Secret: the file names daemons read on both runtimes. */
export const CERT_FILE = 'tls.crt';
export const KEY_FILE = 'tls.key';

/** `<state>/tls`: the CA (its certificate readable by all, so users can copy it), the certificates, the ACME account. */
const TLS_DIR_MODE = 0o711;
/** Certificates and account keys: root only. */
const PRIVATE_DIR_MODE = 0o700;
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;

export interface TlsPaths {
  root: string;
  caCert: string;
  caKey: string;
  /** One directory per certificate name, each holding tls.crt and tls.key (InstanceContext.tlsDir). */
  certs: string;
  acmeAccountKey: string;
}

/** Where the single host keeps TLS state; `certsDir` is the instances' `tlsDir`. */
export function tlsPaths(stateDir: string, certsDir: string): TlsPaths {
  const root = join(resolve(stateDir), 'tls');
  return { root, caCert: join(root, 'ca.crt'), caKey: join(root, 'ca.key'), certs: resolve(certsDir), acmeAccountKey: join(root, 'acme', 'account.key') };
}

export function certificatePaths(paths: TlsPaths, name: string): { dir: string; cert: string; key: string } {
  const dir = join(paths.certs, name);
  return { dir, cert: join(dir, CERT_FILE), key: join(dir, KEY_FILE) };
}

/** Creates the TLS directories with their modes (again at every start: a loosened mode is put back). */
export function prepareTlsDirs(paths: TlsPaths): void {
  mkdirSync(paths.root, { recursive: true });
  chmodSync(paths.root, TLS_DIR_MODE);
  for (const dir of [paths.certs, join(paths.root, 'acme')]) {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, PRIVATE_DIR_MODE);
  }
}

/**
 * Installs a certificate chain and its key under `<certs>/<name>/` (a root-only directory). The key is renamed
 * into place first and the chain last, so a watcher that reacts to tls.crt finds the matching key already there.
 */
export function installCertificate(paths: TlsPaths, name: string, pem: { cert: string; key: string }): void {
  const files = certificatePaths(paths, name);
  mkdirSync(files.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  chmodSync(files.dir, PRIVATE_DIR_MODE);
  writeFileAtomic(files.key, pem.key, { mode: KEY_MODE });
  writeFileAtomic(files.cert, pem.cert, { mode: CERT_MODE });
}

/** Writes a private key file (mode 0600) atomically. */
export function writePrivateKeyFile(path: string, pem: string): void {
  writeFileAtomic(path, pem, { mode: KEY_MODE });
}

/** Writes a certificate file (mode 0644) atomically. */
export function writeCertificateFile(path: string, pem: string): void {
  writeFileAtomic(path, pem, { mode: CERT_MODE });
}

/**
 * Reads a PEM file of bounded size; undefined when it does not exist. Throws TLS_CERTIFICATE_INVALID naming
 * `where` for anything else (a directory, too big, unreadable).
 */
export function readPemFile(path: string, where: string): string | undefined {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${where}: ${path} is not a regular file`);
    size = st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof MailfleetError) throw err;
    throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${where}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  if (size > MAX_PEM_BYTES) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${where}: ${path} has ${size} bytes; a PEM certificate or key has at most ${MAX_PEM_BYTES}`);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${where}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}
