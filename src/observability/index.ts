/**
 * Alert rules of the platform, in Prometheus rule format: the files vmalert loads on the single host
 * and from the rules ConfigMap in Kubernetes (promtool checks and unit-tests them).
 */
import { antivirusRuns, authRelayRuns, filterRuns, INSTANCE_ROLES, instanceReplicas, policyRuns, type PlatformSpec } from '../spec/index.ts';
import { filterGroups } from './filter.ts';
import { hostGroups } from './host.ts';
import { kubernetesGroups } from './kubernetes.ts';
import { mailFlowGroups } from './mail-flow.ts';
import { mailServiceGroups } from './mail-services.ts';
import { platformGroups } from './platform.ts';
import { redisGroups } from './redis.ts';
import { renderRuleFile, scope } from './rule.ts';

export { formatDuration, MIN_FOR_SECONDS, scaledFor, type Severity } from './rule.ts';
export { WATCHDOG_ALERT } from './platform.ts';

export const MAIL_RULES_FILE = 'mailfleet-mail.yaml';
export const PLATFORM_RULES_FILE = 'mailfleet-platform.yaml';
export const KUBERNETES_RULES_FILE = 'mailfleet-kubernetes.yaml';
export const HOST_RULES_FILE = 'mailfleet-host.yaml';
export const REDIS_RULES_FILE = 'mailfleet-redis.yaml';

export interface AlertRuleOptions {
  /**
   * The platform's Kubernetes namespace: every selector of the mail, platform, Kubernetes and Redis packs
   * matches it (`namespace="…"`), and the Kubernetes and host packs are rendered. Default: none, for the single host,
   * whose series carry no namespace; there are no Kubernetes and host packs then.
   */
  namespace?: string;
}

/**
 * File name → rule file, one per pack: mail, platform, Redis (while a kvs runs), and with a namespace (Kubernetes)
 * only, Kubernetes and host.
 * `for:` durations follow `spec.alerting.forScale`, group intervals `spec.alerting.evaluationSeconds`.
 */
export function alertRuleFiles(spec: PlatformSpec, opts: AlertRuleOptions = {}): Record<string, string> {
  const s = scope(opts.namespace);
  const render = { forScale: spec.alerting.forScale, evaluationSeconds: spec.alerting.evaluationSeconds };
  return {
    [MAIL_RULES_FILE]: renderRuleFile([
      ...mailFlowGroups(s, { policyRuns: policyRuns(spec), quotaChecked: spec.quota.checkAtRcpt }),
      ...mailServiceGroups(s, opts.namespace === undefined, authRelayRuns(spec)),
      ...filterGroups(s, { filterRuns: filterRuns(spec), antivirusRuns: antivirusRuns(spec), failure: spec.filter.failure }),
    ], render),
    [PLATFORM_RULES_FILE]: renderRuleFile(platformGroups(s, INSTANCE_ROLES.filter((role) => instanceReplicas(spec, role) > 0)), render),
    // The kvs agents serve Redis's figures on both runtimes (src/agent/redis-metrics.ts).
    ...(spec.roles.kvs.replicas > 0 ? { [REDIS_RULES_FILE]: renderRuleFile(redisGroups(s), render) } : {}),
    // Their series come from kube-state-metrics and the kubelet, and node_exporter, which the single host does not
    // run: there their rules could never fire.
    ...(opts.namespace === undefined
      ? {}
      : {
          [KUBERNETES_RULES_FILE]: renderRuleFile(kubernetesGroups(s), render),
          [HOST_RULES_FILE]: renderRuleFile(hostGroups(), render),
        }),
  };
}
