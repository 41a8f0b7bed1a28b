import type { KeyObject, X509Certificate } from 'node:crypto';
import { errorMessage } from '../errors.ts';
import type { KeyType } from './keys.ts';
import { checkKeyMatches, parseChain, parsePrivateKey, type ParsedChain } from './pem.ts';
import { certificatePaths, readPemFile, type TlsPaths } from './store.ts';

/** What is installed under `<certs>/<name>/` now. */
export type Installed =
  | { state: 'missing' }
  /** Present but not servable: unparsable, or a key that does not belong to the certificate. */
  | { state: 'unusable'; problem: string }
  | { state: 'usable'; parsed: ParsedChain; certPem: string; keyPem: string; fromLocalCa: boolean; keyType: KeyType | 'other' };

/** The spec's name for a key's type, or `other`. */
export function keyTypeOf(key: KeyObject): KeyType | 'other' {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  if (key.asymmetricKeyType === 'rsa' && key.asymmetricKeyDetails?.modulusLength === 2048) return 'rsa-2048';
  return 'other';
}

/** Whether `leaf` was signed by the local CA `ca` (a stand-in, or a certificate of the local issuer). */
export function issuedBy(leaf: X509Certificate, ca: X509Certificate | undefined): boolean {
  return ca !== undefined && leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
}

/** Reads and checks the installed certificate and key of `name`. Never throws. */
export function readInstalled(paths: TlsPaths, name: string, ca: X509Certificate | undefined): Installed {
  const files = certificatePaths(paths, name);
  try {
    const certPem = readPemFile(files.cert, files.cert);
    const keyPem = readPemFile(files.key, files.key);
    if (certPem === undefined && keyPem === undefined) return { state: 'missing' };
    if (certPem === undefined || keyPem === undefined) return { state: 'unusable', problem: `${certPem === undefined ? files.cert : files.key} is missing` };
    const parsed = parseChain(certPem, files.cert);
    const key = parsePrivateKey(keyPem, files.key);
    checkKeyMatches(parsed, key, files.key);
    return { state: 'usable', parsed, certPem, keyPem, fromLocalCa: issuedBy(parsed.leaf, ca), keyType: keyTypeOf(key) };
  } catch (err) {
    return { state: 'unusable', problem: errorMessage(err) };
  }
}
