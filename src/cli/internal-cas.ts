/** What `render ldap-ca`, `redis-ca` and `doveadm-ca` print: an internal hop's CA, derived from a secret given in a file. */
import { readFileSync } from 'node:fs';
import { ldapCaSecretValue } from '../config/index.ts';
import { MailfleetError } from '../errors.ts';
import { doveadmCa, redisCa } from '../internal-tls/index.ts';
import { MIN_SECRET_LENGTH } from '../spec/index.ts';

/** A platform secret from `path` (`-`: stdin), read as a pod reads its Secret (one final newline dropped). */
function readSecret(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new MailfleetError('SPEC_UNREADABLE', `${path}: cannot read the ${what}`, { cause: err });
  }
  const value = text.replace(/\r?\n$/, '');
  if (value.length < MIN_SECRET_LENGTH || /[\r\n]/.test(value)) {
    throw new MailfleetError('SPEC_INVALID', `${path}: the ${what} must be one line of at least ${MIN_SECRET_LENGTH} characters`);
  }
  return value;
}

/** The Secret value `ldap-tls-ca` for a Secret of one's own: the LDAP CA's certificate derived from the key in `path`. */
export function ldapCaSecretValueFromFile(path: string): string {
  return ldapCaSecretValue(readSecret(path, 'LDAP TLS key'));
}

/**
 * The internal hops whose CA a client of one's own may need, by `render` subcommand: derived from the secret its
 * clients hold, read from the file `flag` names (the Secret key `secretKey`).
 */
export const CLIENT_CAS = {
  'redis-ca': { flag: 'password-file', secret: 'Redis password', secretKey: 'redis-password', derive: redisCa },
  'doveadm-ca': { flag: 'key-file', secret: 'doveadm API key', secretKey: 'doveadm-api-key', derive: doveadmCa },
} as const;

export type ClientCa = keyof typeof CLIENT_CAS;

/** The PEM certificate of the CA, for the secret in `path` (a redis_exporter's, a hand-made doveadm call's CA file). */
export function clientCaPemFromFile(which: ClientCa, path: string): string {
  const { secret, derive } = CLIENT_CAS[which];
  return derive(readSecret(path, secret)).certPem;
}
