import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { SubjectAlternativeNameExtension, X509Certificate as PeculiarCertificate } from '@peculiar/x509';
import { errorMessage, MailfleetError } from '../errors.ts';

/** What the platform needs to know about a certificate chain: never the key. */
export interface CertificateFacts {
  /** DNS names and IP addresses of the leaf's subjectAltName, in certificate order. */
  hosts: string[];
  notBefore: Date;
  notAfter: Date;
  /** The leaf's issuer DN, as OpenSSL prints it. */
  issuer: string;
  serialNumber: string;
  /** SHA-256 fingerprint of the leaf. */
  fingerprint256: string;
}

/** A parsed chain: the leaf first, then the intermediates as the file lists them. */
export interface ParsedChain {
  leaf: X509Certificate;
  chain: X509Certificate[];
  facts: CertificateFacts;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;
/** A chain file bigger than this is not a certificate chain (ten certificates with long SAN lists fit easily). */
export const MAX_PEM_BYTES = 256 * 1024;
/** More certificates than this in one file is not a chain a server sends. */
const MAX_CHAIN_LENGTH = 10;

/** The hosts of a leaf's subjectAltName: DNS names as written (lower-cased), IP addresses as text. */
function sanHosts(leafPem: string): string[] {
  const san = new PeculiarCertificate(leafPem).getExtension(SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === 'dns' || n.type === 'ip').map((n) => n.value.toLowerCase());
}

/**
 * Parses a PEM certificate chain (the leaf first). Throws TLS_CERTIFICATE_INVALID naming `where` when the text
 * holds no certificate, too many, or one that does not parse.
 */
export function parseChain(pem: string, where: string): ParsedChain {
  if (pem.length > MAX_PEM_BYTES) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${where}: more than ${MAX_PEM_BYTES} bytes; not a certificate chain`);
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${where}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it`);
  if (blocks.length > MAX_CHAIN_LENGTH) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${where}: ${blocks.length} certificates; a chain has at most ${MAX_CHAIN_LENGTH}`);
  let chain: X509Certificate[];
  let hosts: string[];
  try {
    chain = blocks.map((b) => new X509Certificate(b));
    hosts = sanHosts(blocks[0] as string);
  } catch (err) {
    throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${where}: a certificate does not parse (${errorMessage(err)})`, { cause: err });
  }
  const leaf = chain[0] as X509Certificate;
  return {
    leaf,
    chain,
    facts: {
      hosts,
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
      issuer: leaf.issuer,
      serialNumber: leaf.serialNumber,
      fingerprint256: leaf.fingerprint256,
    },
  };
}

/** Parses a PEM private key; throws TLS_CERTIFICATE_INVALID naming `where` (never the key's text). */
export function parsePrivateKey(pem: string, where: string): KeyObject {
  if (pem.length > MAX_PEM_BYTES) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${where}: more than ${MAX_PEM_BYTES} bytes; not a private key`);
  try {
    const key = createPrivateKey({ key: pem, format: 'pem' });
    if (key.type !== 'private') throw new Error('not a private key');
    return key;
  } catch (err) {
    // The parser's message can quote the input: say only what kind of failure it was.
    throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${where}: not a PEM private key (or one protected by a passphrase)`, { cause: new Error(err instanceof Error && 'code' in err ? String(err.code) : 'parse error') });
  }
}

/** Throws TLS_CERTIFICATE_INVALID unless `key` is the private key of the chain's leaf. */
export function checkKeyMatches(parsed: ParsedChain, key: KeyObject, where: string): void {
  if (!parsed.leaf.checkPrivateKey(key)) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${where}: the private key does not belong to the certificate`);
}

/** Hosts of `want` the certificate does not name (a `*.example.com` SAN covers one label below it). */
export function hostsMissing(leaf: X509Certificate, want: readonly string[]): string[] {
  return want.filter((h) => (isIP(h) ? leaf.checkIP(h) === undefined : leaf.checkHost(h, { wildcards: true, partialWildcards: false }) === undefined));
}

/** The same host names, order and case aside. */
export function sameHosts(a: readonly string[], b: readonly string[]): boolean {
  const norm = (x: readonly string[]) => [...new Set(x.map((h) => h.toLowerCase()))].sort().join(' ');
  return norm(a) === norm(b);
}
