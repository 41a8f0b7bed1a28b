/**
 * The Deployment shape the filter roles share (`as`, `av`): stateless agent pods, scraped by annotation, that a
 * rolling update replaces one at a time, a new pod first: it is ready only after a slow start (rspamd's cold
 * start, clamd loading its database), so an old one never goes before.
 */
import { meta, selector, type RenderContext } from './context.ts';
import type { KubeObject } from './objects.ts';
import { gracePeriodSeconds, placement, podBasics } from './pods.ts';
import { scrapeAnnotations } from './scrape.ts';

export interface FilterPod {
  securityContext: object;
  containers: object[];
  volumes: object[];
}

export function filterRoleDeployment(ctx: RenderContext, component: string, replicas: number, pod: FilterPod): KubeObject {
  const annotations = scrapeAnnotations(ctx);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(ctx, component, component),
    spec: {
      replicas,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      selector: { matchLabels: selector(ctx, component) },
      template: {
        metadata: { labels: meta(ctx, component, component).labels, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
        spec: {
          ...podBasics(gracePeriodSeconds(ctx)),
          securityContext: pod.securityContext,
          ...placement(ctx, component),
          containers: pod.containers,
          volumes: pod.volumes,
        },
      },
    },
  };
}
