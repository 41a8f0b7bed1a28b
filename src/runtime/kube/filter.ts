/**
 * The filter in Kubernetes: `as` (rspamd under the agent) as a Deployment of `spec.roles.as.replicas` stateless
 * pods behind the ClusterIP Service `as`, which every `mta` and `msa` names as its one milter (Postfix runs every
 * milter it lists on every message, so the Service, not a list of pods, gives the replicas). Its config is the
 * single host's (src/config/rspamd*.ts) in the role's ConfigMap, secrets as placeholders; the pods get only the
 * Redis and controller passwords of the platform Secret, and the DKIM Secret (optional: without it mail goes out
 * unsigned). rspamd's `$DBDIR` (hyperscan cache, maps) is an emptyDir: each new pod compiles its hyperscan
 * database again (about a core for ~10 s, ~266 MB PSS, then ~100 MB), which the startup probe's budget covers.
 */
import { POD_PATHS, podInstanceContext } from '../../agent/index.ts';
import { POD_NAME_PLACEHOLDER, podSecretKeys, redactSpec, roleConfigFiles, type ConfigInput } from '../../config/index.ts';
import { antivirusRuns, filterRuns } from '../../spec/index.ts';
import { secretName, specConfigMapName } from './configs.ts';
import { kubePeers, meta, selector, type RenderContext } from './context.ts';
import { dkimVolume } from './dkim.ts';
import { networkPolicy, SCRAPE, type Flow } from './network.ts';
import { filterRoleDeployment } from './filter-deployment.ts';
import type { KubeObject, Rendered } from './objects.ts';
import { agentContainerHead, agentProbes, drainHook, resources, rootDaemonSecurity } from './pods.ts';

export const AS = 'as';
/**
 * The fixed uid and gid of `_rspamd` in the mailfleet-rspamd image (images/README.md). rspamd's workers run as
 * it and read the DKIM keys at signing time: the pod's fsGroup makes the 0440 Secret files readable to them.
 */
export const RSPAMD_UID = 230;

export const filterConfigMapName = (ctx: RenderContext): string => `${ctx.platform}-${AS}-config`;

/** The milter (Postfix's), the controller (learning, statistics) and the agent's http (probes, /metrics). */
export function filterPorts(ctx: RenderContext): { name: string; containerPort: number }[] {
  const p = ctx.spec.ports;
  return [
    { name: 'milter', containerPort: p.milter },
    { name: 'controller', containerPort: p.rspamd },
    { name: 'http', containerPort: p.http },
  ];
}

/** The config input of an `as` pod: redacted spec, pod paths, peers by DNS name. */
export function filterConfigInput(ctx: RenderContext): ConfigInput {
  return { spec: redactSpec(ctx.spec).spec, instance: podInstanceContext(AS, POD_NAME_PLACEHOLDER), peers: kubePeers(ctx) };
}

