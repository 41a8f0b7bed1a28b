/**
 * The CA of an internal hop (the proxies' logins to the mailbox backends, the binds to LDAP): derived from a
 * platform secret, so that every instance holding the secret has the same CA without a file to hand around. Servers
 * of the hop issue their own certificate for the address they are reached by (a pod's IP is known only once it
 * runs), and clients of the hop trust the CA alone. Holding the secret lets one issue such certificates: it goes
 * only to the roles that may serve the hop.
 *
 * Two kinds of CA key: P-256 (the backend hop: both ends hold the secret), and Ed25519, whose signatures are
 * deterministic, so that the CA's certificate is the same bytes wherever it is derived and can be handed to clients
 * that must not hold the secret (the LDAP hop: a rendered Secret stays deterministic).
 *
 * Built on node:crypto alone (no certificate library in the agent, whose memory is budgeted).
 */
import { createECDH, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { MailfleetError } from '../errors.ts';
import {
  bitString, booleanTrue, explicit, implicit, ipBytes, namedBits, objectIdentifier, octetString, sequence, set, smallInteger, time, unsignedInteger,
  utf8String,
} from './der.ts';

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ed25519: '1.3.101.112',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** P-256's group order: a private scalar is in [1, n). */
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
/** The CA's validity is fixed, so that every instance derives the same certificate body. */
const CA_NOT_BEFORE = new Date(Date.UTC(2025, 0, 1));
const CA_NOT_AFTER = new Date(Date.UTC(2125, 0, 1));
/** Issued certificates start a little in the past, for a peer whose clock runs behind. */
const BACKDATE_MS = 60 * 60_000;
const DAY_MS = 86_400_000;

export type InternalCaKey = 'p256' | 'ed25519';

export interface InternalCa {
  /** What the hop's clients trust, PEM. */
  certPem: string;
  /** The same, DER. */
  certDer: Buffer;
  key: KeyObject;
  /** The CA's subject, DER: the issuer of what it signs. */
  subject: Buffer;
  keyId: Buffer;
}

export interface IssuedCertificate {
  /** Private key, then certificate, PEM: one file a daemon reads for both (`ssl_cert` and `ssl_key`). */
  pem: string;
  notAfter: Date;
}

const name = (...attributes: [string, string][]): Buffer => sequence(...attributes.map(([oid, value]) => set(sequence(objectIdentifier(oid), utf8String(value)))));

function extension(oid: string, value: Buffer, critical = false): Buffer {
  return sequence(objectIdentifier(oid), ...(critical ? [booleanTrue()] : []), octetString(value));
}

/** A serial from `bytes`: positive and of full length (RFC 5280: at most 20 octets, non-negative). */
export function positiveSerial(bytes: Buffer): Buffer {
  const serial = Buffer.from(bytes);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40;
  return serial;
}

/** X.509 times have whole seconds. */
export const wholeSeconds = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);

/** The key identifier RFC 5280 4.2.1.2 (1) describes: SHA-1 of the public key's bits. */
function keyIdentifier(key: KeyObject): Buffer {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  // A SubjectPublicKeyInfo ends with the key's bits: P-256's 65-byte uncompressed point, Ed25519's 32 bytes.
  return createHash('sha1').update(spki.subarray(spki.length - (key.asymmetricKeyType === 'ed25519' ? 32 : 65))).digest();
}

/** The AlgorithmIdentifier of what `key` signs with: Ed25519 has no parameters and hashes nothing first. */
const signatureAlgorithm = (key: KeyObject): Buffer => sequence(objectIdentifier(key.asymmetricKeyType === 'ed25519' ? OID.ed25519 : OID.ecdsaWithSha256));

/** PEM of a certificate's DER, 64 characters a line. */
export function certificatePem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function signed(tbs: Buffer, key: KeyObject): Buffer {
  return sequence(tbs, signatureAlgorithm(key), bitString(sign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', tbs, key)));
}

function tbsCertificate(fields: { serial: Buffer; issuer: Buffer; issuerKey: KeyObject; notBefore: Date; notAfter: Date; subject: Buffer; publicKey: KeyObject; extensions: Buffer[] }): Buffer {
  return sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(fields.serial),
    signatureAlgorithm(fields.issuerKey),
    fields.issuer,
    sequence(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    createPublicKey(fields.publicKey).export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...fields.extensions)),
  );
}

