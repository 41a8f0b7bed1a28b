import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../../../src/runtime/kube/index.ts';
import { nextConditions, nextStatus, notReadyWorkloads, workloadReadiness } from '../../../../src/runtime/kube/operator/status.ts';

const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2026-01-01T00:05:00Z');

function statefulSet(replicas: number, status: Record<string, number>, generation = 1): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'mailbox', namespace: 'mail', generation } as KubeObject['metadata'], spec: { replicas }, status };
}

test('GIVEN workload statuses WHEN judged THEN ready means every wanted replica ready at the current generation', () => {
  const cases: [KubeObject, boolean][] = [
    [statefulSet(3, { readyReplicas: 3, observedGeneration: 1 }), true],
    [statefulSet(3, { readyReplicas: 3 }), true],
    [statefulSet(3, { readyReplicas: 2, observedGeneration: 1 }), false],
    [statefulSet(1, { readyReplicas: 3, observedGeneration: 2 }, 2), false],
    [statefulSet(3, { readyReplicas: 3, observedGeneration: 1 }, 2), false],
    [statefulSet(2, {}), false],
  ];
  for (const [obj, ready] of cases) assert.equal(workloadReadiness(obj).ready, ready, JSON.stringify([obj.spec, obj.status]));
  assert.deepEqual(notReadyWorkloads([statefulSet(3, { readyReplicas: 1 })]), { notReady: ['StatefulSet mail/mailbox 1/3 ready'], workloads: 1 });
});

test('GIVEN an invalid spec WHEN conditions are computed THEN Degraded is True with the problems and Ready and Progressing are False for the same reason', () => {
  const conditions = nextConditions([], { kind: 'degraded', reason: 'SpecInvalid', message: 'spec.roles.mailbox.replicas: must be >= 0' }, 4, T0);

  assert.deepEqual(conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration]), [
    ['Ready', 'False', 'SpecInvalid', 4],
    ['Progressing', 'False', 'SpecInvalid', 4],
    ['Degraded', 'True', 'SpecInvalid', 4],
  ]);
  assert.equal(conditions[2]!.message, 'spec.roles.mailbox.replicas: must be >= 0');
});

test('GIVEN earlier conditions WHEN a status keeps its value THEN its lastTransitionTime is kept, and a changed one gets the new time', () => {
  const before = nextConditions([], { kind: 'applied', notReady: ['StatefulSet mail/mailbox 1/3 ready'], workloads: 9 }, 1, T0);

  const after = nextConditions(before, { kind: 'applied', notReady: [], workloads: 9 }, 1, T1);

  const at = (type: string) => after.find((c) => c.type === type)!.lastTransitionTime;
  assert.equal(at('Degraded'), '2026-01-01T00:00:00Z');
  assert.equal(at('Ready'), '2026-01-01T00:05:00Z');
  assert.deepEqual(after.map((c) => [c.type, c.status, c.reason]), [['Ready', 'True', 'AllReplicasReady'], ['Progressing', 'False', 'Reconciled'], ['Degraded', 'False', 'Reconciled']]);
});

test('GIVEN a status with counts WHEN the next status is computed THEN objects is replaced, pruned accumulates and observedGeneration follows the resource', () => {
  const platform: KubeObject = { apiVersion: 'mailfleet.io/v1alpha1', kind: 'MailPlatform', metadata: { name: 'demo', generation: 3 } as KubeObject['metadata'], status: { objects: 40, pruned: 2 } };

  const status = nextStatus(platform, { kind: 'applied', notReady: [], workloads: 1 }, { objects: 35, prunedNow: 5 }, T0);

  assert.deepEqual([status.observedGeneration, status.objects, status.pruned], [3, 35, 7]);
  assert.deepEqual(nextStatus(platform, { kind: 'degraded', reason: 'SpecInvalid', message: 'x' }, {}, T0).objects, 40);
});
