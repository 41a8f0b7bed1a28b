/**
 * TLS on the platform's internal hops: a hop's CA derived from a platform secret, and the short-lived server
 * certificates it issues. node:crypto alone, so the agents can load it (src/tls, the public certificates' room,
 * brings a certificate library).
 */
export { certificatePem, deriveInternalCa, issueInternalCertificate, positiveSerial, wholeSeconds, type InternalCa, type InternalCaKey, type IssuedCertificate } from './ca.ts';
export { authPolicyCa, doveadmCa, redisCa } from './client-cas.ts';
export { INTERNAL_TLS_CHECK_MS, INTERNAL_TLS_RENEW_BEFORE_MS, INTERNAL_TLS_VALIDITY_DAYS, internalTlsDue } from './lifetime.ts';
