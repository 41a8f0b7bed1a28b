/**
 * Server-side apply of the planned objects under the operator's field manager.
 *
 * Force policy: rendered objects are applied WITHOUT force. A 409 means another field manager (a
 * person with kubectl, an autoscaler, another tool) owns a field the spec also sets with another
 * value; forcing would silently undo their change, so the conflict is reported (Degraded,
 * ApplyConflict, naming object, field and manager) and left to a person. Annotating the MailPlatform
 * `mailfleet.io/force-conflicts: "true"` is that person's explicit decision to take such fields over.
 */
import { KubeApiError, type KubeApi } from './api.ts';
import { describeRef, refOf, serverMeta, type ObjectRef } from './kinds.ts';
import type { KubeObject } from '../objects.ts';
import { FIELD_MANAGER } from './plan.ts';

/** On a MailPlatform, `"true"`: apply with force, taking conflicting fields from other managers. */
export const FORCE_ANNOTATION = 'mailfleet.io/force-conflicts';

export interface FieldConflict {
  field: string;
  manager: string;
}

export interface ApplyConflict {
  ref: ObjectRef;
  fields: FieldConflict[];
}

export interface ApplyFailure {
  ref: ObjectRef;
  error: KubeApiError;
}

export interface ApplyOutcome {
  /** The server's answer for every object applied: its stored state, status included. */
  applied: KubeObject[];
  /** How many of them the apply changed (new resourceVersion or new object). */
  changed: number;
  conflicts: ApplyConflict[];
  /** Refused for good until something changes: invalid object, kind not served, forbidden. */
  failures: ApplyFailure[];
}

/** Errors worth retrying soon: no answer, timeouts, throttling, server trouble, stale writes. */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return false;
  if (err.status === 409) return !err.causes.some((c) => c.reason === 'FieldManagerConflict');
  return err.status === 0 || err.status === 401 || err.status === 408 || err.status === 429 || err.status >= 500;
}

export function fieldConflicts(err: KubeApiError): FieldConflict[] {
  return err.causes
    .filter((c) => c.reason === 'FieldManagerConflict')
    .map((c) => ({ field: c.field ?? '?', manager: /conflict with "([^"]*)"/.exec(c.message ?? '')?.[1] ?? '?' }));
}

export function describeApplyConflicts(conflicts: readonly ApplyConflict[]): string {
  return conflicts
    .map((c) => `${describeRef(c.ref)}: ${c.fields.map((f) => `${f.field} is managed by "${f.manager}"`).join(', ')}`)
    .join('; ');
}

/**
 * Applies every object in order. Conflicts and terminal refusals are collected and the rest still
 * applied (one bad object does not hold back the others); a retryable error stops at once and throws.
 */
export async function applyObjects(api: KubeApi, objects: readonly KubeObject[], actualVersions: ReadonlyMap<string, string>, force: boolean, identity: (o: KubeObject) => string): Promise<ApplyOutcome> {
  const out: ApplyOutcome = { applied: [], changed: 0, conflicts: [], failures: [] };
  for (const obj of objects) {
    try {
      const stored = await api.apply(obj, { manager: FIELD_MANAGER, force });
      out.applied.push(stored);
      if (actualVersions.get(identity(obj)) !== serverMeta(stored).resourceVersion) out.changed++;
    } catch (err) {
      if (isRetryable(err) || !(err instanceof KubeApiError)) throw err;
      if (err.status === 409) out.conflicts.push({ ref: refOf(obj), fields: fieldConflicts(err) });
      else out.failures.push({ ref: refOf(obj), error: err });
    }
  }
  return out;
}
