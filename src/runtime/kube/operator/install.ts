/**
 * What installing the operator takes: the MailPlatform CRD, a ServiceAccount, a ClusterRole with exactly
 * the verbs the operator uses, its binding, and a two-replica Deployment (one leader by Lease).
 */
import { OPERATOR_POD_LABELS } from '../context.ts';
import { CONTROLLER_RULES, MAILFLEET_UID } from '../controller.ts';
import { mailPlatformCrd } from '../crd.ts';
import type { KubeObject } from '../objects.ts';
import { groupOf, MAILPLATFORM_KIND, OWNED_KINDS, RETAINED_KINDS } from './kinds.ts';

export const OPERATOR_LEASE_NAME = 'mailfleet-operator';
export const OPERATOR_NAME = 'mailfleet-operator';
const WATCHED = new Set(['StatefulSet', 'Deployment']);

export interface OperatorInstallOptions {
  /** Where the operator runs. Default `mailfleet-system`. */
  namespace?: string;
  /** Default `registry.mailfleet.test/mailfleet/mailfleet:0.1.0`, the renderer's default image. */
  image?: string;
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/**
 * Per owned kind: list (actual state), create+patch (server-side apply creates or patches), delete
 * (prune; never for retained kinds), watch for the workloads, get for Secrets (the doveadm API key).
 * Plus the MailPlatforms, Leases, and what the rendered controller Role grants (RBAC lets nobody grant
 * what they do not hold), EndpointSlices for the backend sync among it.
 */
export function operatorRules(): Rule[] {
  const byVerbs = new Map<string, Rule>();
  const grant = (group: string, resource: string, verbs: string[]) => {
    const id = `${group}|${verbs.join(',')}`;
    const rule = byVerbs.get(id) ?? { apiGroups: [group], resources: [], verbs };
    if (!rule.resources.includes(resource)) rule.resources.push(resource);
    byVerbs.set(id, rule);
  };
  for (const k of OWNED_KINDS) {
    const verbs = ['create', 'list', 'patch'];
    if (!RETAINED_KINDS.has(k.kind)) verbs.push('delete');
    if (k.kind === 'Secret') verbs.push('get');
    if (WATCHED.has(k.kind)) verbs.push('watch');
    grant(groupOf(k.apiVersion), k.plural, verbs.sort());
  }
  const group = groupOf(MAILPLATFORM_KIND.apiVersion);
  grant(group, MAILPLATFORM_KIND.plural, ['get', 'list', 'patch', 'watch']);
  grant(group, `${MAILPLATFORM_KIND.plural}/status`, ['patch']);
  grant('coordination.k8s.io', 'leases', ['create', 'get', 'update']);
  for (const r of CONTROLLER_RULES) {
    if (r.apiGroups[0] === 'coordination.k8s.io') continue;
    for (const res of r.resources) grant(r.apiGroups[0] ?? '', res, [...r.verbs].sort());
  }
  return [...byVerbs.values()].map((r) => ({ ...r, resources: r.resources.sort() }));
}

export function renderOperatorInstall(opts: OperatorInstallOptions = {}): KubeObject[] {
  const namespace = opts.namespace ?? 'mailfleet-system';
  const image = opts.image ?? 'registry.mailfleet.test/mailfleet/mailfleet:0.1.0';
  const labels = { ...OPERATOR_POD_LABELS };
  const meta = (namespaced: boolean) => ({ name: OPERATOR_NAME, ...(namespaced ? { namespace } : {}), labels });
  return [
    mailPlatformCrd(),
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(true) },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(false), rules: operatorRules() },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace }],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(true),
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: OPERATOR_NAME,
            securityContext: { runAsNonRoot: true, runAsUser: MAILFLEET_UID, runAsGroup: MAILFLEET_UID, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: 'operator',
              image,
              command: ['mailfleet', 'operator'],
              args: ['--all-namespaces', '--listen', '0.0.0.0:8081'],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              ],
              ports: [{ name: 'http', containerPort: 8081, protocol: 'TCP' }],
              livenessProbe: { httpGet: { path: '/livez', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, failureThreshold: 2 },
              resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, runAsNonRoot: true },
            }],
          },
        },
      },
    },
  ];
}
