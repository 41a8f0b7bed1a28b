import { createPublicKey, generateKeyPair, type KeyObject, type webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import type { PlatformSpec } from '../spec/index.ts';

export type KeyType = PlatformSpec['tls']['keyType'];

const generate = promisify(generateKeyPair);

/** A new private key of the spec's type (RSA generation takes a moment: done off the event loop). */
export async function newPrivateKey(type: KeyType): Promise<KeyObject> {
  const pair = type === 'rsa-2048' ? await generate('rsa', { modulusLength: 2048 }) : await generate('ec', { namedCurve: 'prime256v1' });
  return pair.privateKey;
}

/** PKCS#8 PEM, the form Postfix, Dovecot and Node read. */
export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The key's public half as SubjectPublicKeyInfo DER: what goes into a certificate. */
export function publicKeySpki(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

/** The Web Crypto signing key of a P-256 CA key, and the signature algorithm it signs with. */
export async function ecdsaSigningKey(key: KeyObject): Promise<{ signingKey: webcrypto.CryptoKey; signingAlgorithm: webcrypto.EcdsaParams }> {
  const signingKey = key.toCryptoKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  return { signingKey: await Promise.resolve(signingKey), signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } };
}
