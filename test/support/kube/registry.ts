/**
 * Which resources the API server serves, and the discovery documents (`/api`, `/apis`, ...) that
 * describe them. Storage is keyed by group and plural, so every served version of a resource
 * shares one set of objects (no conversion: only `apiVersion` changes).
 */
import type { JsonObject } from './json-value.ts';

export interface ResourceType {
  /** API group; `''` for the core group. */
  readonly group: string;
  readonly version: string;
  /** Plural, as in the URL: `endpointslices`. */
  readonly resource: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Serves `.../NAME/status`; writes to the main resource then leave `.status` alone. Default false. */
  readonly statusSubresource?: boolean;
  /** A custom resource: list items keep `apiVersion`/`kind` (built-in lists drop them). Default false. */
  readonly custom?: boolean;
  /** Field selector paths besides `metadata.name` and `metadata.namespace`. Default none. */
  readonly selectableFields?: readonly string[];
  readonly shortNames?: readonly string[];
}

export const RESOURCE_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function rt(group: string, version: string, resource: string, kind: string, namespaced: boolean, extra: Partial<ResourceType> = {}): ResourceType {
  return { group, version, resource, kind, namespaced, ...extra };
}

const STATUS = { statusSubresource: true };

/** Served from start-up; add more with `register`. */
export const DEFAULT_RESOURCES: readonly ResourceType[] = [
  rt('', 'v1', 'configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  rt('', 'v1', 'secrets', 'Secret', true, { selectableFields: ['type'] }),
  rt('', 'v1', 'services', 'Service', true, { ...STATUS, shortNames: ['svc'] }),
  rt('', 'v1', 'serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'] }),
  rt('', 'v1', 'pods', 'Pod', true, { ...STATUS, shortNames: ['po'], selectableFields: ['spec.nodeName', 'status.phase'] }),
  rt('', 'v1', 'namespaces', 'Namespace', false, { ...STATUS, shortNames: ['ns'], selectableFields: ['status.phase'] }),
  rt('', 'v1', 'endpoints', 'Endpoints', true, { shortNames: ['ep'] }),
  rt('', 'v1', 'events', 'Event', true, { shortNames: ['ev'] }),
  rt('', 'v1', 'nodes', 'Node', false, { ...STATUS, shortNames: ['no'] }),
  rt('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true, { ...STATUS, shortNames: ['pvc'] }),
  rt('', 'v1', 'persistentvolumes', 'PersistentVolume', false, { ...STATUS, shortNames: ['pv'] }),
  rt('apps', 'v1', 'deployments', 'Deployment', true, { ...STATUS, shortNames: ['deploy'] }),
  rt('apps', 'v1', 'statefulsets', 'StatefulSet', true, { ...STATUS, shortNames: ['sts'] }),
  rt('apps', 'v1', 'daemonsets', 'DaemonSet', true, { ...STATUS, shortNames: ['ds'] }),
  rt('apps', 'v1', 'replicasets', 'ReplicaSet', true, { ...STATUS, shortNames: ['rs'] }),
  rt('batch', 'v1', 'jobs', 'Job', true, STATUS),
  rt('batch', 'v1', 'cronjobs', 'CronJob', true, { ...STATUS, shortNames: ['cj'] }),
  rt('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  rt('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  rt('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true, { ...STATUS, shortNames: ['pdb'] }),
  rt('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true, { shortNames: ['netpol'] }),
  rt('networking.k8s.io', 'v1', 'ingresses', 'Ingress', true, { ...STATUS, shortNames: ['ing'] }),
  rt('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
  rt('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true),
  rt('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  rt('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  rt('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false, { ...STATUS, shortNames: ['crd', 'crds'] }),
  rt('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false, { shortNames: ['sc'] }),
];

export function apiVersionOf(t: Pick<ResourceType, 'group' | 'version'>): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/** Where a resource's objects live, whatever the version: `apps/deployments`. */
export function storageKey(t: Pick<ResourceType, 'group' | 'resource'>): string {
  return `${t.group}/${t.resource}`;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export interface Registry {
  register(t: ResourceType): void;
  unregister(group: string, resource: string): void;
  byResource(group: string, version: string, resource: string): ResourceType | undefined;
  byKind(apiVersion: string, kind: string): ResourceType | undefined;
  /** Any served version of a group/resource (used for storage-level work such as garbage collection). */
  byStorageKey(key: string): ResourceType | undefined;
  all(): ResourceType[];
  apiVersions(serverAddress: string): JsonObject;
  apiGroupList(): JsonObject;
  apiGroup(group: string): JsonObject | undefined;
  apiResourceList(group: string, version: string): JsonObject | undefined;
}

export function createRegistry(initial: readonly ResourceType[] = DEFAULT_RESOURCES): Registry {
  const types = new Map<string, ResourceType>();
  const id = (group: string, version: string, resource: string) => `${group}/${version}/${resource}`;

  const versionsOf = (group: string) => [...new Set([...types.values()].filter((t) => t.group === group).map((t) => t.version))];
  const groupDoc = (group: string): JsonObject => {
    const versions = versionsOf(group).map((version) => ({ groupVersion: `${group}/${version}`, version }));
    return { name: group, versions, preferredVersion: versions[0] ?? null };
  };

  const registry: Registry = {
    register(t) {
      types.set(id(t.group, t.version, t.resource), Object.freeze({ ...t }));
    },
    unregister(group, resource) {
      for (const [k, t] of types) if (t.group === group && t.resource === resource) types.delete(k);
    },
    byResource: (group, version, resource) => types.get(id(group, version, resource)),
    byKind(apiVersion, kind) {
      const { group, version } = splitApiVersion(apiVersion);
      return [...types.values()].find((t) => t.group === group && t.version === version && t.kind === kind);
    },
    byStorageKey: (key) => [...types.values()].find((t) => storageKey(t) === key),
    all: () => [...types.values()],
    apiVersions: (serverAddress) => ({
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    }),
    apiGroupList: () => ({
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...new Set([...types.values()].map((t) => t.group))].filter((g) => g !== '').sort().map(groupDoc),
    }),
    apiGroup: (group) => (versionsOf(group).length > 0 && group !== '' ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group) } : undefined),
    apiResourceList(group, version) {
      const served = [...types.values()].filter((t) => t.group === group && t.version === version);
      if (served.length === 0) return undefined;
      const resources: JsonObject[] = [];
      for (const t of served.sort((a, b) => a.resource.localeCompare(b.resource))) {
        resources.push({
          name: t.resource,
          singularName: t.kind.toLowerCase(),
          namespaced: t.namespaced,
          kind: t.kind,
          verbs: RESOURCE_VERBS,
          ...(t.shortNames ? { shortNames: [...t.shortNames] } : {}),
        });
        if (t.statusSubresource) {
          resources.push({ name: `${t.resource}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
        }
      }
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
    },
  };
  for (const t of initial) registry.register(t);
  return registry;
}

/** The resource types a CustomResourceDefinition object declares: one per served version. */
export function resourceTypesOfCrd(crd: JsonObject): ResourceType[] {
  const spec = crd.spec as JsonObject | undefined;
  const names = spec?.names as JsonObject | undefined;
  if (!spec || !names || typeof spec.group !== 'string' || typeof names.plural !== 'string' || typeof names.kind !== 'string') return [];
  const versions = Array.isArray(spec.versions) ? (spec.versions as JsonObject[]) : [];
  return versions
    .filter((v) => typeof v.name === 'string' && v.served !== false)
    .map((v) => ({
      group: spec.group as string,
      version: v.name as string,
      resource: names.plural as string,
      kind: names.kind as string,
      namespaced: spec.scope !== 'Cluster',
      statusSubresource: Boolean((v.subresources as JsonObject | undefined)?.status),
      custom: true,
      ...(Array.isArray(names.shortNames) ? { shortNames: names.shortNames as string[] } : {}),
    }));
}
