/**
 * The auth policy hop's CA (the proxies' Dovecot asking the policy server about logins): derived from the auth policy
 * credential, which only the proxies and the policy server hold. Here, where both the policy server and the proxies'
 * agents reach it without loading the other's code.
 */
import { deriveInternalCa, type InternalCa } from './ca.ts';

export function authPolicyCa(apiKey: string): InternalCa {
  return deriveInternalCa(apiKey, 'auth-policy');
}
