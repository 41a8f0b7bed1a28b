/**
 * The Deployment of a mailfleet process that is no agent (the controller, the prober, the policy server): the
 * mailfleet image as its unprivileged user, DNS and placement as every pod has them, /livez and /readyz on its
 * http port, 30 s to stop (each drains in a few seconds), and only the Secret keys it reads mounted.
 */
import type { ContainerResources } from '../../spec/index.ts';
import { image, meta, selector, type RenderContext } from './context.ts';
import type { KubeObject } from './objects.ts';
import { dnsConfig, nonRootSecurity, placement, POD_ENV, resources, RUNTIME_DEFAULT_SECCOMP } from './pods.ts';

/** The user the mailfleet image runs as. */
export const MAILFLEET_UID = 65532;

export interface MailfleetDeploymentOptions {
  /** Deployment name. */
  name: string;
  serviceAccount: string;
  /** `app.kubernetes.io/component`, the container's name and the placement key. */
  component: string;
  replicas: number;
  /** The mailfleet subcommand, e.g. `probe`. */
  command: string;
  args: string[];
  /** Container ports; the `http` one serves /livez, /readyz and /metrics. */
  ports: { name: string; containerPort: number }[];
  resources: ContainerResources;
  readinessPeriodSeconds: number;
  /** Probe timeout; absent: Kubernetes' default (1 s). */
  probeTimeoutSeconds?: number;
  /** Whether the pod gets a service account token (only a process that talks to the API server does). */
  apiToken: boolean;
  /** Pod annotations (scrape hints, config digests); none rendered when empty. */
  annotations: Record<string, string>;
  volumeMounts: object[];
  volumes: object[];
}

export function mailfleetDeployment(ctx: RenderContext, o: MailfleetDeploymentOptions): KubeObject {
  const timeout = o.probeTimeoutSeconds === undefined ? {} : { timeoutSeconds: o.probeTimeoutSeconds };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(ctx, o.name, o.component),
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: selector(ctx, o.component) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: meta(ctx, o.name, o.component).labels, ...(Object.keys(o.annotations).length > 0 ? { annotations: o.annotations } : {}) },
        spec: {
          serviceAccountName: o.serviceAccount,
          ...(o.apiToken ? {} : { automountServiceAccountToken: false }),
          terminationGracePeriodSeconds: 30,
          dnsPolicy: 'ClusterFirst',
          dnsConfig: dnsConfig(),
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: MAILFLEET_UID, runAsGroup: MAILFLEET_UID, fsGroup: MAILFLEET_UID, seccompProfile: RUNTIME_DEFAULT_SECCOMP },
          ...placement(ctx, o.component),
          containers: [{
            name: o.component,
            image: image(ctx, 'mailfleet'),
            imagePullPolicy: ctx.spec.kubernetes.images.pullPolicy,
            command: ['mailfleet', o.command],
            args: o.args,
            env: POD_ENV,
            ports: o.ports.map((p) => ({ ...p, protocol: 'TCP' })),
            livenessProbe: { httpGet: { path: '/livez', port: 'http' }, periodSeconds: 10, ...timeout, failureThreshold: 3 },
            readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: o.readinessPeriodSeconds, ...timeout, failureThreshold: 2 },
            resources: resources(o.resources),
            securityContext: nonRootSecurity(true),
            volumeMounts: o.volumeMounts,
          }],
          volumes: o.volumes,
        },
      },
    },
  };
}