/** A P-256 key from 32 bytes of key material; undefined in the rare case they are no valid scalar. */
function p256Key(scalar: Buffer): KeyObject | undefined {
  const d = BigInt(`0x${scalar.toString('hex')}`);
  if (d === 0n || d >= P256_ORDER) return undefined;
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(scalar);
  const point = ecdh.getPublicKey();
  const b64 = (b: Buffer): string => b.toString('base64url');
  return createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: b64(scalar), x: b64(point.subarray(1, 33)), y: b64(point.subarray(33, 65)) }, format: 'jwk' });
}

/** PKCS #8 of an Ed25519 key (RFC 8410): this prefix, then the 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function caKey(secret: string, hop: string, kind: InternalCaKey): KeyObject {
  if (kind === 'ed25519') {
    // Every 32 bytes are an Ed25519 seed.
    const seed = Buffer.from(hkdfSync('sha256', secret, `mailfleet ${hop} CA`, 'ca ed25519 key', 32));
    return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  }
  for (let round = 0; ; round++) {
    const key = p256Key(Buffer.from(hkdfSync('sha256', secret, `mailfleet ${hop} CA`, `ca key ${round}`, 32)));
    if (key !== undefined) return key;
  }
}

/**
 * The hop's CA from its secret: the same key and certificate body wherever it is derived. With a P-256 key the
 * signature differs (ECDSA signs with a random nonce; a trust anchor's own signature is not what a client checks);
 * with Ed25519 the whole certificate is the same bytes. `hop` names the hop in the derivation and the CA's name,
 * so one secret can never stand for two hops.
 */
export function deriveInternalCa(secret: string, hop: string, kind: InternalCaKey = 'p256'): InternalCa {
  if (secret.length === 0) throw new MailfleetError('TLS_CA_INVALID', `the ${hop} CA needs a secret`);
  const key = caKey(secret, hop, kind);
  const serial = positiveSerial(Buffer.from(hkdfSync('sha256', secret, `mailfleet ${hop} CA`, 'ca serial', 16)));
  const subject = name([OID.commonName, `mailfleet ${hop} CA`], [OID.organization, 'mailfleet']);
  const keyId = keyIdentifier(key);
  const tbs = tbsCertificate({
    serial,
    issuer: subject,
    issuerKey: key,
    notBefore: CA_NOT_BEFORE,
    notAfter: CA_NOT_AFTER,
    subject,
    publicKey: key,
    extensions: [
      extension(OID.basicConstraints, sequence(booleanTrue(), smallInteger(0)), true),
      // keyCertSign (5) and cRLSign (6).
      extension(OID.keyUsage, namedBits([5, 6]), true),
      extension(OID.subjectKeyIdentifier, octetString(keyId)),
    ],
  });
  const certDer = signed(tbs, key);
  return { certPem: certificatePem(certDer), certDer, key, subject, keyId };
}

/**
 * A server certificate of the hop for `hosts` (IP addresses and DNS names; the first is also the CN), with a new
 * P-256 key, valid `validityDays` from now.
 */
export function issueInternalCertificate(ca: InternalCa, request: { hosts: readonly string[]; validityDays: number }, now = Date.now()): IssuedCertificate {
  const [first] = request.hosts;
  if (first === undefined) throw new MailfleetError('TLS_ISSUE_FAILED', 'a certificate needs at least one host');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const notAfter = wholeSeconds(now + request.validityDays * DAY_MS);
  const altNames = request.hosts.map((host) => {
    const ip = ipBytes(host);
    // GeneralName: dNSName [2] IA5String, iPAddress [7] OCTET STRING.
    return ip === undefined ? implicit(2, Buffer.from(host, 'ascii')) : implicit(7, ip);
  });
  const tbs = tbsCertificate({
    serial: positiveSerial(randomBytes(16)),
    issuer: ca.subject,
    issuerKey: ca.key,
    notBefore: wholeSeconds(now - BACKDATE_MS),
    notAfter,
    subject: name([OID.commonName, first]),
    publicKey: privateKey,
    extensions: [
      extension(OID.basicConstraints, sequence(), true),
      // digitalSignature (0).
      extension(OID.keyUsage, namedBits([0]), true),
      extension(OID.extKeyUsage, sequence(objectIdentifier(OID.serverAuth))),
      extension(OID.subjectAltName, sequence(...altNames)),
      extension(OID.subjectKeyIdentifier, octetString(keyIdentifier(privateKey))),
      extension(OID.authorityKeyIdentifier, sequence(implicit(0, ca.keyId))),
    ],
  });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { pem: keyPem + certificatePem(signed(tbs, ca.key)), notAfter };
}
