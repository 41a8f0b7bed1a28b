/**
 * The kinds the renderer can produce, with how the API serves them. The operator lists each of these by
 * the platform label to find what it applied earlier; a kind missing here could never be pruned, so a
 * unit test renders every spec variant and checks that each rendered kind is listed.
 */
import { MAILPLATFORM_GROUP, MAILPLATFORM_PLURAL, MAILPLATFORM_VERSION } from '../crd.ts';
import type { KubeObject, ObjectMeta } from '../objects.ts';

export interface KindInfo {
  apiVersion: string;
  kind: string;
  /** Plural resource name, as in the URL. */
  plural: string;
  namespaced: boolean;
}

const kind = (apiVersion: string, k: string, plural: string, namespaced: boolean): KindInfo => ({ apiVersion, kind: k, plural, namespaced });

/** Every kind a rendered platform may contain, in apply order (the renderer's own order). */
export const OWNED_KINDS: readonly KindInfo[] = [
  kind('v1', 'Namespace', 'namespaces', false),
  kind('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'customresourcedefinitions', false),
  kind('storage.k8s.io/v1', 'StorageClass', 'storageclasses', false),
  kind('crd.projectcalico.org/v1', 'IPPool', 'ippools', false),
  kind('v1', 'ServiceAccount', 'serviceaccounts', true),
  kind('v1', 'Secret', 'secrets', true),
  kind('v1', 'ConfigMap', 'configmaps', true),
  kind('cert-manager.io/v1', 'Certificate', 'certificates', true),
  kind('rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles', false),
  kind('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  kind('rbac.authorization.k8s.io/v1', 'Role', 'roles', true),
  kind('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings', true),
  kind('v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true),
  kind('v1', 'Service', 'services', true),
  kind('apps/v1', 'StatefulSet', 'statefulsets', true),
  kind('apps/v1', 'Deployment', 'deployments', true),
  kind('apps/v1', 'DaemonSet', 'daemonsets', true),
  kind('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true),
  kind('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', true),
  kind('operator.victoriametrics.com/v1beta1', 'VMPodScrape', 'vmpodscrapes', true),
  kind('monitoring.coreos.com/v1', 'ServiceMonitor', 'servicemonitors', true),
];

export const MAILPLATFORM_KIND = kind(`${MAILPLATFORM_GROUP}/${MAILPLATFORM_VERSION}`, 'MailPlatform', MAILPLATFORM_PLURAL, true);

/** Other kinds the operator itself reads or writes. */
export const OPERATOR_KINDS: readonly KindInfo[] = [MAILPLATFORM_KIND, kind('coordination.k8s.io/v1', 'Lease', 'leases', true)];

/**
 * Never deleted by the operator, neither when no longer rendered nor when the platform goes:
 * a Namespace takes everything in it along (objects without the platform label too), a
 * PersistentVolumeClaim holds the mail, a CustomResourceDefinition takes every resource of its kind.
 */
export const RETAINED_KINDS: ReadonlySet<string> = new Set(['Namespace', 'PersistentVolumeClaim', 'CustomResourceDefinition']);

/** Workloads whose readiness makes the platform Ready. */
export const WORKLOAD_KINDS: ReadonlySet<string> = new Set(['StatefulSet', 'Deployment', 'DaemonSet']);

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export function knownKind(apiVersion: string, k: string): KindInfo | undefined {
  return [...OWNED_KINDS, ...OPERATOR_KINDS].find((i) => i.apiVersion === apiVersion && i.kind === k);
}

/** An object's identity across versions: group, kind, namespace, name. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  /** Set on objects read from the server: deletes are preconditioned on it. */
  uid?: string;
}

/** The metadata the server adds to what the renderer writes. */
export interface ServerMeta extends ObjectMeta {
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  deletionTimestamp?: string;
  finalizers?: string[];
  managedFields?: { manager?: string; operation?: string; subresource?: string }[];
}

export function serverMeta(obj: KubeObject): ServerMeta {
  return obj.metadata;
}

export function refOf(obj: KubeObject): ObjectRef {
  const { uid } = serverMeta(obj);
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
    name: obj.metadata.name,
    ...(typeof uid === 'string' ? { uid } : {}),
  };
}

export function identityOf(ref: Pick<ObjectRef, 'apiVersion' | 'kind' | 'namespace' | 'name'>): string {
  return `${groupOf(ref.apiVersion)}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

/** `StatefulSet mail/mailbox`, `IPPool demo-mailout-v4`: how messages name an object. */
export function describeRef(ref: Pick<ObjectRef, 'kind' | 'namespace' | 'name'>): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}
