/**
 * Server certificates in Kubernetes: a cert-manager `Certificate` per `spec.tls.certificates[]` entry that
 * has no Secret of its own, and each certificate's Secret mounted into the pods that serve TLS. The
 * Secret is a kubernetes.io/tls Secret (`tls.crt`, `tls.key`), mounted as a directory at
 * `POD_PATHS.tls/<name>`: kubelet swaps a renewed Secret in through the directory's `..data` symlink,
 * and the agent reloads its daemon when it sees the swap, so renewal needs no restart.
 */
import { POD_PATHS } from '../../agent/index.ts';
import { MailfleetError } from '../../errors.ts';
import type { PlatformSpec } from '../../spec/index.ts';
import { meta, replicasOf, type MailWorkload, type RenderContext } from './context.ts';
import type { KubeObject, Rendered } from './objects.ts';

/** The workloads with client-facing TLS listeners: STARTTLS on 25 (mta), 587 and 465 (msa), IMAP and POP3 (proxy). */
export const TLS_WORKLOADS: readonly MailWorkload[] = ['mta', 'msa', 'proxy'];

/** The keys of a kubernetes.io/tls Secret the daemons read; `ca.crt`, when cert-manager writes one, is not mounted. */
export const TLS_SECRET_KEYS = ['tls.crt', 'tls.key'] as const;

/** Kubernetes refuses a Certificate whose renewal window is under 5 minutes (cert-manager's minimum). */
const MIN_RENEW_BEFORE_MINUTES = 5;

type CertificateSpec = PlatformSpec['tls']['certificates'][number];

/** Where one certificate comes from in Kubernetes, and where it is mounted. */
export interface CertificateSource {
  /** Index in `spec.tls.certificates` (0 is the default certificate). */
  index: number;
  name: string;
  hosts: readonly string[];
  /** The kubernetes.io/tls Secret holding it. */
  secretName: string;
  /** The spec field that names the Secret, when it is the user's own; undefined when cert-manager issues it. */
  existingSecretField?: string;
  /** The Secret volume in the pod (volume names are DNS labels of at most 63 characters: by index, not by name). */
  volume: string;
  /** `POD_PATHS.tls/<name>`: the directory holding `tls.crt` and `tls.key`. */
  mountPath: string;
}

export const certificateName = (ctx: RenderContext, name: string): string => `${ctx.platform}-tls-${name}`;

/** Whether any workload that serves TLS runs: without one no certificate is needed. */
export function servesTls(ctx: RenderContext): boolean {
  return TLS_WORKLOADS.some((w) => replicasOf(ctx.spec, w) > 0);
}

function sourceOf(ctx: RenderContext, c: CertificateSpec, index: number): CertificateSource {
  const own = c.existingSecret;
  const platformDefault = index === 0 ? ctx.spec.tls.kubernetes.existingSecret : undefined;
  if (own !== undefined && platformDefault !== undefined && own !== platformDefault) {
    throw new MailfleetError('SPEC_INVALID', `${ctx.platform}: two Secrets are named for the default certificate`, {
      details: [`spec.tls.kubernetes.existingSecret: ${JSON.stringify(platformDefault)} differs from spec.tls.certificates[0].existingSecret ${JSON.stringify(own)}; both name the default certificate's Secret, give one`],
    });
  }
  const existing = own ?? platformDefault;
  return {
    index,
    name: c.name,
    hosts: c.hosts,
    secretName: existing ?? certificateName(ctx, c.name),
    ...(existing === undefined ? {} : { existingSecretField: own !== undefined ? `spec.tls.certificates[${index}].existingSecret` : 'spec.tls.kubernetes.existingSecret' }),
    volume: `tls-${index}`,
    mountPath: `${POD_PATHS.tls}/${c.name}`,
  };
}

/** Every certificate of the spec with its Secret; the first is the default. */
export function certificateSources(ctx: RenderContext): CertificateSource[] {
  return ctx.spec.tls.certificates.map((c, i) => sourceOf(ctx, c, i));
}

