/**
 * Kubernetes objects as plain data, and their one YAML form: deterministic (same objects → same bytes),
 * keys sorted with `apiVersion`, `kind`, `metadata` first, no nulls or undefined values.
 */
import { stringify } from 'yaml';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** A rendered object with a comment written above it (kubelet settings it needs, storage notes). */
export interface Rendered {
  object: KubeObject;
  comment?: string;
}

const FIRST_KEYS = ['apiVersion', 'kind', 'metadata'];

function keyOrder(a: string, b: string): number {
  const ia = FIRST_KEYS.indexOf(a);
  const ib = FIRST_KEYS.indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? FIRST_KEYS.length : ia) - (ib < 0 ? FIRST_KEYS.length : ib);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A copy with every mapping's keys in output order and nulls/undefined dropped. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== undefined && v !== null).map(canonical);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort(keyOrder)) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined && v !== null) out[key] = canonical(v);
    }
    return out;
  }
  return value;
}

/** One YAML document per object, separated by `---`. */
export function toYaml(items: readonly Rendered[]): string {
  return items
    .map(({ object, comment }) => {
      const head = comment ? comment.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n') + '\n' : '';
      return `---\n${head}${stringify(canonical(object), { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false })}`;
    })
    .join('');
}

/** Objects in apply order: namespaces and definitions first, workloads after what they mount. */
const KIND_ORDER = [
  'Namespace', 'CustomResourceDefinition', 'StorageClass', 'IPPool', 'ServiceAccount', 'Secret', 'ConfigMap', 'Certificate',
  'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'PersistentVolumeClaim', 'Service',
  'StatefulSet', 'Deployment', 'DaemonSet', 'PodDisruptionBudget', 'NetworkPolicy', 'VMPodScrape', 'ServiceMonitor',
];

export function sortObjects(items: Rendered[]): Rendered[] {
  const rank = (k: string) => {
    const i = KIND_ORDER.indexOf(k);
    return i < 0 ? KIND_ORDER.length : i;
  };
  return [...items].sort((a, b) => {
    const ka = a.object;
    const kb = b.object;
    return rank(ka.kind) - rank(kb.kind) || ka.kind.localeCompare(kb.kind) ||
      (ka.metadata.namespace ?? '').localeCompare(kb.metadata.namespace ?? '') || ka.metadata.name.localeCompare(kb.metadata.name);
  });
}
