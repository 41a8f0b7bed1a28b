/**
 * NetworkPolicies: everything in the namespace is denied by default (in and out), then each
 * component gets exactly the flows the mail path needs. Ports are named as on the containers.
 */
import { authPolicyRuns, filterRuns, policyCounts, policyRuns, probeRuns } from '../../spec/index.ts';
import { meta, OPERATOR_POD_LABELS, PLATFORM_LABEL, quotaChecked, replicasOf, selector, type MailWorkload, type RenderContext } from './context.ts';
import type { KubeObject, Rendered } from './objects.ts';

/**
 * Who may talk: another component of this platform, anybody, the load balancer ranges, CIDRs, monitoring
 * namespaces, or the operator's pods in the operator's namespace.
 */
export type Peer = { component: string } | { platform: true } | { world: true } | { cidrs: readonly string[] } | { monitoring: true } | { operatorNamespace: string }
  /** Every pod of a namespace of this cluster (a Service's, by its DNS name). */
  | { namespace: string }
  /** Any address outside the cluster's pod and node networks (`spec.kubernetes`): the Internet only. */
  | { internet: true };

export interface Flow {
  peers: readonly Peer[];
  ports: readonly (string | number)[];
  /** Default TCP. */
  protocol?: 'TCP' | 'UDP';
}

/** Namespaces whose scrapers (vmagent, Prometheus) may read `/metrics`: label them with this. */
export const MONITORING_NAMESPACE_LABEL = 'mailfleet.io/monitoring';

const WORLD = [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }];

function peersOf(ctx: RenderContext, peers: readonly Peer[]): object[] {
  return peers.flatMap((p): object[] => {
    if ('component' in p) return [{ podSelector: { matchLabels: selector(ctx, p.component) } }];
    if ('platform' in p) return [{ podSelector: { matchLabels: { [PLATFORM_LABEL]: ctx.platform } } }];
    if ('world' in p) return WORLD;
    if ('internet' in p) {
      const cluster = [...new Set([...ctx.spec.kubernetes.podNetworks, ...ctx.spec.kubernetes.nodeNetworks])];
      return WORLD.map(({ ipBlock }) => {
        const except = cluster.filter((cidr) => cidr.includes(':') === ipBlock.cidr.includes(':'));
        return { ipBlock: { ...ipBlock, ...(except.length > 0 ? { except } : {}) } };
      });
    }
    if ('monitoring' in p) return [{ namespaceSelector: { matchLabels: { [MONITORING_NAMESPACE_LABEL]: 'true' } } }];
    if ('namespace' in p) return [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': p.namespace } } }];
    if ('operatorNamespace' in p) {
      return [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': p.operatorNamespace } }, podSelector: { matchLabels: { ...OPERATOR_POD_LABELS } } }];
    }
    return p.cidrs.map((cidr) => ({ ipBlock: { cidr } }));
  });
}

/** A Service's DNS name: `NAME.NAMESPACE.svc`, optionally followed by the cluster domain. */
const SERVICE_HOST = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.|$)/;

/**
 * Who an egress to `url` goes to: the pods of its namespace when it names a Service of this cluster, else anybody
 * (an address or a name outside, which a NetworkPolicy cannot tell apart).
 */
export function urlPeer(url: URL): Peer {
  const namespace = SERVICE_HOST.exec(url.hostname)?.[2];
  return namespace === undefined ? { world: true } : { namespace };
}

function portsOf(ports: readonly (string | number)[], protocol = 'TCP') {
  return ports.map((port) => ({ port, protocol }));
}

export function networkPolicy(ctx: RenderContext, component: string, ingress: readonly Flow[], egress: readonly Flow[]): Rendered {
  const rule = (key: 'from' | 'to') => (f: Flow) => ({ [key]: peersOf(ctx, f.peers), ports: portsOf(f.ports, f.protocol) });
  return {
    object: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(ctx, `${ctx.platform}-${component}`, component),
      spec: {
        podSelector: { matchLabels: selector(ctx, component) },
        policyTypes: ['Ingress', 'Egress'],
        ingress: ingress.map(rule('from')),
        egress: egress.map(rule('to')),
      },
    },
  };
}

