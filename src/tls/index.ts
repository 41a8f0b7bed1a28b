/**
 * Server certificates on the single host: a local CA (default), ACME, or files; kept across restarts, renewed
 * before they run out, with metrics and a status. The daemons read `<certs>/<name>/tls.crt|tls.key`.
 */
export { renewalReason, renewalTime, type RenewalReason } from './due.ts';
export { BACKDATE_MS, CA_VALIDITY_DAYS, issueFromLocalCa, loadOrCreateLocalCa, type LocalCa } from './local-ca.ts';
export { parseListen, startHttp01Responder, type Http01Responder } from './http01.ts';
export { createTlsMetrics, type TlsMetrics } from './metrics.ts';
export { hostsMissing, parseChain, parsePrivateKey, type CertificateFacts, type ParsedChain } from './pem.ts';
export { createCertificateRenewal, RETRY_AFTER_FAILURE_MS, type CertificateRenewal, type CertificateStatus, type RenewalOptions } from './renewal.ts';
export { CERT_FILE, certificatePaths, KEY_FILE, tlsPaths, type TlsPaths } from './store.ts';
