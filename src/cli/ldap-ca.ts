import { readFileSync } from 'node:fs';
import { ldapCaSecretValue } from '../config/index.ts';
import { MailfleetError } from '../errors.ts';
import { MIN_SECRET_LENGTH } from '../spec/index.ts';

/**
 * The Secret value `ldap-tls-ca` for a Secret of one's own: the LDAP CA's certificate derived from the key in `path`
 * (`-`: stdin), read as a pod reads its Secret (one final newline dropped).
 */
export function ldapCaSecretValueFromFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new MailfleetError('SPEC_UNREADABLE', `${path}: cannot read the LDAP TLS key`, { cause: err });
  }
  const key = text.replace(/\r?\n$/, '');
  if (key.length < MIN_SECRET_LENGTH || /[\r\n]/.test(key)) {
    throw new MailfleetError('SPEC_INVALID', `${path}: the LDAP TLS key must be one line of at least ${MIN_SECRET_LENGTH} characters`);
  }
  return ldapCaSecretValue(key);
}
