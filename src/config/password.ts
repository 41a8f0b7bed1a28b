import { argon2, createHash, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';

/**
 * How mailbox passwords are stored: Argon2id (RFC 9106), which Dovecot verifies through libsodium
 * (`doveadm pw -l` lists ARGON2ID on Debian 12), in the PHC string form Dovecot reads:
 * `{ARGON2ID}$argon2id$v=19$m=<KiB>,t=<passes>,p=1$<salt>$<hash>`, base64 without padding.
 */
export interface PasswordHashing {
  scheme: 'ARGON2ID';
  /** Memory per hash, KiB. */
  memoryKiB: number;
  /** Passes over the memory. */
  passes: number;
}

/** One lane: libsodium, which verifies for Dovecot, computes lanes one after another anyway. */
export const ARGON2_PARALLELISM = 1;
const ARGON2_VERSION = 19;
const SALT_BYTES = 16;
const TAG_BYTES = 32;

const unpadded = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

/** The stored form of one password; each call draws its own salt unless one is given (tests). */
export function hashPassword(password: string, hashing: PasswordHashing, salt: Buffer = randomBytes(SALT_BYTES)): Promise<string> {
  const { memoryKiB, passes } = hashing;
  return new Promise((resolve, reject) => {
    // Runs on libuv's thread pool: the event loop stays free while it works.
    argon2('argon2id', { message: password, nonce: salt, parallelism: ARGON2_PARALLELISM, tagLength: TAG_BYTES, memory: memoryKiB, passes }, (err, tag) => {
      if (err) reject(err);
      else resolve(`{ARGON2ID}$argon2id$v=${ARGON2_VERSION}$m=${memoryKiB},t=${passes},p=${ARGON2_PARALLELISM}$${unpadded(salt)}$${unpadded(tag)}`);
    });
  });
}

/**
 * Many passwords (seeding demo accounts), each with its own salt, as many at once as there are CPUs:
 * more would only queue on the thread pool while holding their memory.
 */
export async function hashPasswords(passwords: readonly string[], hashing: PasswordHashing, concurrency = availableParallelism()): Promise<string[]> {
  const out: string[] = new Array<string>(passwords.length);
  let next = 0;
  const worker = async () => {
    while (next < passwords.length) {
      const i = next++;
      out[i] = await hashPassword(passwords[i] ?? '', hashing);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, passwords.length)) }, worker));
  return out;
}

/**
 * `{SSHA}`: service passwords that slapd itself verifies on bind (stock slapd has no SHA-2 scheme). Only
 * for generated secrets of 32 random bytes, which no guessing reaches: a slow hash would add nothing.
 */
export function ssha(password: string, salt: Buffer = randomBytes(8)): string {
  const digest = createHash('sha1').update(password, 'utf8').update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}
