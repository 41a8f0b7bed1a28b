import { randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  AuthorityKeyIdentifierExtension, BasicConstraintsExtension, ExtendedKeyUsage, ExtendedKeyUsageExtension, KeyUsageFlags, KeyUsagesExtension,
  SubjectAlternativeNameExtension, SubjectKeyIdentifierExtension, X509Certificate as PeculiarCertificate, X509CertificateGenerator,
} from '@peculiar/x509';
import { errorMessage, MailfleetError } from '../errors.ts';
import { positiveSerial, wholeSeconds } from '../internal-tls/index.ts';
import { ecdsaSigningKey, newPrivateKey, privateKeyPem, publicKeySpki, type KeyType } from './keys.ts';
import { parseChain, parsePrivateKey } from './pem.ts';
import { readPemFile, writeCertificateFile, writePrivateKeyFile, type TlsPaths } from './store.ts';

/** The local CA lives long: clients trust it once. Its certificates are short-lived and renewed. */
export const CA_VALIDITY_DAYS = 3650;
/** Issued certificates start a little in the past, for clients whose clock runs behind. */
export const BACKDATE_MS = 60_000;
const DAY_MS = 86_400_000;

export interface LocalCa {
  /** The CA certificate, PEM: what clients trust. */
  certPem: string;
  cert: X509Certificate;
  key: KeyObject;
}

/** A positive, 128-bit random serial, in hex. */
const serialNumber = (): string => positiveSerial(randomBytes(16)).toString('hex');

async function createCa(platformName: string, now: number): Promise<LocalCa> {
  const key = await newPrivateKey('ecdsa-p256');
  const { signingKey, signingAlgorithm } = await ecdsaSigningKey(key);
  const spki = publicKeySpki(key);
  const cert = await X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [`mailfleet ${platformName} local CA`] }, { O: ['mailfleet'] }],
    issuer: [{ CN: [`mailfleet ${platformName} local CA`] }, { O: ['mailfleet'] }],
    notBefore: wholeSeconds(now - BACKDATE_MS),
    notAfter: wholeSeconds(now + CA_VALIDITY_DAYS * DAY_MS),
    publicKey: spki,
    signingKey,
    signingAlgorithm,
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      await SubjectKeyIdentifierExtension.create(spki),
    ],
  });
  const certPem = cert.toString('pem') + '\n';
  return { certPem, cert: new X509Certificate(certPem), key };
}

/**
 * The platform's local CA: created once per state directory (key 0600, certificate 0644), then read back at every
 * start. A CA that is half there, unreadable, expired or not a CA is an error: replacing it silently would break
 * every client that trusts it.
 */
export async function loadOrCreateLocalCa(paths: TlsPaths, platformName: string, now = Date.now()): Promise<{ ca: LocalCa; created: boolean }> {
  const where = 'local CA';
  const certPem = readPemFile(paths.caCert, where);
  const keyPem = readPemFile(paths.caKey, where);
  if (certPem === undefined && keyPem === undefined) {
    const ca = await createCa(platformName, now);
    writePrivateKeyFile(paths.caKey, privateKeyPem(ca.key));
    writeCertificateFile(paths.caCert, ca.certPem);
    return { ca, created: true };
  }
  if (certPem === undefined || keyPem === undefined) {
    throw new MailfleetError('TLS_CA_INVALID', `${certPem === undefined ? paths.caCert : paths.caKey} is missing while ${certPem === undefined ? paths.caKey : paths.caCert} exists; restore it, or remove both to create a new CA (clients must then trust the new one)`);
  }
  try {
    const { leaf: cert } = parseChain(certPem, paths.caCert);
    const key = parsePrivateKey(keyPem, paths.caKey);
    if (!cert.ca) throw new MailfleetError('TLS_CA_INVALID', `${paths.caCert} is not a CA certificate`);
    if (!cert.checkPrivateKey(key)) throw new MailfleetError('TLS_CA_INVALID', `${paths.caKey} is not the key of ${paths.caCert}`);
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new MailfleetError('TLS_CA_INVALID', `${paths.caKey} is not an ECDSA P-256 key`);
    if (Date.parse(cert.validTo) <= now) throw new MailfleetError('TLS_CA_INVALID', `${paths.caCert} expired on ${cert.validTo}; remove ${paths.caCert} and ${paths.caKey} to create a new CA (clients must then trust the new one)`);
    return { ca: { certPem, cert, key }, created: false };
  } catch (err) {
    if (err instanceof MailfleetError && err.code === 'TLS_CA_INVALID') throw err;
    throw new MailfleetError('TLS_CA_INVALID', errorMessage(err), { cause: err });
  }
}

/** A server certificate from the local CA: `hosts` as subjectAltName (the first also the subject's CN). */
export async function issueFromLocalCa(ca: LocalCa, request: { hosts: readonly string[]; validityDays: number; keyType: KeyType }, now = Date.now()): Promise<{ cert: string; key: string }> {
  const [first] = request.hosts;
  if (first === undefined) throw new MailfleetError('TLS_ISSUE_FAILED', 'a certificate needs at least one host name');
  const key = await newPrivateKey(request.keyType);
  const { signingKey, signingAlgorithm } = await ecdsaSigningKey(ca.key);
  const spki = publicKeySpki(key);
  // The issuer name and key id exactly as the CA certificate has them: chain building compares them.
  const caCert = new PeculiarCertificate(ca.certPem);
  const caKeyId = caCert.getExtension(SubjectKeyIdentifierExtension)?.keyId;
  const usage = request.keyType === 'rsa-2048' ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment : KeyUsageFlags.digitalSignature;
  const leaf = await X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [first] }],
    issuer: caCert.subjectName,
    notBefore: wholeSeconds(now - BACKDATE_MS),
    notAfter: wholeSeconds(now + request.validityDays * DAY_MS),
    publicKey: spki,
    signingKey,
    signingAlgorithm,
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(usage, true),
      new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth]),
      new SubjectAlternativeNameExtension(request.hosts.map((h) => ({ type: isIP(h) ? 'ip' as const : 'dns' as const, value: h }))),
      await SubjectKeyIdentifierExtension.create(spki),
      caKeyId === undefined ? await AuthorityKeyIdentifierExtension.create(publicKeySpki(ca.key)) : new AuthorityKeyIdentifierExtension(caKeyId),
    ],
  });
  return { cert: leaf.toString('pem') + '\n', key: privateKeyPem(key) };
}
