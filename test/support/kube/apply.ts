/**
 * Server-side apply (`application/apply-patch+yaml`): the applied configuration is the manager's
 * full intent. Fields it sets that another manager owns with a different value are conflicts
 * (409 unless `force`); fields it set last time but omits now are removed unless someone else
 * owns them; fields with the same value become shared. See managed-fields.ts for granularity.
 */
import { cloneJson, jsonEqual, kubeTimestamp, valueAt, type KubeObject } from './json-value.ts';
import {
  decodePath,
  deleteAt,
  displayPath,
  inScope,
  leafFields,
  overlaps,
  pruneMissing,
  readManaged,
  sameEntry,
  setAt,
  type FieldPath,
  type ManagedEntry,
  type WriteContext,
} from './managed-fields.ts';
import { objectName } from './object-meta.ts';
import { applyConflict } from './status.ts';

export interface ApplyResult {
  /** The merged object, before system metadata is carried over. */
  object: KubeObject;
  /** Ownership to store once the object is final. */
  managed: ManagedEntry[];
}

export function serverSideApply(stored: KubeObject | undefined, applied: KubeObject, force: boolean, ctx: WriteContext): ApplyResult {
  const include = (p: FieldPath) => inScope(ctx.t, ctx.scope, p);
  const appliedSet = leafFields(applied, include);
  const appliedPaths = [...appliedSet].map(decodePath);
  const entries = stored ? readManaged(stored.metadata) : [];
  let own = entries.find((e) => sameEntry(e, ctx.manager, 'Apply', ctx.scope));
  const previous = own ? [...own.fields] : [];

  if (stored) {
    const conflicts = new Map<string, { manager: string; field: string; entry: ManagedEntry; owned: string }>();
    for (const p of appliedPaths) {
      if (jsonEqual(valueAt(stored, p), valueAt(applied, p))) continue;
      for (const e of entries) {
        if (e === own) continue;
        for (const q of e.fields) {
          if (!overlaps(p, decodePath(q))) continue;
          conflicts.set(`${e.manager}\0${q}`, { manager: e.manager, field: displayPath(decodePath(q)), entry: e, owned: q });
        }
      }
    }
    if (conflicts.size > 0 && !force) throw applyConflict(ctx.t, objectName(stored), [...conflicts.values()]);
    for (const c of conflicts.values()) c.entry.fields.delete(c.owned);
  }

  const object = stored ? cloneJson(stored) : cloneJson(applied);
  if (stored) {
    for (const r of previous.map(decodePath)) {
      if (appliedPaths.some((p) => overlaps(p, r))) continue;
      if (entries.some((e) => e !== own && [...e.fields].some((q) => overlaps(decodePath(q), r)))) continue;
      deleteAt(object, r);
    }
    for (const p of appliedPaths) setAt(object, p, valueAt(applied, p)!);
    for (const key of ['apiVersion', 'kind'] as const) if (applied[key] !== undefined) object[key] = cloneJson(applied[key]!);
  }

  if (!own) {
    own = { manager: ctx.manager, operation: 'Apply', apiVersion: ctx.apiVersion, time: '', fields: new Set(), ...(ctx.scope === 'status' ? { subresource: 'status' } : {}) };
    entries.push(own);
  }
  own.fields = appliedSet;
  own.apiVersion = ctx.apiVersion;
  own.time = kubeTimestamp(ctx.now);
  pruneMissing(entries, object);
  return { object, managed: entries };
}
