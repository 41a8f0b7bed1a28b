/** What every part of the renderer shares: the spec, names, labels, images and where peers are by name. */
import type { Peers } from '../../config/index.ts';
import { antivirusRuns, filterRuns, policyRuns, ROLES, type MailPlatform, type PlatformSpec, type Role } from '../../spec/index.ts';

/** Mail roles plus the outbound pools: every one runs Postfix or Dovecot or slapd or Redis under the agent. */
export const OUTBOUND_POOLS = ['mailout', 'fallback'] as const;
export type OutboundPool = (typeof OUTBOUND_POOLS)[number];
export type MailWorkload = Role | OutboundPool;

export const PLATFORM_LABEL = 'mailfleet.io/platform';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';

/** The labels of the operator's own pods (`mailfleet render operator`), which NetworkPolicies name. */
export const OPERATOR_POD_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/name': 'mailfleet', [COMPONENT_LABEL]: 'operator', 'app.kubernetes.io/part-of': 'mailfleet' };

/** What the renderer is told beyond the spec. */
export interface RenderOptions {
  /**
   * The namespace the operator runs in, when the operator renders: its backend sync there must reach the
   * proxies' doveadm API through their NetworkPolicy. `mailfleet render` alone has no operator: unset.
   */
  operatorNamespace?: string;
}

export interface RenderContext {
  doc: MailPlatform;
  spec: PlatformSpec;
  platform: string;
  namespace: string;
  operatorNamespace?: string;
}

export function renderContext(doc: MailPlatform, opts: RenderOptions = {}): RenderContext {
  return { doc, spec: doc.spec, platform: doc.metadata.name, namespace: doc.spec.kubernetes.namespace, ...(opts.operatorNamespace ? { operatorNamespace: opts.operatorNamespace } : {}) };
}

/** Labels on every object: recommended labels plus the platform label the operator prunes by. */
export function labels(ctx: RenderContext, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'mailfleet',
    'app.kubernetes.io/instance': ctx.platform,
    [COMPONENT_LABEL]: component,
    'app.kubernetes.io/part-of': 'mailfleet',
    'app.kubernetes.io/managed-by': 'mailfleet',
    [PLATFORM_LABEL]: ctx.platform,
  };
}

/** The labels a workload's selector matches (stable: a selector cannot change after creation). */
export function selector(ctx: RenderContext, component: string): Record<string, string> {
  return { 'app.kubernetes.io/instance': ctx.platform, [COMPONENT_LABEL]: component };
}

export function meta(ctx: RenderContext, name: string, component: string, extra: { annotations?: Record<string, string>; namespaced?: boolean } = {}) {
  return {
    name,
    ...(extra.namespaced === false ? {} : { namespace: ctx.namespace }),
    labels: labels(ctx, component),
    ...(extra.annotations && Object.keys(extra.annotations).length > 0 ? { annotations: extra.annotations } : {}),
  };
}

export type MailfleetImage = 'mailfleet' | 'mailfleet-postfix' | 'mailfleet-dovecot' | 'mailfleet-openldap' | 'mailfleet-redis' | 'mailfleet-unbound' | 'mailfleet-rspamd' | 'mailfleet-clamav';

export function image(ctx: RenderContext, name: MailfleetImage): string {
  const { registry, tag } = ctx.spec.kubernetes.images;
  return `${registry}/${name}:${tag}`;
}

export function replicasOf(spec: PlatformSpec, w: MailWorkload): number {
  return w === 'mailout' || w === 'fallback' ? spec.outbound[w].replicas : spec.roles[w].replicas;
}

/** `<service>.<namespace>.svc.<cluster domain>`: a Service's name as every pod resolves it with ndots:1. */
export function serviceHost(ctx: RenderContext, service: string): string {
  return `${service}.${ctx.namespace}.svc.${ctx.spec.kubernetes.clusterDomain}`;
}

/**
 * The headless Service the `mta` and `msa` deliver LMTP to: its A records are the proxy pods that are ready, unlike
 * those of the `proxy` Service, which publishes not-ready pods for the director ring (see mail.ts).
 */
export const PROXY_LMTP_SERVICE = 'proxy-lmtp';

/**
 * The ClusterIP Service the `msa` has SMTP AUTH checked through (Dovecot auth on the proxies): kube-proxy spreads its
 * connections over the ready proxy pods (see config/postfix-sasl.ts for why not a headless name).
 */
export const PROXY_AUTH_SERVICE = 'proxy-auth';

/**
 * The ClusterIP Service the `mta` asks the proxies' quota relay through at RCPT time (spec.quota.checkAtRcpt), for the
 * same reason as {@link PROXY_AUTH_SERVICE} (see config/postfix-quota.ts).
 */
export const PROXY_QUOTA_SERVICE = 'proxy-quota';

/** The mta asks the proxies about quota, and they ask the backends: the check is on and both roles run. */
export function quotaChecked(spec: PlatformSpec): boolean {
  return spec.quota.checkAtRcpt && spec.roles.proxy.replicas > 0 && spec.roles.mailbox.replicas > 0;
}

/**
 * Each StatefulSet pod by its stable DNS name through the headless Service of its role; the policy server by
 * its Service (`policy`), which balances Postfix's connections over its replicas; rspamd by its Service (`as`),
 * clamd by its (`av`).
 */
export function kubePeers(ctx: RenderContext): Peers {
  const out = {} as Peers;
  for (const role of ROLES) {
    out[role] = Array.from({ length: ctx.spec.roles[role].replicas }, (_, i) => ({
      name: `${role}-${i}`,
      host: `${role}-${i}.${serviceHost(ctx, role)}`,
    }));
  }
  if (policyRuns(ctx.spec)) out.policy = [{ name: 'policy', host: serviceHost(ctx, 'policy') }];
  // One milter: the Service balances Postfix's connections over the rspamd replicas.
  if (filterRuns(ctx.spec)) out.as = [{ name: 'as', host: serviceHost(ctx, 'as') }];
  // rspamd asks clamd through its Service likewise.
  if (antivirusRuns(ctx.spec)) out.av = [{ name: 'av', host: serviceHost(ctx, 'av') }];
  return out;
}
