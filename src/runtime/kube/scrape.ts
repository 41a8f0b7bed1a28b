/** How the metrics stack finds every agent's `/metrics`: pod annotations, VMPodScrape or ServiceMonitor. */
import { PLATFORM_LABEL, meta, type RenderContext } from './context.ts';
import type { Rendered } from './objects.ts';

export function scrapeAnnotations(ctx: RenderContext): Record<string, string> {
  if (ctx.spec.kubernetes.scrape !== 'annotations') return {};
  return { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(ctx.spec.ports.http), 'prometheus.io/path': '/metrics' };
}

const RELABEL_ROLE = { sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_component'], targetLabel: 'role' };
const RELABEL_INSTANCE = { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'instance' };

export function renderScrape(ctx: RenderContext): Rendered[] {
  const selector = { matchLabels: { [PLATFORM_LABEL]: ctx.platform } };
  switch (ctx.spec.kubernetes.scrape) {
    case 'annotations':
      return [];
    case 'VMPodScrape':
      return [{
        comment: 'Needs the VictoriaMetrics operator (operator.victoriametrics.com CRDs).',
        object: {
          apiVersion: 'operator.victoriametrics.com/v1beta1',
          kind: 'VMPodScrape',
          metadata: meta(ctx, `${ctx.platform}-agents`, 'metrics'),
          spec: {
            selector,
            podMetricsEndpoints: [{
              port: 'http',
              path: '/metrics',
              interval: '30s',
              relabelConfigs: [RELABEL_ROLE, RELABEL_INSTANCE],
            }],
          },
        },
      }];
    case 'ServiceMonitor':
      return [{
        comment: 'Needs the Prometheus operator (monitoring.coreos.com CRDs).',
        object: {
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'ServiceMonitor',
          metadata: meta(ctx, `${ctx.platform}-agents`, 'metrics'),
          spec: {
            selector,
            namespaceSelector: { matchNames: [ctx.namespace] },
            endpoints: [{ port: 'http', path: '/metrics', interval: '30s', relabelings: [RELABEL_ROLE, RELABEL_INSTANCE] }],
          },
        },
      }];
  }
}