function filterDeployment(ctx: RenderContext): KubeObject {
  const keys = podSecretKeys(AS, ctx.spec);
  const dkim = dkimVolume(ctx);
  return filterRoleDeployment(ctx, AS, ctx.spec.roles.as.replicas, {
    securityContext: { fsGroup: RSPAMD_UID },
    containers: [
      {
        ...agentContainerHead(ctx, AS, 'mailfleet-rspamd'),
        ports: filterPorts(ctx).map((p) => ({ ...p, protocol: 'TCP' })),
        // Readiness is rspamd's own answer (the agent asks its controller's /ping); the startup probe's
        // 5 minutes cover the hyperscan compilation of a cold start many times over.
        ...agentProbes(),
        lifecycle: drainHook(),
        resources: resources(ctx.spec.kubernetes.resources.as),
        // rspamd starts as root and drops to its own user, as Postfix and Dovecot do.
        securityContext: rootDaemonSecurity(),
        volumeMounts: [
          { name: 'config-source', mountPath: POD_PATHS.configMap, readOnly: true },
          { name: 'spec', mountPath: POD_PATHS.specDir, readOnly: true },
          { name: 'secrets', mountPath: POD_PATHS.secrets, readOnly: true },
          dkim.mount,
          { name: 'config', mountPath: POD_PATHS.config },
          { name: 'run', mountPath: POD_PATHS.run },
          { name: 'data', mountPath: POD_PATHS.data },
        ],
      },
    ],
    volumes: [
      { name: 'config-source', configMap: { name: filterConfigMapName(ctx) } },
      { name: 'spec', configMap: { name: specConfigMapName(ctx) } },
      // The Redis and controller passwords only.
      { name: 'secrets', secret: { secretName: secretName(ctx), items: keys.map((key) => ({ key, path: key })), defaultMode: 0o400 } },
      dkim.volume,
      { name: 'config', emptyDir: { sizeLimit: '64Mi' } },
      { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
      // $DBDIR: hyperscan cache and downloaded maps, rebuilt by each new pod.
      { name: 'data', emptyDir: { sizeLimit: '1Gi' } },
    ],
  });
}

/** rspamd.com's fuzzy storage (UDP), which rspamd's fuzzy_check asks while public lists are on. */
const FUZZY_PORT = 11335;

/** The resolvers of `spec.filter.nameservers` as CIDRs of one address, with their ports (53 unless given). */
function nameserverFlows(nameservers: readonly string[]): Flow[] {
  const byPort = new Map<number, string[]>();
  for (const ns of nameservers) {
    const m = /^\[([0-9a-fA-F:]+)\](?::(\d+))?$/.exec(ns) ?? /^([0-9.]+)(?::(\d+))?$/.exec(ns);
    if (!m?.[1]) continue;
    const cidr = m[1].includes(':') ? `${m[1]}/128` : `${m[1]}/32`;
    const port = Number(m[2] ?? 53);
    byPort.set(port, [...(byPort.get(port) ?? []), cidr]);
  }
  return [...byPort].flatMap(([port, cidrs]) => (['UDP', 'TCP'] as const).map((protocol) => ({ peers: [{ cidrs }], ports: [port], protocol })));
}

/**
 * Who reaches `as`: mta and msa on the milter port, the scrapers on http, the mailbox backends on the controller
 * (learning from Junk moves). It reaches Redis (kvs), clamd (av) while it runs, the resolvers of
 * `spec.filter.nameservers` (else the cluster resolver, open to every pod) and, with `spec.filter.publicLists`,
 * the Internet outside the cluster's networks: the maps it downloads (HTTP, HTTPS) and rspamd.com's fuzzy storage
 * (UDP 11335), which without this rule would fail quietly.
 */
function filterNetworkPolicy(ctx: RenderContext): Rendered {
  const { roles, filter } = ctx.spec;
  const internet: Flow[] = filter.publicLists
    ? [{ peers: [{ internet: true }], ports: [80, 443] }, { peers: [{ internet: true }], ports: [FUZZY_PORT], protocol: 'UDP' }]
    : [];
  return networkPolicy(
    ctx,
    AS,
    [
      { peers: [{ component: 'mta' }, { component: 'msa' }], ports: ['milter'] },
      ...(roles.mailbox.replicas > 0 ? [{ peers: [{ component: 'mailbox' }], ports: ['controller'] }] : []),
      SCRAPE,
    ],
    [
      { peers: [{ component: 'kvs' }], ports: ['redis'] },
      ...(antivirusRuns(ctx.spec) ? [{ peers: [{ component: 'av' }], ports: ['clamd'] }] : []),
      ...nameserverFlows(filter.nameservers),
      ...internet,
    ],
  );
}

export function renderFilter(ctx: RenderContext): Rendered[] {
  if (!filterRuns(ctx.spec)) return [];
  const service: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(ctx, AS, AS),
    spec: {
      type: 'ClusterIP',
      selector: selector(ctx, AS),
      ports: filterPorts(ctx).filter((p) => p.name !== 'http').map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.name, protocol: 'TCP' })),
    },
  };
  return [
    { object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(ctx, filterConfigMapName(ctx), AS), data: roleConfigFiles(AS, filterConfigInput(ctx)) } },
    {
      comment: `rspamd, the milter of every mta and msa (the Service "as"). Mail is ${ctx.spec.filter.failure === 'open' ? 'accepted unscanned' : 'deferred (4xx)'} while no pod answers\n(spec.filter.failure). Cold start: ~10 s and about a core while hyperscan compiles.`,
      object: filterDeployment(ctx),
    },
    { object: service },
    { object: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(ctx, AS, AS), spec: { maxUnavailable: 1, selector: { matchLabels: selector(ctx, AS) } } } },
    ...(ctx.spec.kubernetes.networkPolicies ? [filterNetworkPolicy(ctx)] : []),
  ];
}
