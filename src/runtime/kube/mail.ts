/**
 * The mail workloads: StatefulSets (every mail role keeps identity or a queue), their headless
 * Services, the load balancer Services with PROXY-protocol listeners, PVCs and disruption budgets.
 */
import { POD_PATHS } from '../../agent/index.ts';
import { podSecretKeys } from '../../config/index.ts';
import { ROLES, seedingBudgetMs } from '../../spec/index.ts';
import { tlsVolumes } from './certificates.ts';
import { roleConfigMapName, secretName, specConfigMapName } from './configs.ts';
import { meta, OUTBOUND_POOLS, PROXY_AUTH_SERVICE, PROXY_LMTP_SERVICE, PROXY_QUOTA_SERVICE, quotaChecked, replicasOf, selector, type MailfleetImage, type MailWorkload, type RenderContext } from './context.ts';
import { ipPoolAnnotations } from './egress.ts';
import type { KubeObject, Rendered } from './objects.ts';
import {
  agentContainerHead, agentProbes, drainHook, gracePeriodSeconds, nonRootSecurity, placement, podBasics, resources, rootDaemonSecurity,
  sysctlsOf, UNSAFE_SYSCTLS_ANNOTATION, unsafeNames,
} from './pods.ts';
import { scrapeAnnotations } from './scrape.ts';
import { NON_ROOT } from './workload.ts';

interface Port {
  name: string;
  port: number;
  /** Exposed through the load balancer. */
  public?: boolean;
}

const IMAGE: Record<MailWorkload, MailfleetImage> = {
  mta: 'mailfleet-postfix',
  msa: 'mailfleet-postfix',
  mailout: 'mailfleet-postfix',
  fallback: 'mailfleet-postfix',
  proxy: 'mailfleet-dovecot',
  mailbox: 'mailfleet-dovecot',
  ldap: 'mailfleet-openldap',
  kvs: 'mailfleet-redis',
};

/** Roles kept off each other's nodes (see placement()): an inbound flood must not starve the mailbox backends. */
const KEEP_APART: Partial<Record<MailWorkload, MailWorkload[]>> = { mta: ['mailbox'], mailbox: ['mta'] };

/**
 * Workloads whose daemon and agent run as an ordinary user. Postfix's master, Dovecot and slapd start as
 * root and drop privileges themselves (they bind low ports, chroot and switch users per service).
 */
const UNPRIVILEGED: readonly MailWorkload[] = ['kvs'];
/** The redis user of the mailfleet-redis image. */
export const REDIS_UID = 999;

export const STORAGE_NOTE = 'iSCSI-backed volumes must not mount with online discard (no "discard" mount option): trim with a scheduled fstrim instead.';

export function portsOf(ctx: RenderContext, w: MailWorkload): Port[] {
  const p = ctx.spec.ports;
  const lb = ctx.spec.loadBalancer;
  const behindLb = lb.sourceRanges.length > 0;
  const http = { name: 'http', port: p.http };
  // The proxies' quota relay and the backends' Dovecot quota-status (spec.quota.checkAtRcpt).
  const quota = ctx.spec.quota.checkAtRcpt ? [{ name: 'quota-status', port: p.quotaStatus }] : [];
  switch (w) {
    case 'mta':
      return [{ name: 'smtp', port: p.smtp, public: true }, ...(behindLb ? [{ name: 'smtp-lb', port: lb.ports.smtp, public: true }] : []), http];
    case 'msa':
      return [
        { name: 'submission', port: p.submission, public: true },
        { name: 'submissions', port: p.submissions, public: true },
        ...(behindLb ? [{ name: 'submission-lb', port: lb.ports.submission, public: true }, { name: 'submissions-lb', port: lb.ports.submissions, public: true }] : []),
        http,
      ];
    case 'mailout':
    case 'fallback':
      return [{ name: 'smtp', port: p.smtp }, http];
    case 'proxy':
      return [
        { name: 'imap', port: p.imap, public: true },
        { name: 'imaps', port: p.imaps, public: true },
        { name: 'pop3', port: p.pop3, public: true },
        { name: 'pop3s', port: p.pop3s, public: true },
        ...(behindLb
          ? [
            { name: 'imap-lb', port: lb.ports.imap, public: true },
            { name: 'imaps-lb', port: lb.ports.imaps, public: true },
            { name: 'pop3-lb', port: lb.ports.pop3, public: true },
            { name: 'pop3s-lb', port: lb.ports.pop3s, public: true },
          ]
          : []),
        { name: 'lmtp', port: p.lmtp },
        { name: 'auth', port: p.auth },
        { name: 'doveadm', port: p.doveadm },
        { name: 'director', port: p.director },
        ...quota,
        http,
      ];
    case 'mailbox':
      return [{ name: 'imap', port: p.imap }, { name: 'pop3', port: p.pop3 }, { name: 'lmtp', port: p.lmtp }, ...quota, http];
    case 'ldap':
      return [{ name: 'ldap', port: p.ldap }, http];
    case 'kvs':
      return [{ name: 'redis', port: p.redis }, http];
  }
}

