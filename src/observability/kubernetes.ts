/**
 * Kubernetes pack: the platform's objects as kube-state-metrics and the kubelet report them
 * (standard names; kube-state-metrics must be scraped with its `namespace` label kept, i.e.
 * honor_labels, as every kube-prometheus setup does). Scoped to the platform's namespace.
 */
import { sourceMissing, type AlertRule, type RuleGroup, type Scope } from './rule.ts';

const MIN = 60;
/**
 * Free space of a volume. A queue volume that fills stops Postfix accepting mail (queue_minfree) and
 * a full mailbox volume stops deliveries, so 15 % warns while there is time to grow it, 5 % is critical.
 * Maildir spends an inode per message: inodes get the same treatment.
 */
const VOLUME_FREE_WARNING = 0.15;
const VOLUME_FREE_CRITICAL = 0.05;
const INODES_FREE_WARNING = 0.1;

function workloads(s: Scope): AlertRule[] {
  return [
    {
      alert: 'MailfleetPodCrashLooping',
      expr: `max_over_time(${s.sel('kube_pod_container_status_waiting_reason', 'reason="CrashLoopBackOff"')}[5m]) >= 1`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: 'Container {{ $labels.container }} of pod {{ $labels.pod }} is crash looping',
      description: 'It keeps exiting and Kubernetes backs off restarting it: the pod serves nothing.',
      runbook: 'kubectl -n {{ $labels.namespace }} logs {{ $labels.pod }} -c {{ $labels.container }} --previous',
    },
    {
      alert: 'MailfleetPodNotRunning',
      expr: `max by (namespace, pod) (${s.sel('kube_pod_status_phase', 'phase=~"Pending|Unknown|Failed"')}) > 0`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: 'Pod {{ $labels.pod }} is not running',
      description: 'It has been pending, failed or unknown for a quarter of an hour: unschedulable (resources, volume, anti-affinity) or its node is lost.',
      runbook: 'kubectl -n {{ $labels.namespace }} describe pod {{ $labels.pod }} (events at the end).',
    },
    {
      alert: 'MailfleetContainerOomKilled',
      expr: `${s.sel('kube_pod_container_status_last_terminated_reason', 'reason="OOMKilled"')} == 1`
        + ` and on (namespace, pod, container) increase(${s.sel('kube_pod_container_status_restarts_total')}[15m]) > 0`,
      forSeconds: 0,
      severity: 'warning',
      summary: 'Container {{ $labels.container }} of pod {{ $labels.pod }} was killed for memory',
      description: 'It reached its memory limit and restarted: raise spec.kubernetes.resources for its workload or find what grows.',
      runbook: 'kubectl -n {{ $labels.namespace }} describe pod {{ $labels.pod }}; compare usage with the limit.',
    },
    {
      alert: 'MailfleetStatefulSetReplicasMismatch',
      expr: `${s.sel('kube_statefulset_status_replicas_ready')} != ${s.sel('kube_statefulset_replicas')}`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: 'StatefulSet {{ $labels.statefulset }} has {{ $value }} ready replicas, not as many as it should',
      description: 'Some of its pods have not been ready for a quarter of an hour: the role runs with less capacity or redundancy.',
      runbook: 'kubectl -n {{ $labels.namespace }} get pods, then describe the pod that is not ready.',
    },
    {
      alert: 'MailfleetDeploymentReplicasMismatch',
      expr: `${s.sel('kube_deployment_status_replicas_available')} != ${s.sel('kube_deployment_spec_replicas')}`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: 'Deployment {{ $labels.deployment }} has {{ $value }} available replicas, not as many as it should',
      description: 'Some of its pods have not been available for a quarter of an hour.',
      runbook: 'kubectl -n {{ $labels.namespace }} rollout status deployment/{{ $labels.deployment }}',
    },
    {
      alert: 'MailfleetDaemonSetNotReady',
      expr: `${s.sel('kube_daemonset_status_number_ready')} < ${s.sel('kube_daemonset_status_desired_number_scheduled')}`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: 'DaemonSet {{ $labels.daemonset }} is not ready on every node',
      description: 'Only {{ $value }} of its pods are ready: nodes without one lose log shipping or node-local DNS.',
      runbook: 'kubectl -n {{ $labels.namespace }} get pods -o wide for the pods of the DaemonSet that are not ready.',
    },
    {
      alert: 'MailfleetJobFailed',
      expr: `${s.sel('kube_job_status_failed')} > 0`,
      forSeconds: 5 * MIN,
      severity: 'warning',
      summary: 'Job {{ $labels.job_name }} failed',
      description: 'A Job of the platform ran out of retries.',
      runbook: 'kubectl -n {{ $labels.namespace }} logs job/{{ $labels.job_name }}; delete the Job once understood.',
    },
  ];
}

function volumes(s: Scope): AlertRule[] {
  const free = `${s.sel('kubelet_volume_stats_available_bytes')} / ${s.sel('kubelet_volume_stats_capacity_bytes')}`;
  const filling = (severity: 'warning' | 'critical', limit: number): AlertRule => ({
    alert: 'MailfleetVolumeFillingUp',
    expr: `${free} < ${limit}`,
    forSeconds: severity === 'critical' ? 5 * MIN : 15 * MIN,
    severity,
    summary: 'Volume {{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free',
    description: `Under ${limit * 100} % free: a full queue volume stops Postfix accepting mail, a full mailbox volume stops deliveries.`,
    runbook: 'Grow the PVC (if its StorageClass allows) or find what fills it (a deferred queue, a mailbox without quota).',
  });
  return [
    filling('warning', VOLUME_FREE_WARNING),
    filling('critical', VOLUME_FREE_CRITICAL),
    {
      alert: 'MailfleetVolumeInodesLow',
      expr: `${s.sel('kubelet_volume_stats_inodes_free')} / ${s.sel('kubelet_volume_stats_inodes')} < ${INODES_FREE_WARNING}`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: 'Volume {{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} of its inodes free',
      description: 'Every queued message and every Maildir message takes an inode: when they run out, writes fail with space left.',
      runbook: 'Expunge old mail or grow the volume (a new filesystem gets more inodes).',
    },
    {
      alert: 'MailfleetVolumeClaimPending',
      expr: `${s.sel('kube_persistentvolumeclaim_status_phase', 'phase="Pending"')} == 1`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: 'Volume claim {{ $labels.persistentvolumeclaim }} is not bound',
      description: 'No volume was provisioned for it: its pod cannot start.',
      runbook: 'kubectl -n {{ $labels.namespace }} describe pvc {{ $labels.persistentvolumeclaim }}; check the StorageClass in spec.kubernetes.storageClasses.',
    },
  ];
}

export function kubernetesGroups(s: Scope): RuleGroup[] {
  return [
    { name: 'mailfleet-kubernetes-workloads', rules: workloads(s) },
    { name: 'mailfleet-kubernetes-volumes', rules: volumes(s) },
    {
      name: 'mailfleet-kubernetes-sources',
      rules: [sourceMissing('Kubernetes', [
        { selector: s.sel('kube_pod_info'), source: 'kube-state-metrics' },
        { selector: s.sel('kubelet_volume_stats_capacity_bytes'), source: 'kubelet' },
      ])],
    },
  ];
}
