/**
 * The reconcile plan, pure: the rendered objects (desired) against what the cluster holds with the
 * platform label (actual) → what to apply, what to prune, what to keep, and what belongs to someone else.
 * Nothing here talks to the API server.
 */
import { PLATFORM_LABEL } from '../context.ts';
import type { KubeObject } from '../objects.ts';
import { describeRef, identityOf, OWNED_KINDS, refOf, RETAINED_KINDS, serverMeta, type ObjectRef } from './kinds.ts';

/** The field manager of every write the operator makes. */
export const FIELD_MANAGER = 'mailfleet-operator';
/**
 * Which MailPlatform (`namespace/name`) an object was applied for. The platform label holds only the
 * name; two MailPlatforms of one name in different namespaces must not prune each other's objects.
 */
export const OWNER_ANNOTATION = 'mailfleet.io/owner';

export interface OwnerConflict {
  ref: ObjectRef;
  /** The MailPlatform the existing object belongs to (`namespace/name`, or `platform <name>` without the annotation). */
  heldBy: string;
}

export interface ReconcilePlan {
  /** Every rendered object with the owner annotation, in apply order. */
  apply: KubeObject[];
  /** Objects applied earlier for this platform that are no longer rendered, in delete order. */
  prune: ObjectRef[];
  /** No longer rendered but of a kind the operator never deletes (RETAINED_KINDS). */
  retained: ObjectRef[];
  /** Rendered objects that already exist for another platform: nothing is applied while any remain. */
  conflicts: OwnerConflict[];
}

export interface PlanInput {
  /** `namespace/name` of the MailPlatform. */
  owner: string;
  /** The MailPlatform's name: the value of the platform label. */
  platform: string;
  desired: readonly KubeObject[];
  /** Objects that carry the platform label (any value), as listed. */
  actual: readonly KubeObject[];
  /** Objects of the platform kept outside the render (its Secret, when not rendered): never pruned. */
  retain?: readonly Pick<ObjectRef, 'apiVersion' | 'kind' | 'namespace' | 'name'>[];
}

/** Whether the operator applied (and so may delete) this object: a managedFields Apply entry of its field manager. */
export function appliedByOperator(obj: KubeObject): boolean {
  return (serverMeta(obj).managedFields ?? []).some((e) => e.manager === FIELD_MANAGER && e.operation === 'Apply' && !e.subresource);
}

function annotationsOf(obj: KubeObject): Record<string, string> {
  return obj.metadata.annotations ?? {};
}

/** Ours: our platform label value, and our owner annotation. */
export function ownedBy(obj: KubeObject, platform: string, owner: string): boolean {
  return obj.metadata.labels?.[PLATFORM_LABEL] === platform && annotationsOf(obj)[OWNER_ANNOTATION] === owner;
}

/** The rendered object as the operator applies it: with the owner annotation. */
export function withOwner(obj: KubeObject, owner: string): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, annotations: { ...annotationsOf(obj), [OWNER_ANNOTATION]: owner } } };
}

const KIND_RANK = new Map(OWNED_KINDS.map((k, i) => [k.kind, i]));

/** Dependents before what they use: workloads go before their ConfigMaps, bindings before roles. */
function deleteOrder(a: ObjectRef, b: ObjectRef): number {
  const rank = (r: ObjectRef) => KIND_RANK.get(r.kind) ?? OWNED_KINDS.length;
  return rank(b) - rank(a) || identityOf(a).localeCompare(identityOf(b));
}

/** Objects of ours that may be deleted, and those of retained kinds, out of `candidates`. */
function splitDeletable(candidates: readonly KubeObject[]): { prune: ObjectRef[]; retained: ObjectRef[] } {
  const prune: ObjectRef[] = [];
  const retained: ObjectRef[] = [];
  for (const obj of candidates) {
    if (!appliedByOperator(obj)) continue;
    (RETAINED_KINDS.has(obj.kind) ? retained : prune).push(refOf(obj));
  }
  return { prune: prune.sort(deleteOrder), retained: retained.sort(deleteOrder) };
}

export function planReconcile(input: PlanInput): ReconcilePlan {
  const { owner, platform } = input;
  const desiredIds = new Set(input.desired.map((o) => identityOf(refOf(o))));
  const actualById = new Map(input.actual.map((o) => [identityOf(refOf(o)), o]));
  const conflicts: OwnerConflict[] = [];
  for (const obj of input.desired) {
    const existing = actualById.get(identityOf(refOf(obj)));
    if (!existing || ownedBy(existing, platform, owner)) continue;
    const label = existing.metadata.labels?.[PLATFORM_LABEL];
    const heldBy = annotationsOf(existing)[OWNER_ANNOTATION];
    // Same platform name, no owner annotation: applied by hand (`mailfleet render | kubectl apply`); adopt it.
    if (label === platform && heldBy === undefined) continue;
    conflicts.push({ ref: refOf(existing), heldBy: heldBy ?? `platform ${label ?? '?'}` });
  }
  const kept = new Set((input.retain ?? []).map(identityOf));
  const stale = input.actual.filter((o) => ownedBy(o, platform, owner) && !desiredIds.has(identityOf(refOf(o))) && !kept.has(identityOf(refOf(o))));
  return { apply: input.desired.map((o) => withOwner(o, owner)), ...splitDeletable(stale), conflicts };
}

/** When the MailPlatform goes: everything of ours that may be deleted. */
export function planDeletion(input: Omit<PlanInput, 'desired' | 'retain'>): { prune: ObjectRef[]; retained: ObjectRef[] } {
  return splitDeletable(input.actual.filter((o) => ownedBy(o, input.platform, input.owner)));
}

export function describeConflicts(conflicts: readonly OwnerConflict[]): string {
  return conflicts.map((c) => `${describeRef(c.ref)} belongs to MailPlatform ${c.heldBy}`).join('; ');
}
