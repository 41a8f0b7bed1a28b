/**
 * The Corefile of the node-local-dns DaemonSet (k8s-dns-node-cache, CoreDNS inside): a cache on every
 * node at `spec.kubernetes.nodeLocalDnsAddress`, so a pod's query neither crosses the node nor goes
 * through conntrack. Cluster names go to kube-dns, everything else to the platform's unbound.
 *
 * Both upstreams are reached over TCP (`force_tcp`): a UDP query through a Service's DNAT makes one
 * conntrack entry per query and loses some to conntrack races, a reused TCP connection does not.
 * That is why unbound's TCP limits are raised (unbound.ts) and why its idle timeout must exceed
 * CoreDNS's connection reuse (`expire`).
 */
import { isIP } from 'node:net';
import type { PlatformSpec } from '../spec/index.ts';
import type { ConfigFiles } from './context.ts';

export const NODE_LOCAL_DNS_COREFILE = 'Corefile';
/** Where node-local-dns serves Prometheus metrics (every interface of the node). */
export const NODE_LOCAL_DNS_METRICS_PORT = 9253;
/** Where node-local-dns answers `/health` (on its own address). */
export const NODE_LOCAL_DNS_HEALTH_PORT = 8080;
/** CoreDNS closes a cached upstream connection idle this long; kept below unbound's tcp-idle-timeout (UNBOUND_TCP_IDLE_TIMEOUT_MS). */
export const NODE_LOCAL_DNS_TCP_EXPIRE_S = 10;
/** Filled in by node-cache at start-up with the kube-dns Service's cluster IP (from `-upstreamsvc`). */
export const CLUSTER_DNS_PILLAR = '__PILLAR__CLUSTER__DNS__';

export interface NodeLocalDnsOptions {
  /**
   * Where unbound is, as CoreDNS's `forward` takes it: an address (`10.96.0.53`, `10.96.0.53:53`,
   * `[fd00::53]:53`), a node-cache pillar (`__PILLAR__UPSTREAM__SERVERS__`) or an environment variable
   * (`{$UNBOUND_SERVICE_HOST}`). Not a DNS name: CoreDNS's forward cannot resolve one, and resolving
   * it would need the very resolver being configured.
   */
  upstreamService: string;
}

const PILLAR = /^__PILLAR__[A-Z_]+__$/;
const ENV = /^\{\$[A-Za-z_][A-Za-z0-9_]*\}(:[0-9]{1,5})?$/;

function forwardTarget(upstream: string): string {
  if (PILLAR.test(upstream) || ENV.test(upstream) || isIP(upstream) !== 0) return upstream;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(upstream);
  const host = m?.[1] ?? m?.[2] ?? '';
  const port = Number(m?.[3]);
  if (isIP(host) === (m?.[1] === undefined ? 4 : 6) && port >= 1 && port <= 65535) return upstream;
  throw new RangeError(`node-local-dns upstream ${JSON.stringify(upstream)} is not an address, a __PILLAR__ or a {$ENV}: CoreDNS forwards only to addresses`);
}

/** One server block; `last` lines come after `prometheus`. */
function serverBlock(zone: string, bind: string, cache: string[], forwardTo: string, last: string[]): string[] {
  return [
    `${zone}:53 {`,
    '    errors',
    ...cache.map((l) => `    ${l}`),
    '    reload',
    '    loop',
    `    bind ${bind}`,
    `    forward . ${forwardTo} {`,
    '        force_tcp',
    `        expire ${NODE_LOCAL_DNS_TCP_EXPIRE_S}s`,
    '    }',
    `    prometheus :${NODE_LOCAL_DNS_METRICS_PORT}`,
    ...last.map((l) => `    ${l}`),
    '}',
  ];
}

/**
 * The Corefile: `<clusterDomain>`, `in-addr.arpa` and `ip6.arpa` to kube-dns, `.` to unbound, all
 * bound to the node-local address only (works with kube-proxy in iptables and IPVS mode).
 */
export function nodeLocalDnsCorefile(spec: PlatformSpec, opts: NodeLocalDnsOptions): ConfigFiles {
  const bind = spec.kubernetes.nodeLocalDnsAddress;
  const domain = spec.kubernetes.clusterDomain;
  const upstream = forwardTarget(opts.upstreamService);
  // Cluster answers change with pods: cache briefly, negative answers even more briefly.
  const clusterCache = ['cache {', '    success 9984 30', '    denial 9984 5', '}'];
  const blocks = [
    serverBlock(domain, bind, clusterCache, CLUSTER_DNS_PILLAR, [`health ${bind}:${NODE_LOCAL_DNS_HEALTH_PORT}`]),
    serverBlock('in-addr.arpa', bind, ['cache 30'], CLUSTER_DNS_PILLAR, []),
    serverBlock('ip6.arpa', bind, ['cache 30'], CLUSTER_DNS_PILLAR, []),
    serverBlock('.', bind, ['cache 30'], upstream, []),
  ];
  return { [NODE_LOCAL_DNS_COREFILE]: `${blocks.map((b) => b.join('\n')).join('\n')}\n` };
}
