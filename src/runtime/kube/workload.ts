/** Builders for the supporting (non-mail) workloads: monitoring, logs and DNS. */
import type { ContainerResources } from '../../spec/index.ts';
import { meta, selector, type RenderContext } from './context.ts';
import type { KubeObject, Rendered } from './objects.ts';
import { dnsConfig, placement, resources, RUNTIME_DEFAULT_SECCOMP } from './pods.ts';

export interface ContainerSpec {
  name: string;
  image: string;
  imagePullPolicy?: string;
  args?: string[];
  command?: string[];
  env?: object[];
  ports: { name: string; containerPort: number; protocol?: 'TCP' | 'UDP' }[];
  volumeMounts?: object[];
  resources: ContainerResources;
  securityContext: object;
  livenessProbe?: object;
  readinessProbe?: object;
}

export function container(c: ContainerSpec): object {
  return {
    ...c,
    ports: c.ports.map((p) => ({ protocol: 'TCP', ...p })),
    resources: resources(c.resources),
  };
}

export interface PodOptions {
  component: string;
  namespace?: string;
  containers: object[];
  volumes?: object[];
  serviceAccountName?: string;
  securityContext?: object;
  annotations?: Record<string, string>;
  /** Host network pods (node-local-dns) resolve through the node and are not spread. */
  hostNetwork?: boolean;
  extra?: Record<string, unknown>;
}

export function podTemplate(ctx: RenderContext, o: PodOptions): object {
  return {
    metadata: { labels: meta(ctx, o.component, o.component).labels, ...(o.annotations && Object.keys(o.annotations).length > 0 ? { annotations: o.annotations } : {}) },
    spec: {
      ...(o.serviceAccountName ? { serviceAccountName: o.serviceAccountName } : { automountServiceAccountToken: false }),
      enableServiceLinks: o.namespace === 'kube-system',
      ...(o.hostNetwork ? { hostNetwork: true, dnsPolicy: 'Default' } : { dnsPolicy: 'ClusterFirst', dnsConfig: dnsConfig(), ...placement(ctx, o.component) }),
      ...(o.securityContext ? { securityContext: o.securityContext } : {}),
      containers: o.containers,
      ...(o.volumes && o.volumes.length > 0 ? { volumes: o.volumes } : {}),
      ...o.extra,
    },
  };
}

export function workloadMeta(ctx: RenderContext, name: string, component: string, namespace?: string) {
  const m = meta(ctx, name, component);
  return namespace ? { ...m, namespace } : m;
}

export function deployment(ctx: RenderContext, name: string, replicas: number, pod: PodOptions): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: workloadMeta(ctx, name, pod.component, pod.namespace),
    spec: { replicas, selector: { matchLabels: selector(ctx, pod.component) }, template: podTemplate(ctx, pod) },
  };
}

export function statefulSet(ctx: RenderContext, name: string, pod: PodOptions, claim: { storageClass: string; size: string; mountName: string }): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: workloadMeta(ctx, name, pod.component, pod.namespace),
    spec: {
      replicas: 1,
      serviceName: name,
      selector: { matchLabels: selector(ctx, pod.component) },
      template: podTemplate(ctx, pod),
      volumeClaimTemplates: [{
        metadata: { name: claim.mountName, labels: meta(ctx, name, pod.component).labels },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: claim.storageClass, resources: { requests: { storage: claim.size } } },
      }],
    },
  };
}

export function daemonSet(ctx: RenderContext, name: string, pod: PodOptions): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: workloadMeta(ctx, name, pod.component, pod.namespace),
    spec: {
      selector: { matchLabels: selector(ctx, pod.component) },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } },
      template: podTemplate(ctx, pod),
    },
  };
}

export function service(ctx: RenderContext, name: string, component: string, ports: { name: string; port: number; protocol?: 'TCP' | 'UDP' }[], namespace?: string, headless = false): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: workloadMeta(ctx, name, component, namespace),
    spec: {
      ...(headless ? { clusterIP: 'None' } : { type: 'ClusterIP' }),
      selector: selector(ctx, component),
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: p.protocol ?? 'TCP' })),
    },
  };
}

export function configMap(ctx: RenderContext, name: string, component: string, data: Record<string, string>, namespace?: string, extraLabels: Record<string, string> = {}): KubeObject {
  const m = workloadMeta(ctx, name, component, namespace);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { ...m, labels: { ...m.labels, ...extraLabels } },
    ...(Object.keys(data).length > 0 ? { data } : {}),
  };
}

export function disruptionBudget(ctx: RenderContext, name: string, component: string, namespace?: string): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: workloadMeta(ctx, name, component, namespace),
    spec: { maxUnavailable: 1, selector: { matchLabels: selector(ctx, component) } },
  };
}

export const NON_ROOT = (uid: number) => ({ runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: RUNTIME_DEFAULT_SECCOMP });
export const LOCKED_DOWN = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true };

/** A ServiceAccount with a namespaced Role bound to it: the only RBAC shape the platform's workloads need. */
export function serviceAccountWithRole(ctx: RenderContext, name: string, component: string, rules: readonly object[]): Rendered[] {
  return [
    { object: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(ctx, name, component) } },
    { object: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(ctx, name, component), rules } },
    {
      object: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: meta(ctx, name, component),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [{ kind: 'ServiceAccount', name, namespace: ctx.namespace }],
      },
    },
  ];
}
