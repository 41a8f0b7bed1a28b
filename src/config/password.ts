import { createHash, randomBytes } from 'node:crypto';

function saltedHash(scheme: string, algorithm: string, password: string, salt: Buffer): string {
  const digest = createHash(algorithm).update(password, 'utf8').update(salt).digest();
  return `{${scheme}}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** `{SSHA512}`: mailbox passwords, verified by Dovecot. The salt is a parameter so tests stay deterministic. */
export function ssha512(password: string, salt: Buffer = randomBytes(8)): string {
  return saltedHash('SSHA512', 'sha512', password, salt);
}

/** `{SSHA}`: service passwords that slapd itself verifies on bind (stock slapd has no SHA-2 scheme). */
export function ssha(password: string, salt: Buffer = randomBytes(8)): string {
  return saltedHash('SSHA', 'sha1', password, salt);
}
