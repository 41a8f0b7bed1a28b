/**
 * The antivirus in Kubernetes: `av` (clamd under the agent) as a Deployment of `spec.roles.av.replicas`
 * stateless pods behind the ClusterIP Service `av`, which rspamd (`as`) asks; and the platform's one signature
 * updater, freshclam, as a Deployment of one replica with the Recreate strategy (two writers never overlap),
 * which downloads from `spec.filter.antivirus.signatures.mirror` into the ReadWriteMany volume
 * `<platform>-clamav-signatures`. Every `av` pod mounts that volume read-only: the CDN sees one client per
 * platform, never one per pod, and a new `av` pod starts from what is there. Until the first download lands,
 * the `av` agents wait (readiness false, a log line naming the directory) and rspamd fails open on its
 * antivirus (CLAM_VIRUS_FAIL); clamd notices later updates by itself (SelfCheck).
 *
 * `signatures.directory` names a host directory: a pod has none, so render refuses it, naming the field.
 */
import { POD_PATHS, podInstanceContext } from '../../agent/index.ts';
import {
  CLAMD_MAX_THREADS, clamdStreamLimit, filterConfigInput, FRESHCLAM, FRESHCLAM_CONF, freshclamFiles, POD_NAME_PLACEHOLDER, redactSpec, roleConfigFiles,
  type ConfigInput,
} from '../../config/index.ts';
import { MailfleetError } from '../../errors.ts';
import { antivirusRuns } from '../../spec/index.ts';
import { specConfigMapName } from './configs.ts';
import { image, kubePeers, meta, selector, type RenderContext } from './context.ts';
import { networkPolicy, SCRAPE } from './network.ts';
import { filterRoleDeployment } from './filter-deployment.ts';
import type { KubeObject, Rendered } from './objects.ts';
import { agentContainerHead, agentProbes, drainHook, nonRootSecurity, podBasics, resources } from './pods.ts';
import { NON_ROOT } from './workload.ts';

export const AV = 'av';
/** The updater's component and Deployment name. */
export const FRESHCLAM_COMPONENT = 'freshclam';
/**
 * The fixed uid and gid of `clamav` in the mailfleet-clamav image (images/README.md): clamd, freshclam and the
 * `av` agent run as it; as both pods' fsGroup it lets freshclam write the signature volume and clamd read it.
 */
export const CLAMAV_UID = 240;
/**
 * How long an `av` pod may wait for its first signatures before the kubelet restarts it (its startup probe):
 * the first download of the official database (~300 MB) and its test take minutes; a restart would only wait again.
 */
export const SIGNATURES_WAIT_MS = 60 * 60_000;
/** The official mirror, which freshclam reaches over HTTPS (and HTTP) after a DNS TXT version check. */
const OFFICIAL_MIRROR = 'database.clamav.net';

export const antivirusConfigMapName = (ctx: RenderContext): string => `${ctx.platform}-${AV}-config`;
export const freshclamConfigMapName = (ctx: RenderContext): string => `${ctx.platform}-${FRESHCLAM_COMPONENT}-config`;
export const signaturesClaimName = (ctx: RenderContext): string => `${ctx.platform}-clamav-signatures`;

/** clamd (rspamd streams each message to it) and the agent's http (probes, /metrics). */
export function antivirusPorts(ctx: RenderContext): { name: string; containerPort: number }[] {
  return [
    { name: 'clamd', containerPort: ctx.spec.ports.clamd },
    { name: 'http', containerPort: ctx.spec.ports.http },
  ];
}

/** The config input of an `av` pod (and of the updater, which writes where clamd reads): redacted spec, pod paths, peers by DNS name. */
export function antivirusConfigInput(ctx: RenderContext, name = POD_NAME_PLACEHOLDER): ConfigInput {
  return { spec: redactSpec(ctx.spec).spec, instance: podInstanceContext(AV, name), peers: kubePeers(ctx) };
}

