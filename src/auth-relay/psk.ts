/**
 * The TLS of the SMTP AUTH relay (see server.ts): TLS 1.2 with a pre-shared key, ECDHE for forward secrecy and
 * ChaCha20-Poly1305 (AEAD), no certificates. Both ends derive the key from the platform secret
 * `spec.director.authRelayKey` with HKDF, so the secret itself is never the key; the client's identity (its
 * instance name) crosses in clear and is only logged.
 */
import { hkdfSync } from 'node:crypto';

export const RELAY_CIPHERS = 'ECDHE-PSK-CHACHA20-POLY1305';
/** Node offers TLS-PSK with TLS 1.2 only. */
export const RELAY_TLS_VERSION = 'TLSv1.2';
const KEY_BYTES = 32;
const KEY_INFO = 'mailfleet auth relay psk v1';
/** What an identity may look like: an instance or pod name. Anything else is refused before a key is looked at. */
export const RELAY_IDENTITY = /^[A-Za-z0-9._-]{1,128}$/;

/** The relay's pre-shared key from the platform secret. */
export function relayKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, '', KEY_INFO, KEY_BYTES));
}