/** The per-pod volume: the queue of Postfix roles, the database of ldap and kvs; none for the proxy. */
function dataClaim(ctx: RenderContext, w: MailWorkload): { storageClass: string; size: string } | undefined {
  const k = ctx.spec.kubernetes;
  switch (w) {
    case 'mta':
    case 'msa':
    case 'mailout':
    case 'fallback':
      return { storageClass: k.storageClasses[w], size: k.storageSizes.queue };
    case 'ldap':
      return { storageClass: k.storageClasses.ldap, size: k.storageSizes.ldap };
    case 'kvs':
      return { storageClass: k.storageClasses.kvs, size: k.storageSizes.kvs };
    default:
      return undefined;
  }
}

export const mailStorageClaim = (ctx: RenderContext): string => `${ctx.platform}-mail-storage`;

function statefulSet(ctx: RenderContext, w: MailWorkload): Rendered {
  const claim = dataClaim(ctx, w);
  const sysctls = sysctlsOf(ctx, w);
  const unsafe = unsafeNames(sysctls);
  const unprivileged = UNPRIVILEGED.includes(w);
  // Only the Secret keys this workload uses are projected into its pods: the mta holds no admin password.
  const secretKeys = podSecretKeys(w, ctx.spec);
  const tls = tlsVolumes(ctx, w);
  const volumes: object[] = [
    { name: 'config-source', configMap: { name: roleConfigMapName(ctx, w) } },
    { name: 'spec', configMap: { name: specConfigMapName(ctx) } },
    // Unprivileged, the agent reads the Secret through the pod's fsGroup.
    ...(secretKeys.length > 0
      ? [{ name: 'secrets', secret: { secretName: secretName(ctx), items: secretKeys.map((key) => ({ key, path: key })), defaultMode: unprivileged ? 0o440 : 0o400 } }]
      : []),
    ...tls.volumes,
    { name: 'config', emptyDir: { sizeLimit: '64Mi' } },
    { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
    // Without a claim (proxy, mailbox): Dovecot's state_dir, a few files.
    ...(claim ? [] : [{ name: 'data', emptyDir: { sizeLimit: '256Mi' } }]),
    ...(w === 'mailbox' ? [{ name: 'mail', persistentVolumeClaim: { claimName: mailStorageClaim(ctx) } }] : []),
  ];
  const mounts = [
    { name: 'config-source', mountPath: POD_PATHS.configMap, readOnly: true },
    { name: 'spec', mountPath: POD_PATHS.specDir, readOnly: true },
    ...(secretKeys.length > 0 ? [{ name: 'secrets', mountPath: POD_PATHS.secrets, readOnly: true }] : []),
    ...tls.mounts,
    { name: 'config', mountPath: POD_PATHS.config },
    { name: 'run', mountPath: POD_PATHS.run },
    { name: 'data', mountPath: POD_PATHS.data },
    ...(w === 'mailbox' ? [{ name: 'mail', mountPath: POD_PATHS.mail }] : []),
  ];
  const podAnnotations = {
    ...scrapeAnnotations(ctx),
    ...(w === 'mailout' || w === 'fallback' ? ipPoolAnnotations(ctx, w) : {}),
    ...(unsafe.length > 0 ? { [UNSAFE_SYSCTLS_ANNOTATION]: unsafe.join(',') } : {}),
  };
  const object: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(ctx, w, w),
    spec: {
      serviceName: w,
      replicas: replicasOf(ctx.spec, w),
      podManagementPolicy: w === 'mailbox' || w === 'proxy' ? 'Parallel' : 'OrderedReady',
      updateStrategy: { type: 'RollingUpdate' },
      selector: { matchLabels: selector(ctx, w) },
      template: {
        metadata: { labels: meta(ctx, w, w).labels, ...(Object.keys(podAnnotations).length > 0 ? { annotations: podAnnotations } : {}) },
        spec: {
          ...podBasics(gracePeriodSeconds(ctx)),
          securityContext: { ...(unprivileged ? NON_ROOT(REDIS_UID) : {}), ...(sysctls.length > 0 ? { sysctls } : {}) },
          ...placement(ctx, w, KEEP_APART[w] ?? []),
          containers: [
            {
              ...agentContainerHead(ctx, w, IMAGE[w]),
              ports: portsOf(ctx, w).map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' })),
              ...agentProbes(w === 'ldap' ? seedingBudgetMs(ctx.spec) : 0),
              lifecycle: drainHook(),
              resources: resources(ctx.spec.kubernetes.resources[w]),
              securityContext: unprivileged ? nonRootSecurity(false) : rootDaemonSecurity(),
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
      ...(claim
        ? {
            volumeClaimTemplates: [{
              metadata: { name: 'data', labels: meta(ctx, w, w).labels, annotations: { 'mailfleet.io/storage-note': STORAGE_NOTE } },
              spec: { accessModes: ['ReadWriteOnce'], storageClassName: claim.storageClass, resources: { requests: { storage: claim.size } } },
            }],
            persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
          }
        : {}),
    },
  };
  return {
    object,
    ...(unsafe.length > 0 ? { comment: `Pod sysctls unsafe to kubelet: ${unsafe.join(', ')}. Every node running ${w} needs\nkubelet --allowed-unsafe-sysctls=${unsafe.join(',')} (or allowedUnsafeSysctls in its config);\nspec.kubernetes.unsafeSysctls: false leaves them out.` } : {}),
  };
}

function headlessService(ctx: RenderContext, w: MailWorkload): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(ctx, w, w),
    spec: {
      clusterIP: 'None',
      // The director ring and LDAP clients resolve peers at start: proxies are listed before they are ready.
      publishNotReadyAddresses: w === 'proxy',
      selector: selector(ctx, w),
      ports: portsOf(ctx, w).map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: 'TCP' })),
    },
  };
}

