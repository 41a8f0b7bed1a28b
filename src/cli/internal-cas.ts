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

/** The internal hops whose CA a client of one's own may need: derived from the secret its clients hold. */
export const CLIENT_CAS = {
  redis: { secret: 'Redis password', derive: redisCa },
  doveadm: { secret: 'doveadm API key', derive: doveadmCa },
} as const;

/** The PEM certificate of `hop`'s CA, for the secret in `path` (a redis_exporter's, a hand-made doveadm call's CA file). */
export function clientCaPemFromFile(hop: keyof typeof CLIENT_CAS, path: string): string {
  const { secret, derive } = CLIENT_CAS[hop];
  return derive(readSecret(path, secret)).certPem;
}
