/**
 * The DNS layer: a node-local-dns cache on every node (pods ask it at the link-local address, so a
 * lookup never leaves the node on a cache hit) and an unbound upstream with raised TCP limits for the
 * MX/A/TLSA/DNSBL lookups mail does. Both live in kube-system: node-local-dns finds its upstreams
 * through Service environment variables, which Kubernetes only injects within one namespace.
 */
import { NODE_LOCAL_DNS_COREFILE, NODE_LOCAL_DNS_HEALTH_PORT, NODE_LOCAL_DNS_METRICS_PORT, nodeLocalDnsCorefile, UNBOUND_CONF, unboundFiles } from '../../config/index.ts';
import { quantityValue } from '../../spec/index.ts';
import { image, meta, type RenderContext } from './context.ts';
import type { Rendered } from './objects.ts';
import { RUNTIME_DEFAULT_SECCOMP } from './pods.ts';
import { configMap, container, daemonSet, deployment, disruptionBudget, LOCKED_DOWN, NON_ROOT } from './workload.ts';

export const DNS_NAMESPACE = 'kube-system';
/** unbound listens unprivileged; its Service answers on 53. */
const UNBOUND_PORT = 5353;
const UNBOUND_UID = 65534;
/** What unbound holds besides its caches (threads, buffers, the code). */
const UNBOUND_BASE_MIB = 64;

/**
 * unbound's message cache, in MiB, from its container's memory limit: the RRset cache is twice it, and unbound's
 * allocations run to two or three times the configured cache sizes, so the three take a ninth each of what the
 * base leaves (512Mi: 49 + 98 MiB configured).
 */
export function unboundMsgCacheMiB(memoryLimit: string): number {
  const limitMiB = quantityValue(memoryLimit) / 1024 ** 2;
  return Math.max(4, Math.floor((limitMiB - UNBOUND_BASE_MIB) / 9));
}

export const unboundName = (ctx: RenderContext): string => `${ctx.platform}-unbound`;
const envName = (service: string) => `${service.toUpperCase().replace(/-/g, '_')}_SERVICE_HOST`;

function unbound(ctx: RenderContext): Rendered[] {
  const name = unboundName(ctx);
  const k = ctx.spec.kubernetes;
  const conf = unboundFiles(ctx.spec, {
    listen: '0.0.0.0',
    port: UNBOUND_PORT,
    allow: [...k.podNetworks, ...k.nodeNetworks],
    msgCacheMiB: unboundMsgCacheMiB(k.resources.unbound.limits.memory),
  });
  const dnsPorts = [{ name: 'dns', containerPort: UNBOUND_PORT, protocol: 'UDP' as const }, { name: 'dns-tcp', containerPort: UNBOUND_PORT, protocol: 'TCP' as const }];
  return [
    { object: configMap(ctx, name, 'unbound', conf, DNS_NAMESPACE) },
    {
      object: deployment(ctx, name, 2, {
        component: 'unbound',
        namespace: DNS_NAMESPACE,
        securityContext: NON_ROOT(UNBOUND_UID),
        containers: [container({
          name: 'unbound',
          image: image(ctx, 'mailfleet-unbound'),
          args: ['-d', '-c', `/etc/unbound/mailfleet/${UNBOUND_CONF}`],
          ports: dnsPorts,
          resources: k.resources.unbound,
          securityContext: LOCKED_DOWN,
          volumeMounts: [{ name: 'config', mountPath: '/etc/unbound/mailfleet', readOnly: true }],
          readinessProbe: { tcpSocket: { port: 'dns-tcp' }, periodSeconds: 10 },
          livenessProbe: { tcpSocket: { port: 'dns-tcp' }, periodSeconds: 10, failureThreshold: 3 },
        })],
        volumes: [{ name: 'config', configMap: { name } }],
      }),
    },
    {
      object: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { ...meta(ctx, name, 'unbound'), namespace: DNS_NAMESPACE },
        spec: {
          type: 'ClusterIP',
          selector: { 'app.kubernetes.io/instance': ctx.platform, 'app.kubernetes.io/component': 'unbound' },
          ports: [{ name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' }, { name: 'dns-tcp', port: 53, targetPort: 'dns-tcp', protocol: 'TCP' }],
        },
      },
    },
    { object: disruptionBudget(ctx, name, 'unbound', DNS_NAMESPACE) },
  ];
}

function nodeLocalDns(ctx: RenderContext): Rendered[] {
  const name = `${ctx.platform}-node-local-dns`;
  const k = ctx.spec.kubernetes;
  const corefile = nodeLocalDnsCorefile(ctx.spec, { upstreamService: `{$${envName(unboundName(ctx))}}` });
  const upstream = `${ctx.platform}-kube-dns-upstream`;
  return [
    { object: configMap(ctx, name, 'node-local-dns', corefile, DNS_NAMESPACE) },
    {
      comment: 'The cluster DNS Service again, under a name node-local-dns can find (-upstreamsvc): it forwards\ncluster names there and everything else to unbound.',
      object: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { ...meta(ctx, upstream, 'node-local-dns'), namespace: DNS_NAMESPACE },
        spec: {
          type: 'ClusterIP',
          selector: { 'k8s-app': 'kube-dns' },
          ports: [{ name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' }],
        },
      },
    },
    {
      comment: `Every pod of the platform has dnsConfig ndots:1; point kubelet's --cluster-dns at ${k.nodeLocalDnsAddress}\n(or keep the cluster DNS address and let node-local-dns intercept it with -localip).`,
      object: daemonSet(ctx, name, {
        component: 'node-local-dns',
        namespace: DNS_NAMESPACE,
        hostNetwork: true,
        containers: [container({
          name: 'node-cache',
          image: k.thirdPartyImages.nodelocaldns,
          args: ['-localip', k.nodeLocalDnsAddress, '-conf', '/etc/Corefile', '-upstreamsvc', upstream, '-health-port', String(NODE_LOCAL_DNS_HEALTH_PORT)],
          ports: [
            { name: 'dns', containerPort: 53, protocol: 'UDP' },
            { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
            { name: 'metrics', containerPort: NODE_LOCAL_DNS_METRICS_PORT, protocol: 'TCP' },
          ],
          resources: k.resources.nodelocaldns,
          // It installs the link-local address and its iptables NOTRACK rules on the node.
          securityContext: { capabilities: { add: ['NET_ADMIN'] }, seccompProfile: RUNTIME_DEFAULT_SECCOMP },
          livenessProbe: { httpGet: { host: k.nodeLocalDnsAddress, path: '/health', port: NODE_LOCAL_DNS_HEALTH_PORT }, initialDelaySeconds: 60, timeoutSeconds: 5 },
          volumeMounts: [
            { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
            { name: 'config', mountPath: '/etc/coredns' },
          ],
        })],
        volumes: [
          { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
          { name: 'config', configMap: { name, items: [{ key: NODE_LOCAL_DNS_COREFILE, path: 'Corefile.base' }] } },
        ],
        extra: { priorityClassName: 'system-node-critical', tolerations: [{ operator: 'Exists' }], terminationGracePeriodSeconds: 0 },
      }),
    },
  ];
}

/**
 * Only with `spec.kubernetes.nodeLocalDns`: node-local-dns is a cluster's add-on, not a platform's (one per
 * cluster: it binds its address on every node, and serves pods only once kubelet's --cluster-dns points there).
 */
export function renderDns(ctx: RenderContext): Rendered[] {
  return ctx.spec.kubernetes.nodeLocalDns ? [...unbound(ctx), ...nodeLocalDns(ctx)] : [];
}
