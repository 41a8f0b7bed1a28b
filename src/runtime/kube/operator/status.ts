/**
 * The MailPlatform's status: what the last reconcile found, as conditions Ready / Progressing /
 * Degraded with reasons, `observedGeneration`, `objects` and `pruned`. Computing it is pure; it is
 * written through the status subresource only when it differs from what is there, so a reconcile that
 * changes nothing writes nothing (and wakes nobody).
 */
import { canonical, type KubeObject } from '../objects.ts';
import type { KubeApi } from './api.ts';
import { describeRef, refOf, serverMeta, WORKLOAD_KINDS } from './kinds.ts';
import { FIELD_MANAGER } from './plan.ts';

export const CONDITION_TYPES = ['Ready', 'Progressing', 'Degraded'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** Why the platform is Degraded; each also stands as the reason of Ready=False and Progressing=False. */
export const DEGRADED_REASONS = ['SpecInvalid', 'NotAllowed', 'OwnerConflict', 'ApplyConflict', 'ApplyFailed', 'PruneFailed', 'ApiError'] as const;
export type DegradedReason = (typeof DEGRADED_REASONS)[number];

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

export interface PlatformStatus {
  observedGeneration: number;
  conditions: Condition[];
  /** Objects the last successful apply covered. */
  objects: number;
  /** Objects deleted because no longer rendered, since the platform was created. */
  pruned: number;
}

/** What a reconcile found. */
export type Observation =
  | { kind: 'degraded'; reason: DegradedReason; message: string }
  | { kind: 'applied'; notReady: readonly string[]; workloads: number; leftToInstaller?: readonly string[] }
  | { kind: 'deleting'; remaining: number };

/**
 * Ready when the workload controller has seen the current spec and every wanted replica is ready
 * (an absent `observedGeneration` is taken as seen: not every reporter sets it).
 */
export function workloadReadiness(obj: KubeObject): { ready: boolean; summary: string } {
  const spec = (obj.spec ?? {}) as { replicas?: number };
  const status = (obj.status ?? {}) as { readyReplicas?: number; numberReady?: number; desiredNumberScheduled?: number; observedGeneration?: number };
  const wanted = obj.kind === 'DaemonSet' ? (status.desiredNumberScheduled ?? 0) : (spec.replicas ?? 1);
  const ready = obj.kind === 'DaemonSet' ? (status.numberReady ?? 0) : (status.readyReplicas ?? 0);
  const generation = serverMeta(obj).generation ?? 0;
  const seen = status.observedGeneration === undefined || status.observedGeneration >= generation;
  return { ready: seen && ready === wanted, summary: `${describeRef(refOf(obj))} ${ready}/${wanted} ready${seen ? '' : ' (update not yet observed)'}` };
}

/** Workloads among `objects` that are not ready, as `StatefulSet mail/mailbox 1/3 ready`. */
export function notReadyWorkloads(objects: readonly KubeObject[]): { notReady: string[]; workloads: number } {
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
  return { notReady: workloads.map(workloadReadiness).filter((r) => !r.ready).map((r) => r.summary), workloads: workloads.length };
}

type Wanted = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

const REFUSED: Partial<Record<DegradedReason, string>> = {
  SpecInvalid: 'the spec is invalid: nothing was applied',
  NotAllowed: 'the spec asks for what the operator\'s installer does not allow: nothing was applied',
};

function wantedConditions(o: Observation): Wanted[] {
  const c = (type: ConditionType, status: Condition['status'], reason: string, message: string): Wanted => ({ type, status, reason, message });
  switch (o.kind) {
    case 'degraded':
      return [
        c('Ready', 'False', o.reason, REFUSED[o.reason] ?? 'the platform does not match its spec'),
        c('Progressing', 'False', o.reason, 'blocked until the problem is resolved'),
        c('Degraded', 'True', o.reason, o.message),
      ];
    case 'applied': {
      const applied = o.leftToInstaller?.length
        ? `every object in the platform's namespace is applied; left to the operator's installer (cluster-scoped or in another namespace): ${o.leftToInstaller.join(', ')}`
        : 'every object is applied';
      if (o.notReady.length > 0) {
        return [
          c('Ready', 'False', 'WorkloadsNotReady', o.notReady.join('; ')),
          c('Progressing', 'True', 'WorkloadsNotReady', `waiting for ${o.notReady.length} of ${o.workloads} workloads`),
          c('Degraded', 'False', 'Reconciled', applied),
        ];
      }
      return [
        c('Ready', 'True', 'AllReplicasReady', `${o.workloads} workloads ready`),
        c('Progressing', 'False', 'Reconciled', 'every object is applied and every workload is ready'),
        c('Degraded', 'False', 'Reconciled', applied),
      ];
    }
    case 'deleting':
      return [
        c('Ready', 'False', 'Deleting', 'the MailPlatform is being deleted'),
        c('Progressing', 'True', 'Deleting', `${o.remaining} objects left to delete`),
        c('Degraded', 'False', 'Deleting', 'deleting what the platform owns'),
      ];
  }
}

/** The next conditions: a condition keeps its lastTransitionTime unless its status changes. */
export function nextConditions(previous: readonly Partial<Condition>[], o: Observation, generation: number, now: Date): Condition[] {
  const at = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return wantedConditions(o).map((w) => {
    const before = previous.find((p) => p.type === w.type);
    const lastTransitionTime = before?.status === w.status && before.lastTransitionTime ? before.lastTransitionTime : at;
    return { ...w, observedGeneration: generation, lastTransitionTime };
  });
}

export function currentStatus(platform: KubeObject): Partial<PlatformStatus> {
  return platform.status ?? {};
}

export function nextStatus(platform: KubeObject, o: Observation, counts: { objects?: number; prunedNow?: number }, now: Date): PlatformStatus {
  const current = currentStatus(platform);
  const generation = serverMeta(platform).generation ?? 0;
  return {
    observedGeneration: generation,
    conditions: nextConditions(current.conditions ?? [], o, generation, now),
    objects: counts.objects ?? current.objects ?? 0,
    pruned: (current.pruned ?? 0) + (counts.prunedNow ?? 0),
  };
}

/** Compared with keys sorted: the server may return them in another order than written. */
function sameStatus(a: Partial<PlatformStatus>, b: PlatformStatus): boolean {
  const { observedGeneration, conditions, objects, pruned } = a;
  return JSON.stringify(canonical({ observedGeneration, conditions, objects, pruned })) === JSON.stringify(canonical(b));
}

/**
 * Applies the status through the status subresource, with force: the operator is the status's only
 * author, and a stale entry of another manager there must not keep it from reporting. No write when unchanged.
 */
export async function writeStatus(api: KubeApi, platform: KubeObject, status: PlatformStatus): Promise<boolean> {
  if (sameStatus(currentStatus(platform), status)) return false;
  const body: KubeObject = {
    apiVersion: platform.apiVersion,
    kind: platform.kind,
    metadata: { name: platform.metadata.name, namespace: platform.metadata.namespace },
    status,
  };
  await api.apply(body, { manager: FIELD_MANAGER, force: true, subresource: 'status' });
  return true;
}
