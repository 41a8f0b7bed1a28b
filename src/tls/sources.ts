import { MailfleetError } from '../errors.ts';
import type { PlatformSpec } from '../spec/index.ts';
import { renewalReason, type RenewalReason } from './due.ts';
import type { Installed } from './installed.ts';
import { issueFromLocalCa, type LocalCa } from './local-ca.ts';
import { readPemFile } from './store.ts';

export type TlsSpec = PlatformSpec['tls'];
export type TlsCertificateSpec = TlsSpec['certificates'][number];
export type TlsIssuer = TlsSpec['issuer'];

export type UsableInstalled = Extract<Installed, { state: 'usable' }>;

/** One of `spec.tls.certificates`, with its place in the spec (for error messages naming the field). */
export interface WantedCertificate {
  spec: TlsCertificateSpec;
  /** `spec.tls.certificates[i]`. */
  field: string;
}

/** Where certificates come from: the local CA, an ACME server, or files the operator provides. */
export interface CertificateSource {
  issuer: TlsIssuer;
  /** Whether `obtain` works without the network, so that `up` can wait for it before any daemon starts. */
  offline: boolean;
  /** Why a servable installed certificate must be replaced at `now`; undefined when it is fine. */
  reason(want: WantedCertificate, installed: UsableInstalled, now: number): RenewalReason | undefined;
  /** A new chain (leaf first) and its key, PEM; checked by the caller before it is installed. */
  obtain(want: WantedCertificate, now: number): Promise<{ cert: string; key: string }>;
}

/** Why a certificate the platform issued (local CA or ACME) must be renewed: hosts, key type, or its age. */
export function issuedReason(tls: TlsSpec, want: WantedCertificate, installed: UsableInstalled, now: number): RenewalReason | undefined {
  const byAge = renewalReason(installed.parsed.facts, { hosts: want.spec.hosts, renewAfter: tls.renewAfter }, now);
  if (byAge === 'hosts-changed') return byAge;
  return installed.keyType === tls.keyType ? byAge : 'key-changed';
}

/** The default issuer: the platform's own CA, no network. */
export function localSource(ca: LocalCa, tls: TlsSpec): CertificateSource {
  return {
    issuer: 'local',
    offline: true,
    reason: (want, installed, now) => (installed.fromLocalCa ? issuedReason(tls, want, installed, now) : 'issuer-changed'),
    obtain: (want, now) => issueFromLocalCa(ca, { hosts: want.spec.hosts, validityDays: tls.validityDays, keyType: tls.keyType }, now),
  };
}

function readSource(want: WantedCertificate): { cert: string; key: string } {
  const { certFile, keyFile } = want.spec;
  if (certFile === undefined || keyFile === undefined) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${want.field}: certFile and keyFile are required with spec.tls.issuer: files`);
  const cert = readPemFile(certFile, `${want.field}.certFile`);
  const key = readPemFile(keyFile, `${want.field}.keyFile`);
  if (cert === undefined) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${want.field}.certFile: ${certFile} does not exist`);
  if (key === undefined) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${want.field}.keyFile: ${keyFile} does not exist`);
  return { cert, key };
}

/**
 * `issuer: files`: the operator's certificate and key, copied into the certificates directory (checked first by
 * the caller), and copied again whenever the source files change. Their renewal is the operator's business.
 */
export function filesSource(): CertificateSource {
  return {
    issuer: 'files',
    offline: true,
    reason(want, installed) {
      let source: { cert: string; key: string };
      try {
        source = readSource(want);
      } catch {
        // Unreadable now: obtain() says why, and the copy installed keeps serving.
        return 'source-changed';
      }
      return source.cert === installed.certPem && source.key === installed.keyPem ? undefined : 'source-changed';
    },
    obtain: (want) => Promise.resolve(readSource(want)),
  };
}