/**
 * One proxy port behind a Service of its own that lists only the proxy pods that are ready (their agent's /readyz:
 * LMTP, IMAP, POP3 and Dovecot auth answer and it is not draining); the `proxy` Service, which must list not-ready
 * pods for the director ring, cannot serve here.
 * - `proxy-lmtp`, where the `mta` and `msa` deliver: headless. Postfix resolves the name at each delivery and spreads
 *   its connections over the A records; a proxy that goes unready leaves them.
 * - `proxy-auth`, where the `msa` has SMTP AUTH checked: one cluster IP. Postfix's SASL client connects to the first
 *   address the resolver gives and never shuffles, so only kube-proxy's choice per connection spreads the logins
 *   (postfix-sasl.ts).
 * - `proxy-quota`, where the `mta` asks whether a recipient's mailbox has room (spec.quota.checkAtRcpt): one cluster IP,
 *   for the same reason (Postfix's policy client connects like its SASL client; postfix-quota.ts).
 */
function readyProxyService(ctx: RenderContext, name: string, portName: 'lmtp' | 'auth' | 'quota-status', headless: boolean): KubeObject {
  const ports = portsOf(ctx, 'proxy').filter((p) => p.name === portName);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(ctx, name, 'proxy'),
    spec: {
      ...(headless ? { clusterIP: 'None' } : { type: 'ClusterIP' }),
      publishNotReadyAddresses: false,
      selector: selector(ctx, 'proxy'),
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: 'TCP' })),
    },
  };
}