/** A pod has no host directory: only a mirror can fill the signature volume. */
function refuseDirectory(ctx: RenderContext): void {
  const directory = ctx.spec.filter.antivirus.signatures?.directory;
  if (directory === undefined) return;
  throw new MailfleetError('SPEC_INVALID', `${ctx.platform}: the av role cannot read a host directory in Kubernetes`, {
    details: [
      `spec.filter.antivirus.signatures.directory: ${directory} is a directory on one host, which no pod has; in Kubernetes name a mirror `
      + '(spec.filter.antivirus.signatures.mirror: the official https://database.clamav.net or your own, e.g. one serving that directory over HTTP): '
      + 'the platform\'s one updater fills a ReadWriteMany volume every av pod reads',
    ],
  });
}

/** The ports freshclam downloads on: the official mirror's HTTPS and HTTP, or the private mirror URL's own. */
export function mirrorPorts(mirror: string): number[] {
  const url = new URL(mirror);
  if (url.hostname === OFFICIAL_MIRROR) return [80, 443];
  return [url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)];
}

/**
 * clamd writes each streamed message to its temporary directory (the run dir) before scanning it: room for
 * every scan it runs at once, plus the agent's sockets and pid files.
 */
export function antivirusRunDirLimit(messageSizeLimit: number): string {
  return `${Math.ceil((CLAMD_MAX_THREADS * clamdStreamLimit(messageSizeLimit)) / 2 ** 20) + 64}Mi`;
}

function antivirusDeployment(ctx: RenderContext): KubeObject {
  return filterRoleDeployment(ctx, AV, ctx.spec.roles.av.replicas, {
    securityContext: { ...NON_ROOT(CLAMAV_UID), fsGroupChangePolicy: 'OnRootMismatch' },
    containers: [
      {
        ...agentContainerHead(ctx, AV, 'mailfleet-clamav'),
        ports: antivirusPorts(ctx).map((p) => ({ ...p, protocol: 'TCP' })),
        // Readiness is clamd's own PONG; the startup probe also covers the wait for the first signatures.
        ...agentProbes(SIGNATURES_WAIT_MS),
        lifecycle: drainHook(),
        resources: resources(ctx.spec.kubernetes.resources.av),
        // clamd needs no privilege: it binds 3310 and reads its database as clamav.
        securityContext: nonRootSecurity(false),
        volumeMounts: [
          { name: 'config-source', mountPath: POD_PATHS.configMap, readOnly: true },
          { name: 'spec', mountPath: POD_PATHS.specDir, readOnly: true },
          { name: 'config', mountPath: POD_PATHS.config },
          { name: 'run', mountPath: POD_PATHS.run },
          { name: 'data', mountPath: POD_PATHS.data },
          { name: 'signatures', mountPath: POD_PATHS.signatures, readOnly: true },
        ],
      },
    ],
    // No Secret: clamd uses none.
    volumes: [
      { name: 'config-source', configMap: { name: antivirusConfigMapName(ctx) } },
      { name: 'spec', configMap: { name: specConfigMapName(ctx) } },
      { name: 'config', emptyDir: { sizeLimit: '64Mi' } },
      // On disk, not in memory: clamd's temporary copies of the messages it scans live here.
      { name: 'run', emptyDir: { sizeLimit: antivirusRunDirLimit(ctx.spec.messageSizeLimit) } },
      { name: 'data', emptyDir: { sizeLimit: '64Mi' } },
      { name: 'signatures', persistentVolumeClaim: { claimName: signaturesClaimName(ctx), readOnly: true } },
    ],
  });
}

/**
 * freshclam in the foreground (its log on stdout), `checksPerDay` checks a day, as clamav with a read-only root:
 * it writes only the signature volume (through temporary files renamed into place) and its pid file. No probe:
 * a freshclam that ends is restarted by the kubelet, and the `av` pods' readiness says whether signatures exist.
 */
