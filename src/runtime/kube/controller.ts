/**
 * The backend-sync controller: a Deployment (2 replicas, one leader by Lease) that watches the
 * EndpointSlices of the `mailbox` Service and keeps the director ring's backend list current,
 * with the least RBAC that needs.
 */
import { POD_PATHS } from '../../agent/index.ts';
import { SECRET_KEYS } from '../../config/index.ts';
import { secretName } from './configs.ts';
import { meta, selector, type RenderContext } from './context.ts';
import { KUBE_API, networkPolicy, type Flow } from './network.ts';
import { mailfleetDeployment } from './mailfleet-deployment.ts';
import type { Rendered } from './objects.ts';
import { serviceAccountWithRole } from './workload.ts';
import { scrapeAnnotations } from './scrape.ts';

export const CONTROLLER = 'controller';
export const LEASE_NAME = 'mailfleet-backend-sync';
export { MAILFLEET_UID } from './mailfleet-deployment.ts';

export function controllerName(ctx: RenderContext): string {
  return `${ctx.platform}-${CONTROLLER}`;
}

/** Least privilege: read EndpointSlices, hold one named Lease, write Events; nothing cluster-wide. */
export const CONTROLLER_RULES = [
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [LEASE_NAME], verbs: ['get', 'update'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

export function renderController(ctx: RenderContext): Rendered[] {
  if (ctx.spec.roles.proxy.replicas === 0 || ctx.spec.roles.mailbox.replicas === 0) return [];
  const name = controllerName(ctx);
  const { ports } = ctx.spec;
  const directors = Array.from({ length: ctx.spec.roles.proxy.replicas }, (_, i) =>
    `https://proxy-${i}.proxy.${ctx.namespace}.svc.${ctx.spec.kubernetes.clusterDomain}:${ports.doveadm}`);
  const podAnnotations = scrapeAnnotations(ctx);
  const out: Rendered[] = [
    ...serviceAccountWithRole(ctx, name, CONTROLLER, CONTROLLER_RULES),
    {
      object: mailfleetDeployment(ctx, {
        name,
        serviceAccount: name,
        component: CONTROLLER,
        replicas: 2,
        command: 'controller',
        args: [
          '--source', 'kube',
          '--namespace', ctx.namespace,
          '--service', 'mailbox',
          '--lease', LEASE_NAME,
          '--identity', '$(POD_NAME)',
          '--director', directors.join(','),
          '--api-key-file', `${POD_PATHS.secrets}/${SECRET_KEYS.doveadmApiKey}`,
          '--vhost-count', String(ctx.spec.director.vhostCount),
          '--ring-port', String(ports.director),
          '--resync', String(ctx.spec.director.resyncSeconds),
          '--listen', `0.0.0.0:${ports.http}`,
        ],
        ports: [{ name: 'http', containerPort: ports.http }],
        resources: ctx.spec.kubernetes.resources.controller,
        readinessPeriodSeconds: 5,
        // It watches EndpointSlices and holds the Lease.
        apiToken: true,
        annotations: podAnnotations,
        volumeMounts: [{ name: 'secrets', mountPath: POD_PATHS.secrets, readOnly: true }],
        volumes: [{ name: 'secrets', secret: { secretName: secretName(ctx), items: [{ key: SECRET_KEYS.doveadmApiKey, path: SECRET_KEYS.doveadmApiKey }], defaultMode: 0o440 } }],
      }),
    },
    {
      object: {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: meta(ctx, name, CONTROLLER),
        spec: { maxUnavailable: 1, selector: { matchLabels: selector(ctx, CONTROLLER) } },
      },
    },
  ];
  if (ctx.spec.kubernetes.networkPolicies) {
    const scrape: Flow = { peers: [{ component: 'victoriametrics' }, { monitoring: true }], ports: ['http'] };
    out.push(networkPolicy(ctx, CONTROLLER, [scrape], [KUBE_API, { peers: [{ component: 'proxy' }], ports: ['doveadm'] }]));
  }
  return out;
}