/**
 * Each LoadBalancer Service gets an address of its own (their pods differ, so a balancer cannot share one address
 * among them with externalTrafficPolicy Local): one host name cannot reach all three.
 */
function balancerNote(host: string): string {
  return `An external address of its own: point ${host} at it, and list that name among the hosts of the\ncertificate its listeners serve (spec.tls.certificates; spec.hostname alone is the default).`;
}

function loadBalancerService(ctx: RenderContext, name: string, w: MailWorkload): KubeObject {
  const ports = portsOf(ctx, w).filter((p) => p.public);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(ctx, name, w, { annotations: ctx.spec.loadBalancer.sourceRanges.length > 0 ? { 'mailfleet.io/proxy-protocol-ports': ports.filter((p) => p.name.endsWith('-lb')).map((p) => p.name).join(',') } : {} }),
    spec: {
      type: 'LoadBalancer',
      // Keeps the client's source address on the direct path; the -lb ports carry it in PROXY protocol.
      externalTrafficPolicy: 'Local',
      selector: selector(ctx, w),
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: 'TCP' })),
    },
  };
}

function disruptionBudget(ctx: RenderContext, w: MailWorkload): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(ctx, w, w),
    spec: { maxUnavailable: 1, selector: { matchLabels: selector(ctx, w) } },
  };
}

export function renderMail(ctx: RenderContext): Rendered[] {
  const out: Rendered[] = [];
  const workloads: MailWorkload[] = [...ROLES, ...OUTBOUND_POOLS];
  for (const w of workloads) {
    if (replicasOf(ctx.spec, w) === 0) continue;
    out.push(statefulSet(ctx, w), { object: headlessService(ctx, w) }, { object: disruptionBudget(ctx, w) });
  }
  const { roles } = ctx.spec;
  if (roles.mta.replicas > 0) out.push({ comment: balancerNote('the MX host (the domains\' MX records)'), object: loadBalancerService(ctx, `${ctx.platform}-mx`, 'mta') });
  if (roles.msa.replicas > 0) out.push({ comment: balancerNote('the submission host mail clients send through'), object: loadBalancerService(ctx, `${ctx.platform}-submission`, 'msa') });
  if (roles.proxy.replicas > 0) {
    out.push({ object: readyProxyService(ctx, PROXY_LMTP_SERVICE, 'lmtp', true) }, { object: readyProxyService(ctx, PROXY_AUTH_SERVICE, 'auth', false) });
    if (quotaChecked(ctx.spec)) out.push({ object: readyProxyService(ctx, PROXY_QUOTA_SERVICE, 'quota-status', false) });
    out.push({ comment: balancerNote('the IMAP and POP3 host mail clients read from'), object: loadBalancerService(ctx, `${ctx.platform}-access`, 'proxy') });
  }
  if (roles.mailbox.replicas > 0) {
    out.push({
      comment: `Mail storage shared by every mailbox backend. ${STORAGE_NOTE}`,
      object: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: meta(ctx, mailStorageClaim(ctx), 'mailbox', { annotations: { 'mailfleet.io/storage-note': STORAGE_NOTE } }),
        spec: {
          accessModes: ['ReadWriteMany'],
          storageClassName: ctx.spec.kubernetes.storageClasses.mailbox,
          resources: { requests: { storage: ctx.spec.kubernetes.storageSizes.mail } },
        },
      },
    });
  }
  return out;
}
