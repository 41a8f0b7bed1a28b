/**
 * The installer's opt-ins that `mailfleet operator` enforces and `mailfleet render operator` writes into the
 * operator's arguments: foreign image registries and cert-manager ClusterIssuers a MailPlatform may name.
 */
import { NAME_PATTERN } from '../spec/index.ts';
import { usageError } from './args.ts';

const REGISTRY = /^[a-z0-9.:/_-]+$/;

/** `--allowed-registries r1,r2`: registry prefixes, as `spec.kubernetes.images.registry` is written. */
export function allowedRegistries(raw: string | undefined, usage: string): string[] {
  if (raw === undefined || raw.trim() === '') return [];
  const list = raw.split(',').map((r) => r.trim().replace(/\/+$/, ''));
  const bad = list.filter((r) => !REGISTRY.test(r));
  if (bad.length > 0) throw usageError(usage, `--allowed-registries: not a registry: ${bad.map((r) => JSON.stringify(r)).join(', ')}`);
  return list;
}

const ISSUER_NAME = new RegExp(NAME_PATTERN);

/** `--allowed-cluster-issuers a,b`: names of cert-manager ClusterIssuers, as `spec.tls.kubernetes.issuerRef.name` is written. */
export function allowedClusterIssuers(raw: string | undefined, usage: string): string[] {
  if (raw === undefined || raw.trim() === '') return [];
  const list = raw.split(',').map((n) => n.trim());
  const bad = list.filter((n) => !ISSUER_NAME.test(n));
  if (bad.length > 0) throw usageError(usage, `--allowed-cluster-issuers: not a ClusterIssuer name: ${bad.map((n) => JSON.stringify(n)).join(', ')}`);
  return list;
}

