/**
 * What the operator lets the author of a MailPlatform do. The operator trusts its installer, not the
 * authors of MailPlatform objects: by default a platform renders into the MailPlatform's own namespace
 * only, takes its images from the release's default registries only, has its certificates signed by an
 * Issuer of its own namespace only, and nothing cluster-scoped or in another namespace is applied for it
 * (those objects are left to the installer). Rendering elsewhere, other registries and ClusterIssuers are
 * the installer's opt-in (`mailfleet operator --allow-cross-namespace`, `--allowed-registries`,
 * `--allowed-cluster-issuers`), never the MailPlatform's. Pure: nothing here talks to the API server.
 */
import { PLATFORM_SCHEMA, type MailPlatform } from '../../../spec/index.ts';
import type { KubeObject } from '../objects.ts';
import { describeRef, refOf } from './kinds.ts';

export interface OperatorScope {
  /**
   * MailPlatforms may render into the namespace `spec.kubernetes.namespace` names (default `mailfleet`),
   * and what is cluster-scoped (the Namespace, IPPools) or lives elsewhere (node-local-dns in kube-system)
   * is applied too. Needs the ClusterRole of `mailfleet render operator --allow-cross-namespace`. Default false.
   */
  allowCrossNamespace: boolean;
  /**
   * Registries a MailPlatform may take images from besides the release's defaults: each a prefix, compared
   * as written (`registry.example.net/mail` allows `registry.example.net/mail` and what is under
   * `registry.example.net/mail/`). Default none.
   */
  allowedRegistries: readonly string[];
  /**
   * cert-manager ClusterIssuers a MailPlatform may name in `spec.tls.kubernetes.issuerRef`. A ClusterIssuer
   * signs for every namespace, and the operator creates the Certificates with its own rights: naming one is
   * the installer's opt-in (`--allowed-cluster-issuers`). A namespaced Issuer, which lives in the platform's
   * own namespace, needs none. Default none.
   */
  allowedClusterIssuers?: readonly string[];
}

export const NAMESPACED_SCOPE: OperatorScope = Object.freeze({ allowCrossNamespace: false, allowedRegistries: Object.freeze([]), allowedClusterIssuers: Object.freeze([]) });

type SchemaNode = { default?: unknown; properties?: Record<string, SchemaNode> };
const KUBERNETES = (PLATFORM_SCHEMA.properties.spec as SchemaNode).properties?.kubernetes;
const DEFAULT_REGISTRY = KUBERNETES?.properties?.images?.properties?.registry?.default as string;
const DEFAULT_THIRD_PARTY: Record<string, unknown> = Object.fromEntries(
  Object.entries(KUBERNETES?.properties?.thirdPartyImages?.properties ?? {}).map(([k, v]) => [k, v.default]),
);

const under = (value: string, prefix: string) => value.startsWith(`${prefix.replace(/\/+$/, '')}/`);

/**
 * Why this MailPlatform may not be rendered under `scope`, each problem by field path; [] when it may.
 * `rawSpec` is the resource's spec as written (a namespace left out is not a namespace asked for).
 */
export function scopeProblems(rawSpec: unknown, crNamespace: string, doc: MailPlatform, scope: OperatorScope): string[] {
  const problems: string[] = [];
  const asked = ((rawSpec as { kubernetes?: { namespace?: unknown } } | undefined)?.kubernetes)?.namespace;
  if (!scope.allowCrossNamespace && asked !== undefined && asked !== crNamespace) {
    problems.push(`spec.kubernetes.namespace: ${JSON.stringify(asked)} is not the MailPlatform's namespace ${JSON.stringify(crNamespace)}; `
      + 'rendering into another namespace is the operator installer\'s opt-in (--allow-cross-namespace), leave the field out');
  }
  const allowed = (value: string, isDefault: boolean, registryItself: boolean) =>
    isDefault || scope.allowedRegistries.some((p) => under(value, p) || (registryItself && value === p.replace(/\/+$/, '')));
  const { registry } = doc.spec.kubernetes.images;
  if (!allowed(registry, registry === DEFAULT_REGISTRY, true)) {
    problems.push(`spec.kubernetes.images.registry: ${JSON.stringify(registry)} is not a registry the operator's installer allows (${describeAllowed(scope)})`);
  }
  for (const [name, image] of Object.entries(doc.spec.kubernetes.thirdPartyImages)) {
    if (!allowed(image, image === DEFAULT_THIRD_PARTY[name], false)) {
      problems.push(`spec.kubernetes.thirdPartyImages.${name}: ${JSON.stringify(image)} is not from a registry the operator's installer allows (${describeAllowed(scope)})`);
    }
  }
  const issuer = doc.spec.tls.kubernetes.issuerRef;
  const clusterIssuers = scope.allowedClusterIssuers ?? [];
  if (issuer?.kind === 'ClusterIssuer' && !clusterIssuers.includes(issuer.name)) {
    problems.push(`spec.tls.kubernetes.issuerRef: ClusterIssuer ${JSON.stringify(issuer.name)} is not one the operator's installer allows (${
      clusterIssuers.length > 0 ? clusterIssuers.join(', ') : 'none; --allowed-cluster-issuers adds them'}); an Issuer in the MailPlatform's namespace needs no allowance`);
  }
  return problems;
}

function describeAllowed(scope: OperatorScope): string {
  return scope.allowedRegistries.length > 0 ? `the defaults and ${scope.allowedRegistries.join(', ')}` : 'the defaults only; --allowed-registries adds more';
}

/** The spec as rendered under `scope`: in its own namespace unless cross-namespace rendering is allowed. */
export function scopedSpec(rawSpec: unknown, crNamespace: string, scope: OperatorScope): unknown {
  if (scope.allowCrossNamespace) return rawSpec;
  const spec = (rawSpec ?? {}) as { kubernetes?: Record<string, unknown> };
  return { ...spec, kubernetes: { ...(spec.kubernetes ?? {}), namespace: crNamespace } };
}

/**
 * The rendered objects the operator applies under `scope`, and the ones it leaves to the installer: a
 * namespaced operator applies only what lives in the platform's namespace.
 */
export function splitByScope(desired: readonly KubeObject[], namespace: string, scope: OperatorScope): { apply: KubeObject[]; leftToInstaller: string[] } {
  if (scope.allowCrossNamespace) return { apply: [...desired], leftToInstaller: [] };
  const apply: KubeObject[] = [];
  const leftToInstaller: string[] = [];
  for (const o of desired) {
    if (o.metadata.namespace === namespace) apply.push(o);
    else leftToInstaller.push(describeRef(refOf(o)));
  }
  return { apply, leftToInstaller };
}
