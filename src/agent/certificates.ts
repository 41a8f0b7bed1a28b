/**
 * The server certificates an instance serves: read from where the issuer puts them (`certificateFiles`,
 * a Secret volume in a pod), checked, and installed as the one file per certificate the daemons read
 * (`servedCertificateFile`). Nothing here logs or returns key material.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { certificateFiles, servedCertificateFile, servedCertificatesDir, type InstanceContext } from '../config/index.ts';
import { errorMessage, MailfleetError } from '../errors.ts';
import type { PlatformSpec } from '../spec/index.ts';
import { ensureDir } from './fs.ts';

/** One of `spec.tls.certificates` as the agent sees it: where it is read from, and where it is installed. */
export interface CertificateSource {
  name: string;
  /** Field path in the spec, for errors. */
  field: string;
  cert: string;
  key: string;
  served: string;
}

export function certificateSources(spec: PlatformSpec, instance: InstanceContext): CertificateSource[] {
  return spec.tls.certificates.map((c, i) => ({
    name: c.name,
    field: `spec.tls.certificates[${i}]`,
    ...certificateFiles(instance, c.name),
    served: servedCertificateFile(instance, c.name),
  }));
}

/** What may be said about a checked certificate: its names and lifetime, never its key. */
export interface CertificateFacts {
  name: string;
  /** sha256 of the source files as read; tells a new pair from the one served. */
  fingerprint: string;
  subject: string;
  dnsNames: string[];
  notAfter: Date;
}

export type CertificateReading =
  | { ok: true; facts: CertificateFacts; served: string }
  | { ok: false; fingerprint: string; reason: string };

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/** A certificate chain longer than this is not one (leaf, intermediates, maybe a root). */
const MAX_CHAIN_CERTIFICATES = 10;
/** Bigger files are not a certificate chain or a key: refused unread past this. */
const MAX_FILE_BYTES = 256 * 1024;

function readBounded(path: string): Buffer {
  const data = readFileSync(path);
  if (data.length > MAX_FILE_BYTES) throw new Error(`${path} is over ${MAX_FILE_BYTES} bytes`);
  return data;
}

/** sha256 of the pair as it is on disk now; `missing:…` when a file cannot be read. */
export function sourceFingerprint(source: CertificateSource): string {
  try {
    return fingerprintOf(readBounded(source.cert), readBounded(source.key));
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`;
  }
}

/**
 * A cheap sign of change: inode, size, modification and change times of both files (through symlinks, so a
 * Secret volume's `..data` swap changes it), without reading them.
 */
export function sourceSignature(source: CertificateSource): string {
  return [source.cert, source.key].map((path) => {
    try {
      const st = statSync(path, { bigint: true });
      return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch (err) {
      return `missing:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
    }
  }).join('/');
}

function fingerprintOf(cert: Buffer, key: Buffer): string {
  return createHash('sha256').update(cert).update('\0').update(key).digest('hex');
}

function dnsNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
}

/**
 * Reads and checks one pair: both files present, a certificate chain, a private key (unencrypted) that
 * belongs to the first certificate. The served form is the key (PKCS#8) followed by the chain, each
 * re-encoded from what parsed, so stray text or PEM blocks of other kinds never reach a daemon.
 */
export function readCertificate(source: CertificateSource): CertificateReading {
  let certData: Buffer;
  let keyData: Buffer;
  try {
    certData = readBounded(source.cert);
    keyData = readBounded(source.key);
  } catch (err) {
    const fingerprint = `missing:${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`;
    return { ok: false, fingerprint, reason: `cannot read: ${errorMessage(err)}` };
  }
  const fingerprint = fingerprintOf(certData, keyData);
  const blocks = certData.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return { ok: false, fingerprint, reason: `${source.cert} holds no PEM certificate` };
  if (blocks.length > MAX_CHAIN_CERTIFICATES) return { ok: false, fingerprint, reason: `${source.cert} holds over ${MAX_CHAIN_CERTIFICATES} certificates` };
  let chain: X509Certificate[];
  try {
    chain = blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    return { ok: false, fingerprint, reason: `${source.cert} does not parse: ${errorMessage(err)}` };
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey({ key: keyData, format: 'pem' });
  } catch {
    // OpenSSL's message may quote the input: say only that it is not a usable key.
    return { ok: false, fingerprint, reason: `${source.key} is not an unencrypted PEM private key` };
  }
  const leaf = chain[0] as X509Certificate;
  if (!leaf.checkPrivateKey(key)) return { ok: false, fingerprint, reason: `${source.key} is not the key of the certificate in ${source.cert}` };
  const served = [key.export({ type: 'pkcs8', format: 'pem' }).toString(), ...chain.map((c) => c.toString())].join('');
  return {
    ok: true,
    served,
    facts: { name: source.name, fingerprint, subject: leaf.subject.replace(/\n/g, ', '), dnsNames: dnsNames(leaf), notAfter: new Date(leaf.validTo) },
  };
}

/** Replaces the served file with one rename: a daemon process reads the old pair or the new, never a mix. */
export function installServed(source: CertificateSource, served: string): void {
  const dir = source.served.slice(0, source.served.lastIndexOf('/'));
  ensureDir(dir, 0o700);
  const temp = `${source.served}.new`;
  rmSync(temp, { force: true });
  writeFileSync(temp, served, { mode: 0o600, flag: 'wx' });
  renameSync(temp, source.served);
}

/**
 * Installs every certificate before the daemon starts; a missing or broken one stops the start, naming
 * the spec field and the file (a daemon would otherwise refuse TLS, or not start at all).
 */
export function installCertificates(spec: PlatformSpec, instance: InstanceContext): CertificateFacts[] {
  ensureDir(servedCertificatesDir(instance), 0o700);
  const problems: string[] = [];
  const facts: CertificateFacts[] = [];
  for (const source of certificateSources(spec, instance)) {
    const reading = readCertificate(source);
    if (!reading.ok) {
      problems.push(`${source.field} (${source.name}): ${reading.reason}`);
      continue;
    }
    installServed(source, reading.served);
    facts.push(reading.facts);
  }
  if (problems.length > 0) {
    throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${instance.name}: no usable server certificate: ${problems.join('; ')}`, { details: problems });
  }
  return facts;
}