function freshclamDeployment(ctx: RenderContext): KubeObject {
  const labels = meta(ctx, FRESHCLAM_COMPONENT, FRESHCLAM_COMPONENT).labels;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(ctx, FRESHCLAM_COMPONENT, FRESHCLAM_COMPONENT),
    spec: {
      replicas: 1,
      // The old pod is gone before the new one starts: never two freshclams writing the same directory.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: selector(ctx, FRESHCLAM_COMPONENT) },
      template: {
        metadata: { labels },
        spec: {
          ...podBasics(30),
          securityContext: { ...NON_ROOT(CLAMAV_UID), fsGroupChangePolicy: 'OnRootMismatch' },
          containers: [
            {
              name: FRESHCLAM_COMPONENT,
              image: image(ctx, 'mailfleet-clamav'),
              imagePullPolicy: ctx.spec.kubernetes.images.pullPolicy,
              command: [FRESHCLAM],
              args: ['--daemon', '--foreground', `--config-file=${POD_PATHS.configMap}/${FRESHCLAM_CONF}`],
              resources: resources(ctx.spec.kubernetes.resources.freshclam),
              securityContext: nonRootSecurity(true),
              volumeMounts: [
                { name: 'config-source', mountPath: POD_PATHS.configMap, readOnly: true },
                { name: 'run', mountPath: POD_PATHS.run },
                { name: 'signatures', mountPath: POD_PATHS.signatures },
              ],
            },
          ],
          volumes: [
            { name: 'config-source', configMap: { name: freshclamConfigMapName(ctx) } },
            { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
            { name: 'signatures', persistentVolumeClaim: { claimName: signaturesClaimName(ctx) } },
          ],
        },
      },
    },
  };
}

/**
 * Who reaches `av`: rspamd (`as`) on clamd's port, the scrapers on http; it reaches nothing (DNS aside). The
 * updater takes no connection and reaches only the mirror's ports outside the cluster's pod and node networks
 * (a mirror inside the cluster needs a policy of its own).
 */
function antivirusNetworkPolicies(ctx: RenderContext, mirror: string): Rendered[] {
  return [
    networkPolicy(ctx, AV, [{ peers: [{ component: 'as' }], ports: ['clamd'] }, SCRAPE], []),
    networkPolicy(ctx, FRESHCLAM_COMPONENT, [], [{ peers: [{ internet: true }], ports: mirrorPorts(mirror) }]),
  ];
}

export function renderAntivirus(ctx: RenderContext): Rendered[] {
  if (!antivirusRuns(ctx.spec)) return [];
  refuseDirectory(ctx);
  const mirror = ctx.spec.filter.antivirus.signatures?.mirror;
  // The spec's own validation requires a mirror or a directory while av runs; the directory was refused above.
  if (mirror === undefined) throw new MailfleetError('SPEC_INVALID', `${ctx.platform}: spec.filter.antivirus.signatures.mirror: required while spec.roles.av.replicas > 0`);
  const k = ctx.spec.kubernetes;
  const service: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(ctx, AV, AV),
    spec: {
      type: 'ClusterIP',
      selector: selector(ctx, AV),
      ports: [{ name: 'clamd', port: ctx.spec.ports.clamd, targetPort: 'clamd', protocol: 'TCP' }],
    },
  };
  return [
    { object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(ctx, antivirusConfigMapName(ctx), AV), data: roleConfigFiles(AV, antivirusConfigInput(ctx)) } },
    {
      object: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: meta(ctx, freshclamConfigMapName(ctx), FRESHCLAM_COMPONENT),
        data: freshclamFiles(filterConfigInput(antivirusConfigInput(ctx, FRESHCLAM_COMPONENT))),
      },
    },
    {
      comment: 'clamd\'s signatures: written by the one freshclam updater, read by every av pod (ReadWriteMany).',
      object: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: meta(ctx, signaturesClaimName(ctx), FRESHCLAM_COMPONENT),
        spec: { accessModes: ['ReadWriteMany'], storageClassName: k.storageClasses.signatures, resources: { requests: { storage: k.storageSizes.signatures } } },
      },
    },
    {
      comment: 'clamd, which rspamd asks (the Service "av"). Memory: ~1 GiB with the official database, twice that while a newer one\nloads beside it. A pod waits, unready, until the volume holds signatures; rspamd scans without it meanwhile.',
      object: antivirusDeployment(ctx),
    },
    { object: service },
    { object: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(ctx, AV, AV), spec: { maxUnavailable: 1, selector: { matchLabels: selector(ctx, AV) } } } },
    {
      comment: `The platform's one signature updater: freshclam downloads from ${mirror} ${ctx.spec.filter.antivirus.signatures?.checksPerDay ?? 12} times a day\ninto the volume every av pod reads. One replica, Recreate: never two writers.`,
      object: freshclamDeployment(ctx),
    },
    ...(k.networkPolicies ? antivirusNetworkPolicies(ctx, mirror) : []),
  ];
}
