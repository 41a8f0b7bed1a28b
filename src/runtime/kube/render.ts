/** spec → every Kubernetes object of the platform, in apply order. */
import { ROLES, type MailPlatform } from '../../spec/index.ts';
import { renderAntivirus } from './antivirus.ts';
import { renderCertificates } from './certificates.ts';
import { renderConfigs } from './configs.ts';
import { meta, OUTBOUND_POOLS, renderContext, type MailWorkload, type RenderContext, type RenderOptions } from './context.ts';
import { renderController } from './controller.ts';
import { renderDns } from './dns.ts';
import { renderEgress } from './egress.ts';
import { renderFilter } from './filter.ts';
import { renderMail } from './mail.ts';
import { renderMailNetworkPolicies } from './network.ts';
import { sortObjects, type KubeObject, type Rendered } from './objects.ts';
import { renderObservability } from './observability.ts';
import { renderPolicy } from './policy.ts';
import { renderProbe } from './probe.ts';
import { renderScrape } from './scrape.ts';

/**
 * A mail platform's Namespace labels: Pod Security enforces "privileged" (the mail pods set unsafe sysctls,
 * promtail reads node logs through hostPath), warns and audits at "baseline".
 */
export function namespaceLabels(labels: Record<string, string>): Record<string, string> {
  return {
    ...labels,
    'pod-security.kubernetes.io/enforce': 'privileged',
    'pod-security.kubernetes.io/warn': 'baseline',
    'pod-security.kubernetes.io/audit': 'baseline',
  };
}

function namespace(ctx: RenderContext): Rendered {
  const m = meta(ctx, ctx.namespace, 'namespace', { namespaced: false });
  return {
    comment: 'Pod Security: enforce "privileged", because promtail reads the node\'s pod logs through hostPath and the mail pods\nset unsafe sysctls (somaxconn, tcp_tw_reuse, max_dgram_qlen; unless spec.kubernetes.unsafeSysctls is false), which\n"baseline" forbids; warn and audit at "baseline" so anything else that would not pass it is reported.',
    object: {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { ...m, labels: namespaceLabels(m.labels) },
    },
  };
}

/** Every object the spec enables, with comments, sorted for apply. */
export function renderPlatformDocuments(doc: MailPlatform, opts: RenderOptions = {}): Rendered[] {
  const ctx = renderContext(doc, opts);
  const workloads: MailWorkload[] = [...ROLES, ...OUTBOUND_POOLS];
  return sortObjects([
    namespace(ctx),
    ...renderConfigs(ctx),
    ...renderCertificates(ctx),
    ...renderMail(ctx),
    ...renderEgress(ctx),
    ...renderController(ctx),
    ...renderPolicy(ctx),
    ...renderFilter(ctx),
    ...renderAntivirus(ctx),
    ...renderProbe(ctx),
    ...renderScrape(ctx),
    ...renderObservability(ctx),
    ...renderDns(ctx),
    ...renderMailNetworkPolicies(ctx, workloads),
  ]);
}

export function renderPlatform(doc: MailPlatform, opts: RenderOptions = {}): KubeObject[] {
  return renderPlatformDocuments(doc, opts).map((r) => r.object);
}