/** A Go duration (`712h48m`) of whole minutes, as cert-manager reads `duration` and `renewBefore`. */
export function goDuration(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${h > 0 ? `${h}h` : ''}${m > 0 || h === 0 ? `${m}m` : ''}`;
}

/**
 * `duration` from `spec.tls.validityDays`; `renewBefore` is the share of the lifetime left once
 * `spec.tls.renewAfter` of it has passed, in whole minutes, always shorter than the lifetime (cert-manager
 * refuses a renewal window as long as the certificate) and never under cert-manager's 5 minutes.
 */
export function certificateLifetime(tls: PlatformSpec['tls']): { duration: string; renewBefore: string } {
  const lifetime = tls.validityDays * 24 * 60;
  const remaining = Math.min(lifetime - 1, Math.max(MIN_RENEW_BEFORE_MINUTES, Math.round(lifetime * (1 - tls.renewAfter))));
  return { duration: goDuration(lifetime), renewBefore: goDuration(remaining) };
}

function privateKey(tls: PlatformSpec['tls']) {
  return tls.keyType === 'rsa-2048'
    ? { algorithm: 'RSA', size: 2048, rotationPolicy: 'Always' }
    : { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' };
}

/** A server certificate's key usages: an ECDSA key signs only; an RSA key may also be used for key exchange. */
function usages(tls: PlatformSpec['tls']): string[] {
  return tls.keyType === 'rsa-2048' ? ['digital signature', 'key encipherment', 'server auth'] : ['digital signature', 'server auth'];
}

function missingIssuer(ctx: RenderContext, needed: readonly CertificateSource[]): MailfleetError {
  return new MailfleetError('SPEC_INVALID', `${ctx.platform}: no cert-manager issuer for the platform's certificates`, {
    details: needed.map((s) => `spec.tls.kubernetes.issuerRef: required to render the cert-manager Certificate ${certificateName(ctx, s.name)} `
      + `for spec.tls.certificates[${s.index}] (${s.name}); or name a kubernetes.io/tls Secret of your own in spec.tls.certificates[${s.index}].existingSecret`
      + `${s.index === 0 ? ' or spec.tls.kubernetes.existingSecret' : ''}`),
  });
}

function certificate(ctx: RenderContext, s: CertificateSource, issuerRef: NonNullable<PlatformSpec['tls']['kubernetes']['issuerRef']>): Rendered {
  const { tls } = ctx.spec;
  const mountedIn = TLS_WORKLOADS.filter((w) => replicasOf(ctx.spec, w) > 0).join(', ');
  const object: KubeObject = {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: meta(ctx, certificateName(ctx, s.name), 'tls'),
    spec: {
      secretName: s.secretName,
      dnsNames: [...s.hosts],
      ...certificateLifetime(tls),
      privateKey: privateKey(tls),
      usages: usages(tls),
      issuerRef: { name: issuerRef.name, kind: issuerRef.kind, group: issuerRef.group },
    },
  };
  return {
    comment: `${s.index === 0 ? 'The default certificate' : 'A certificate'} (${s.name}): cert-manager issues it into the Secret ${s.secretName},\n`
      + `mounted at ${s.mountPath} in ${mountedIn}. A renewed Secret reaches the running pods\n`
      + 'through the volume\'s ..data symlink swap, and their agent reloads the daemon: no restart.',
    object,
  };
}

/**
 * One cert-manager Certificate for each certificate without a Secret of its own. Throws SPEC_INVALID naming
 * `spec.tls.kubernetes.issuerRef` when one is needed and none is given.
 */
export function renderCertificates(ctx: RenderContext): Rendered[] {
  if (!servesTls(ctx)) return [];
  const needed = certificateSources(ctx).filter((s) => s.existingSecretField === undefined);
  if (needed.length === 0) return [];
  const { issuerRef } = ctx.spec.tls.kubernetes;
  if (issuerRef === undefined) throw missingIssuer(ctx, needed);
  return needed.map((s) => certificate(ctx, s, issuerRef));
}

/**
 * Each certificate's Secret as a read-only directory (never `subPath`, which kubelet never updates) with
 * only the certificate and key, readable by root alone: the daemons that read them start as root.
 */
export function tlsVolumes(ctx: RenderContext, w: MailWorkload): { volumes: object[]; mounts: object[] } {
  if (!TLS_WORKLOADS.includes(w)) return { volumes: [], mounts: [] };
  const sources = certificateSources(ctx);
  return {
    volumes: sources.map((s) => ({
      name: s.volume,
      secret: { secretName: s.secretName, items: TLS_SECRET_KEYS.map((key) => ({ key, path: key })), defaultMode: 0o400 },
    })),
    mounts: sources.map((s) => ({ name: s.volume, mountPath: s.mountPath, readOnly: true })),
  };
}
