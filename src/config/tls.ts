import type { AgentRole, PlatformSpec, Role } from '../spec/index.ts';
import type { ConfigInput, InstanceContext } from './context.ts';

type TlsCertificate = PlatformSpec['tls']['certificates'][number];

/** The roles with client-facing TLS listeners: they serve `spec.tls.certificates`. */
export const TLS_ROLES: readonly Role[] = ['mta', 'msa', 'proxy'];

export function servesTls(role: AgentRole): boolean {
  return (TLS_ROLES as readonly AgentRole[]).includes(role);
}

/**
 * TLS 1.2 suites: forward secrecy (ECDHE) with an AEAD cipher only, for ECDSA and RSA keys alike. Finite-field
 * DHE is left out, so neither daemon needs DH parameters. TLS 1.3 suites are all AEAD and left at OpenSSL's.
 */
export const TLS_CIPHER_LIST = 'ECDHE+AESGCM:ECDHE+CHACHA20';

/**
 * The copy of one certificate the daemons read: its private key, then the chain (leaf first), in one PEM
 * file. The agent writes it from `certificateFiles` only once the pair parses and the key matches the
 * certificate, and replaces it with one rename, so a daemon process starting at any moment reads a
 * consistent pair, and a broken or half-written renewal never reaches a listener. It lives in the run
 * dir (tmpfs on the single host, an emptyDir in a pod), root's only.
 */
export function servedCertificateFile(instance: InstanceContext, name: string): string {
  return `${servedCertificatesDir(instance)}/${name}.pem`;
}

export function servedCertificatesDir(instance: InstanceContext): string {
  return `${instance.runDir}/tls`;
}

/** The certificate of clients that send no SNI name, or one no certificate lists: the first. */
export function defaultCertificate({ spec }: ConfigInput): TlsCertificate {
  const first = spec.tls.certificates[0];
  if (first === undefined) throw new TypeError('spec.tls.certificates is empty; validateSpec fills in a default');
  return first;
}

/** Each SNI host name with the certificate that carries it, in spec order. */
export function sniHosts({ spec }: ConfigInput): { host: string; certificate: string }[] {
  return spec.tls.certificates.flatMap((c) => c.hosts.map((host) => ({ host: host.toLowerCase(), certificate: c.name })));
}
