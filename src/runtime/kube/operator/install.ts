/**
 * What installing the operator takes: the MailPlatform CRD, a ServiceAccount, RBAC with exactly the verbs
 * the operator uses, and a two-replica Deployment (one leader by Lease). The installer decides the
 * operator's reach. By default it is namespaced: it reconciles the MailPlatforms of one watched namespace
 * into that namespace, through a Role there (and a Role for its own Lease where it runs); the watched
 * Namespace, with the Pod Security labels the mail pods need, is part of the install. Only with
 * `allowCrossNamespace` does it get a ClusterRole, reconcile every namespace, and apply what MailPlatforms
 * render elsewhere or cluster-wide (their Namespace, IPPools, node-local-dns in kube-system).
 */
import { OPERATOR_POD_LABELS } from '../context.ts';
import { CONTROLLER_RULES, MAILFLEET_UID } from '../controller.ts';
import { mailPlatformCrd } from '../crd.ts';
import type { KubeObject } from '../objects.ts';
import { RUNTIME_DEFAULT_SECCOMP } from '../pods.ts';
import { namespaceLabels } from '../render.ts';
import { groupOf, MAILPLATFORM_KIND, OWNED_KINDS, RETAINED_KINDS } from './kinds.ts';

export const OPERATOR_LEASE_NAME = 'mailfleet-operator';
export const OPERATOR_NAME = 'mailfleet-operator';
/** The namespace a namespaced operator reconciles when the installer names none: the spec's default. */
export const DEFAULT_WATCH_NAMESPACE = 'mailfleet';
const WATCHED = new Set(['StatefulSet', 'Deployment']);
const RBAC = 'rbac.authorization.k8s.io/v1';

export interface OperatorInstallOptions {
  /** Where the operator runs. Default `mailfleet-system`. */
  namespace?: string;
  /** Default `registry.mailfleet.test/mailfleet/mailfleet:0.1.0`, the renderer's default image. */
  image?: string;
  /**
   * Namespaced operator (the default): the namespace whose MailPlatforms it reconciles, into that same
   * namespace. Must differ from `namespace`: a platform's default-deny NetworkPolicy covers every pod of its
   * namespace. Default `mailfleet`.
   */
  watchNamespace?: string;
  /** Every namespace, rendering where each MailPlatform says, cluster-scoped objects included: a ClusterRole. Default false. */
  allowCrossNamespace?: boolean;
  /** Registries MailPlatforms may take images from besides the defaults (`mailfleet operator --allowed-registries`). */
  allowedRegistries?: readonly string[];
  /** cert-manager ClusterIssuers MailPlatforms may name (`mailfleet operator --allowed-cluster-issuers`). */
  allowedClusterIssuers?: readonly string[];
}

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/**
 * Per owned kind: list (actual state), create+patch (server-side apply creates or patches), delete
 * (prune; never for retained kinds), watch for the workloads, get for Secrets (the doveadm API key).
 * Plus the MailPlatforms, Leases, and what the rendered controller Role grants (RBAC lets nobody grant
 * what they do not hold), EndpointSlices for the backend sync among it. `namespaced`: only the
 * namespaced kinds, for a Role in the watched namespace.
 */
export function operatorRules(opts: { namespaced?: boolean } = {}): Rule[] {
  const byVerbs = new Map<string, Rule>();
  const grant = (group: string, resource: string, verbs: string[]) => {
    const id = `${group}|${verbs.join(',')}`;
    const rule = byVerbs.get(id) ?? { apiGroups: [group], resources: [], verbs };
    if (!rule.resources.includes(resource)) rule.resources.push(resource);
    byVerbs.set(id, rule);
  };
  for (const k of OWNED_KINDS) {
    if (opts.namespaced && !k.namespaced) continue;
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

/** A namespaced operator's own Lease, where it runs: nothing else there. */
export const OPERATOR_LEASE_RULES: Rule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [OPERATOR_LEASE_NAME], verbs: ['get', 'update'] },
];

export function renderOperatorInstall(opts: OperatorInstallOptions = {}): KubeObject[] {
  const namespace = opts.namespace ?? 'mailfleet-system';
  const image = opts.image ?? 'registry.mailfleet.test/mailfleet/mailfleet:0.1.0';
  const watch = opts.watchNamespace ?? DEFAULT_WATCH_NAMESPACE;
  const labels = { ...OPERATOR_POD_LABELS };
  const meta = (ns?: string, name = OPERATOR_NAME) => ({ name, ...(ns ? { namespace: ns } : {}), labels });
  const subjects = [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace }];
  const binding = (kind: 'RoleBinding' | 'ClusterRoleBinding', ns: string | undefined, role: string): KubeObject => ({
    apiVersion: RBAC,
    kind,
    metadata: meta(ns, role),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: kind === 'RoleBinding' ? 'Role' : 'ClusterRole', name: role },
    subjects,
  });
  const leaseRole = `${OPERATOR_NAME}-lease`;
  const access: KubeObject[] = opts.allowCrossNamespace
    ? [
      { apiVersion: RBAC, kind: 'ClusterRole', metadata: meta(), rules: operatorRules() },
      binding('ClusterRoleBinding', undefined, OPERATOR_NAME),
    ]
    : [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: watch, labels: namespaceLabels({ 'app.kubernetes.io/name': 'mailfleet', 'app.kubernetes.io/part-of': 'mailfleet' }) } },
      { apiVersion: RBAC, kind: 'Role', metadata: meta(watch), rules: operatorRules({ namespaced: true }) },
      binding('RoleBinding', watch, OPERATOR_NAME),
      { apiVersion: RBAC, kind: 'Role', metadata: meta(namespace, leaseRole), rules: OPERATOR_LEASE_RULES },
      binding('RoleBinding', namespace, leaseRole),
    ];
  const registries = opts.allowedRegistries?.length ? ['--allowed-registries', opts.allowedRegistries.join(',')] : [];
  const issuers = opts.allowedClusterIssuers?.length ? ['--allowed-cluster-issuers', opts.allowedClusterIssuers.join(',')] : [];
  const scopeArgs = opts.allowCrossNamespace ? ['--all-namespaces', '--allow-cross-namespace'] : ['--namespace', watch, '--lease-namespace', namespace];
  return [
    mailPlatformCrd(),
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(namespace) },
    ...access,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(namespace),
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: OPERATOR_NAME,
            // The two replicas (one leads, one waits on the Lease) on different nodes where there are two.
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: labels } }],
            securityContext: { runAsNonRoot: true, runAsUser: MAILFLEET_UID, runAsGroup: MAILFLEET_UID, seccompProfile: RUNTIME_DEFAULT_SECCOMP },
            containers: [{
              name: 'operator',
              image,
              command: ['mailfleet', 'operator'],
              args: [...scopeArgs, ...registries, ...issuers, '--listen', '0.0.0.0:8081'],
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
    // A node drain takes one replica at a time: the other takes the Lease over.
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(namespace), spec: { maxUnavailable: 1, selector: { matchLabels: labels } } },
  ];
}