function denyAll(ctx: RenderContext): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(ctx, `${ctx.platform}-default-deny`, 'network'),
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  };
}

/** Every pod resolves names: cluster DNS and the node-local cache. */
function allowDns(ctx: RenderContext): KubeObject {
  const dnsPorts = [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(ctx, `${ctx.platform}-allow-dns`, 'network'),
    spec: {
      podSelector: { matchLabels: { [PLATFORM_LABEL]: ctx.platform } },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
            { ipBlock: { cidr: `${ctx.spec.kubernetes.nodeLocalDnsAddress}/32` } },
          ],
          ports: dnsPorts,
        },
      ],
    },
  };
}

/** `/metrics` and health on the agent port: from the platform's VictoriaMetrics and from monitoring namespaces. */
export const SCRAPE: Flow = { peers: [{ component: 'victoriametrics' }, { monitoring: true }], ports: ['http'] };

function mailFlows(ctx: RenderContext, w: MailWorkload): { ingress: Flow[]; egress: Flow[] } {
  const lb: Peer[] = [{ cidrs: ctx.spec.loadBalancer.sourceRanges }];
  const behindLb = ctx.spec.loadBalancer.sourceRanges.length > 0;
  const relay: Flow[] = ctx.spec.outbound.mailout.replicas > 0 ? [{ peers: [{ component: 'mailout' }], ports: ['smtp'] }] : [];
  const ldap: Flow = { peers: [{ component: 'ldap' }], ports: ['ldap'] };
  // The director's admin API: the rendered controller and the operator's backend sync write to it; a
  // draining mailbox reads from it whether users are still routed to it.
  // The prober comes in where users do, on the TLS ports it probes.
  const probe = (...ports: string[]): Flow[] => (probeRuns(ctx.spec) ? [{ peers: [{ component: 'probe' }], ports }] : []);
  // The policy server, from the roles that ask it (some rule counts their requests).
  const policy = (role: 'mta' | 'msa'): Flow[] => (policyCounts(ctx.spec, role).size > 0 ? [{ peers: [{ component: 'policy' }], ports: ['policy'] }] : []);
  // rspamd, the milter of both roles that take mail in.
  const milter: Flow[] = filterRuns(ctx.spec) ? [{ peers: [{ component: 'as' }], ports: ['milter'] }] : [];
  // Quota at RCPT (spec.quota.checkAtRcpt): the mta asks a proxy's relay, which asks the user's backend's quota-status.
  const quota = quotaChecked(ctx.spec);
  const quotaFlow = (component: string): Flow[] => (quota ? [{ peers: [{ component }], ports: ['quota-status'] }] : []);
  const doveadm: Flow = {
    peers: [{ component: 'controller' }, { component: 'mailbox' }, ...(ctx.operatorNamespace ? [{ operatorNamespace: ctx.operatorNamespace }] : [])],
    ports: ['doveadm'],
  };
  switch (w) {
    case 'mta':
      return {
        ingress: [{ peers: [{ world: true }], ports: ['smtp'] }, ...(behindLb ? [{ peers: lb, ports: ['smtp-lb'] }] : []), ...probe('smtp'), SCRAPE],
        egress: [{ peers: [{ component: 'proxy' }], ports: ['lmtp'] }, ...quotaFlow('proxy'), ldap, ...relay, ...policy('mta'), ...milter],
      };
    case 'msa':
      return {
        ingress: [{ peers: [{ world: true }], ports: ['submission', 'submissions'] }, ...(behindLb ? [{ peers: lb, ports: ['submission-lb', 'submissions-lb'] }] : []), ...probe('submissions'), SCRAPE],
        // auth: the proxy's Dovecot checks SASL logins; lmtp: mail for the platform's own domains goes to the mailboxes.
        egress: [{ peers: [{ component: 'proxy' }], ports: ['auth', 'lmtp'] }, ldap, ...relay, ...policy('msa'), ...milter],
      };
    case 'proxy':
      return {
        ingress: [
          { peers: [{ world: true }], ports: ['imap', 'imaps', 'pop3', 'pop3s'] },
          ...(behindLb ? [{ peers: lb, ports: ['imap-lb', 'imaps-lb', 'pop3-lb', 'pop3s-lb'] }] : []),
          { peers: [{ component: 'mta' }, { component: 'msa' }], ports: ['lmtp'] },
          { peers: [{ component: 'msa' }], ports: ['auth'] },
          ...quotaFlow('mta'),
          doveadm,
          { peers: [{ component: 'proxy' }], ports: ['director'] },
          ...probe('imaps', 'pop3s'),
          SCRAPE,
        ],
        egress: [
          { peers: [{ component: 'mailbox' }], ports: ['imap', 'pop3', 'lmtp'] },
          ...quotaFlow('mailbox'),
          { peers: [{ component: 'proxy' }], ports: ['director'] },
          ldap,
          // Dovecot's auth policy client asks the policy server about every login.
          ...(authPolicyRuns(ctx.spec) ? [{ peers: [{ component: 'policy' }], ports: ['auth-policy'] }] : []),
        ],
      };
    case 'mailbox':
      return {
        ingress: [{ peers: [{ component: 'proxy' }], ports: ['imap', 'pop3', 'lmtp'] }, ...quotaFlow('proxy'), SCRAPE],
        egress: [
          ldap,
          ...(ctx.spec.roles.proxy.replicas > 0 ? [{ peers: [{ component: 'proxy' }], ports: ['doveadm'] }] : []),
          // Learning from Junk moves: the learn program posts to rspamd's controller (the Service as).
          ...(filterRuns(ctx.spec) ? [{ peers: [{ component: 'as' }], ports: ['controller'] }] : []),
        ],
      };
    case 'ldap':
      return { ingress: [{ peers: ['mta', 'msa', 'proxy', 'mailbox'].map((component) => ({ component })), ports: ['ldap'] }, SCRAPE], egress: [] };
    case 'kvs':
      // Redis's clients are the policy server and rspamd: Postfix never talks to it.
      return {
        ingress: [
          ...(policyRuns(ctx.spec) ? [{ peers: [{ component: 'policy' }], ports: ['redis'] }] : []),
          ...(filterRuns(ctx.spec) ? [{ peers: [{ component: 'as' }], ports: ['redis'] }] : []),
          SCRAPE,
        ],
        egress: [],
      };
    case 'mailout':
      return {
        ingress: [{ peers: [{ component: 'mta' }, { component: 'msa' }], ports: ['smtp'] }, SCRAPE],
        egress: [{ peers: [{ world: true }], ports: [25] }, ...(ctx.spec.outbound.fallback.replicas > 0 ? [{ peers: [{ component: 'fallback' }], ports: ['smtp'] }] : [])],
      };
    case 'fallback':
      return { ingress: [{ peers: [{ component: 'mailout' }], ports: ['smtp'] }, SCRAPE], egress: [{ peers: [{ world: true }], ports: [25] }] };
  }
}

/** The API server's address is the cluster's own: allow its usual ports to any address. */
export const KUBE_API: Flow = { peers: [{ world: true }], ports: [443, 6443] };

export function renderMailNetworkPolicies(ctx: RenderContext, workloads: readonly MailWorkload[]): Rendered[] {
  if (!ctx.spec.kubernetes.networkPolicies) return [];
  const out: Rendered[] = [{ object: denyAll(ctx) }, { object: allowDns(ctx) }];
  for (const w of workloads) {
    if (replicasOf(ctx.spec, w) === 0) continue;
    const { ingress, egress } = mailFlows(ctx, w);
    out.push(networkPolicy(ctx, w, ingress, egress));
  }
  return out;
}
