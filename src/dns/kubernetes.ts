/**
 * The resolv.conf a Kubernetes pod gets. Under `dnsPolicy: ClusterFirst` kubelet writes the cluster DNS
 * server, the search list `<namespace>.svc.<cluster domain> svc.<cluster domain> <cluster domain>` plus
 * the node's own search domains, and `options ndots:5`. A pod's `dnsConfig` is merged on top as kubelet's
 * `appendDNSConfig` does: name servers and search domains appended without duplicates, options replaced
 * by name.
 */

/** A pod's `spec.dnsConfig`, as in the Kubernetes API. */
export interface PodDnsConfig {
  readonly nameservers?: readonly string[];
  readonly searches?: readonly string[];
  readonly options?: readonly { readonly name: string; readonly value?: string }[];
}

/** What kubelet hands the container runtime, and the runtime writes to the pod's /etc/resolv.conf. */
export interface PodResolver {
  readonly nameservers: readonly string[];
  readonly searches: readonly string[];
  /** `name` or `name:value`. */
  readonly options: readonly string[];
}

/** The cluster DNS Service address of a default kubeadm cluster. */
export const KUBERNETES_CLUSTER_DNS = '10.96.0.10';

/**
 * Search list of a pod in namespace `mail` of cluster domain `cluster.local`, on a node whose own
 * resolv.conf searches `example.internal corp.example.internal`: the 3 ClusterFirst entries plus 2
 * inherited from the node, which is what a typical on-prem node contributes.
 */
export const KUBERNETES_DEFAULT_SEARCH: readonly string[] = Object.freeze([
  'mail.svc.cluster.local',
  'svc.cluster.local',
  'cluster.local',
  'example.internal',
  'corp.example.internal',
]);

/** kubelet's ndots for ClusterFirst pods. */
export const KUBERNETES_DEFAULT_NDOTS = 5;

/** A ClusterFirst pod's resolver without any dnsConfig. */
export const KUBERNETES_DEFAULT_RESOLVER: PodResolver = Object.freeze({
  nameservers: Object.freeze([KUBERNETES_CLUSTER_DNS]),
  searches: KUBERNETES_DEFAULT_SEARCH,
  options: Object.freeze([`ndots:${KUBERNETES_DEFAULT_NDOTS}`]),
});

/**
 * The `dnsConfig` mailfleet renders on every pod: `ndots:1`, so a name with a dot (every MX host,
 * every relay) is tried as-is first and costs one A and one AAAA query instead of a walk down the
 * search list. Single-label Service names still get the search list.
 */
export const MAILFLEET_DNS_CONFIG: PodDnsConfig = Object.freeze({ options: Object.freeze([Object.freeze({ name: 'ndots', value: '1' })]) });

function withoutDuplicates(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** kubelet's `appendDNSConfig`. Options come out sorted by name (kubelet's order is a Go map's). */
export function applyPodDnsConfig(base: PodResolver, dnsConfig: PodDnsConfig): PodResolver {
  const options = new Map<string, string>();
  for (const option of base.options) {
    const colon = option.indexOf(':');
    if (colon < 0) options.set(option, '');
    else options.set(option.slice(0, colon), option.slice(colon + 1));
  }
  for (const option of dnsConfig.options ?? []) options.set(option.name, option.value ?? '');
  return {
    nameservers: withoutDuplicates([...base.nameservers, ...(dnsConfig.nameservers ?? [])]),
    searches: withoutDuplicates([...base.searches, ...(dnsConfig.searches ?? [])]),
    options: [...options.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => (value === '' ? name : `${name}:${value}`)),
  };
}

/** The pod's /etc/resolv.conf text. */
export function podResolvConf(resolver: PodResolver): string {
  const lines = resolver.nameservers.map((address) => `nameserver ${address}`);
  if (resolver.searches.length > 0) lines.push(`search ${resolver.searches.join(' ')}`);
  if (resolver.options.length > 0) lines.push(`options ${resolver.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}
