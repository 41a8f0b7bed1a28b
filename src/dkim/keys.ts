/**
 * DKIM signing keys: made with node:crypto, kept as PKCS#8 PEM whatever the algorithm, and turned into the
 * two other forms that leave the store: the public key of the `p=` tag, and the private key file rspamd reads.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { MailfleetError } from '../errors.ts';

/**
 * `rsa` (RFC 6376; every verifier has it) or `ed25519` (RFC 8463; rspamd 3.4 and python3-dkim sign and verify
 * it, many receivers still do not, so a domain signed with ed25519 alone may look unsigned to them).
 */
export const DKIM_ALGORITHMS = ['rsa', 'ed25519'] as const;
export type DkimAlgorithm = (typeof DKIM_ALGORITHMS)[number];
export const DEFAULT_DKIM_ALGORITHM: DkimAlgorithm = 'rsa';

/** RSA modulus sizes offered. 2048 (the default) is what RFC 8301 asks signers for; 1024 is not offered. */
export const RSA_KEY_BITS = [2048, 3072, 4096] as const;
export const DEFAULT_RSA_KEY_BITS = 2048;

/** A PEM private key is at most this long (a 4096-bit RSA key is about 3.3 KB). */
export const MAX_KEY_PEM_BYTES = 16_384;

/** What a key is, without its private part: what the store's index and the DNS record carry. */
export interface DkimPublicKey {
  algorithm: DkimAlgorithm;
  /** The RSA modulus size; absent for ed25519. */
  bits?: number;
  /** The `p=` value: base64 of the DER SubjectPublicKeyInfo (rsa) or of the raw 32-byte key (ed25519, RFC 8463). */
  publicKey: string;
}

export interface DkimKeyPair extends DkimPublicKey {
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  privateKeyPem: string;
}

export interface KeyOptions {
  /** Default {@link DEFAULT_DKIM_ALGORITHM}. */
  algorithm?: DkimAlgorithm;
  /** RSA only: one of {@link RSA_KEY_BITS}; default {@link DEFAULT_RSA_KEY_BITS}. */
  bits?: number;
}

function base64FromUrl(text: string): string {
  return Buffer.from(text, 'base64url').toString('base64');
}

function ed25519Jwk(key: KeyObject): { d?: string; x: string } {
  return key.export({ format: 'jwk' }) as { d?: string; x: string };
}

function publicKeyFacts(key: KeyObject): DkimPublicKey {
  if (key.asymmetricKeyType === 'rsa') {
    const der = createPublicKey(key).export({ type: 'spki', format: 'der' });
    return { algorithm: 'rsa', bits: key.asymmetricKeyDetails?.modulusLength ?? 0, publicKey: der.toString('base64') };
  }
  if (key.asymmetricKeyType === 'ed25519') return { algorithm: 'ed25519', publicKey: base64FromUrl(ed25519Jwk(createPublicKey(key)).x) };
  throw new MailfleetError('DKIM_STORE_INVALID', `a ${key.asymmetricKeyType ?? 'secret'} key is not a DKIM key (rsa or ed25519)`);
}

/** A new key pair. Throws USAGE for an RSA size not in {@link RSA_KEY_BITS}. */
export function generateDkimKey(opts: KeyOptions = {}): DkimKeyPair {
  const algorithm = opts.algorithm ?? DEFAULT_DKIM_ALGORITHM;
  let privateKey: KeyObject;
  if (algorithm === 'rsa') {
    const bits = opts.bits ?? DEFAULT_RSA_KEY_BITS;
    if (!(RSA_KEY_BITS as readonly number[]).includes(bits)) throw new MailfleetError('USAGE', `an RSA DKIM key has ${RSA_KEY_BITS.join(', ')} bits, not ${bits}`);
    privateKey = generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
  } else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
  }
  return { ...publicKeyFacts(privateKey), privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/**
 * What the key that replaces `current` is made with: what `asked` says, the rest as `current` is, so a
 * rotation keeps the algorithm and size unless told otherwise (`rsa` asked of an ed25519 domain gets the
 * default size). A size asked of an ed25519 domain without `rsa` is refused as USAGE: changing the
 * algorithm is said, never implied.
 */
export function successorKeyOptions(current: DkimPublicKey, asked: KeyOptions = {}): KeyOptions {
  const algorithm = asked.algorithm ?? current.algorithm;
  if (algorithm === 'ed25519') {
    if (asked.bits !== undefined) throw new MailfleetError('USAGE', `the key it replaces is ed25519, which has no size: add --algorithm rsa to make an RSA key of ${asked.bits} bits`);
    return { algorithm };
  }
  const bits = asked.bits ?? (current.algorithm === 'rsa' ? current.bits : undefined);
  return { algorithm, ...(bits === undefined ? {} : { bits }) };
}

/** The key in a PEM text; throws DKIM_STORE_INVALID naming `where` when it is not an rsa or ed25519 private key. */
export function parseDkimPrivateKey(pem: string, where: string): KeyObject {
  if (Buffer.byteLength(pem) > MAX_KEY_PEM_BYTES) throw new MailfleetError('DKIM_STORE_INVALID', `${where}: longer than ${MAX_KEY_PEM_BYTES} bytes: not a DKIM private key`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new MailfleetError('DKIM_STORE_INVALID', `${where}: not a PEM private key`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ed25519') {
    throw new MailfleetError('DKIM_STORE_INVALID', `${where}: a ${key.asymmetricKeyType ?? 'unknown'} key, not rsa or ed25519`);
  }
  return key;
}

/** The public facts of a PEM private key (to check a key file against the index). */
export function dkimPublicKeyOf(pem: string, where: string): DkimPublicKey {
  return publicKeyFacts(parseDkimPrivateKey(pem, where));
}

/**
 * The private key as rspamd 3.4's dkim_signing loads it from a file: an RSA key as PEM; an ed25519 key as
 * base64 of libsodium's 64-byte secret key (seed, then public key), the form `rspamadm dkim_keygen -t ed25519`
 * writes, since rspamd 3.4 reads only RSA from PEM.
 */
export function rspamdKeyText(pem: string, where: string): string {
  const key = parseDkimPrivateKey(pem, where);
  if (key.asymmetricKeyType === 'rsa') return key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const jwk = ed25519Jwk(key);
  return `${Buffer.concat([Buffer.from(jwk.d ?? '', 'base64url'), Buffer.from(jwk.x, 'base64url')]).toString('base64')}\n`;
}
