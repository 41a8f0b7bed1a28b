/**
 * Field ownership (`metadata.managedFields`, fieldsV1) for server-side apply and ordinary writes.
 *
 * Simplification, on purpose: maps (JSON objects) are tracked key by key, down to the leaves, but
 * every list is atomic (owned and compared as a whole), because without OpenAPI schemas the server
 * cannot know a list's merge keys. So two managers that both set `spec.template.spec.containers`
 * share or contest the whole list, where the real server would merge by container name.
 */
import { cloneJson, isJsonObject, jsonEqual, kubeTimestamp, valueAt, type JsonObject, type JsonValue, type KubeObject } from './json-value.ts';
import type { WriteScope } from './object-meta.ts';
import type { ResourceType } from './registry.ts';

export type FieldPath = readonly string[];

/** Paths encoded with JSON.stringify, so sets compare by value. */
export type FieldSet = Set<string>;

export interface ManagedEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  subresource?: string;
  fields: FieldSet;
}

const MANAGED_METADATA = new Set(['labels', 'annotations', 'finalizers', 'ownerReferences']);

export const encodePath = (p: FieldPath): string => JSON.stringify(p);
export const decodePath = (s: string): string[] => JSON.parse(s) as string[];

/** `.spec.replicas`, as conflicts name fields. */
export function displayPath(p: FieldPath): string {
  return p.map((k) => (/^[A-Za-z0-9_-]+$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`)).join('');
}

/** Whether a write in `scope` may own `path`: never apiVersion/kind or system metadata; status only through its own scope. */
export function inScope(t: ResourceType, scope: WriteScope, path: FieldPath): boolean {
  const [top, second] = path;
  if (top === 'apiVersion' || top === 'kind') return false;
  if (top === 'metadata') return scope === 'main' && second !== undefined && MANAGED_METADATA.has(second);
  if (top === 'status') return scope === 'status' || !t.statusSubresource;
  return scope === 'main';
}

/** Leaf paths of a value: scalars, lists and empty maps. */
export function leafFields(root: JsonValue, include: (p: FieldPath) => boolean): FieldSet {
  const out: FieldSet = new Set();
  const walk = (value: JsonValue, path: string[]) => {
    if (isJsonObject(value) && (Object.keys(value).length > 0 || path.length === 0)) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    } else if (include(path)) {
      out.add(encodePath(path));
    }
  };
  walk(root, []);
  return out;
}

/** One path is a prefix of the other (or equal): owning one constrains the other. */
export function overlaps(a: FieldPath, b: FieldPath): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function fieldsToV1(set: FieldSet): JsonObject {
  const root: JsonObject = {};
  for (const encoded of [...set].sort()) {
    let node = root;
    for (const key of decodePath(encoded)) {
      const f = `f:${key}`;
      if (!isJsonObject(node[f])) node[f] = {};
      node = node[f];
    }
  }
  return root;
}

/** Reads fieldsV1; `k:`/`v:`/`i:` list entries and `.` make their parent a leaf (lists are atomic here). */
export function fieldsFromV1(v1: JsonValue | undefined): FieldSet {
  const out: FieldSet = new Set();
  const walk = (node: JsonValue, path: string[]) => {
    const children = isJsonObject(node) ? Object.keys(node).filter((k) => k.startsWith('f:')) : [];
    const listEntries = isJsonObject(node) && Object.keys(node).some((k) => /^[kvi]:/.test(k));
    if (path.length > 0 && (children.length === 0 || listEntries)) out.add(encodePath(path));
    if (listEntries) return;
    for (const k of children) walk((node as JsonObject)[k]!, [...path, k.slice(2)]);
  };
  if (v1 !== undefined) walk(v1, []);
  return out;
}

export function readManaged(meta: JsonObject): ManagedEntry[] {
  const raw = Array.isArray(meta.managedFields) ? meta.managedFields : [];
  return raw.filter(isJsonObject).map((e) => ({
    manager: typeof e.manager === 'string' ? e.manager : '',
    operation: e.operation === 'Apply' ? 'Apply' : 'Update',
    apiVersion: typeof e.apiVersion === 'string' ? e.apiVersion : '',
    time: typeof e.time === 'string' ? e.time : '',
    ...(typeof e.subresource === 'string' ? { subresource: e.subresource } : {}),
    fields: fieldsFromV1(e.fieldsV1),
  }));
}

/** Stores entries with at least one field, in the real server's entry shape. */
export function writeManaged(meta: JsonObject, entries: readonly ManagedEntry[]): void {
  const kept = entries.filter((e) => e.fields.size > 0);
  if (kept.length === 0) {
    delete meta.managedFields;
    return;
  }
  meta.managedFields = kept.map((e) => ({
    manager: e.manager,
    operation: e.operation,
    apiVersion: e.apiVersion,
    time: e.time,
    fieldsType: 'FieldsV1',
    fieldsV1: fieldsToV1(e.fields),
    ...(e.subresource ? { subresource: e.subresource } : {}),
  }));
}

export function sameEntry(e: ManagedEntry, manager: string, operation: ManagedEntry['operation'], scope: WriteScope): boolean {
  return e.manager === manager && e.operation === operation && (e.subresource ?? 'main') === (scope === 'status' ? 'status' : 'main');
}

/** Drops owned paths that no longer exist in `obj`. */
export function pruneMissing(entries: ManagedEntry[], obj: KubeObject): void {
  for (const e of entries) for (const p of [...e.fields]) if (valueAt(obj, decodePath(p)) === undefined) e.fields.delete(p);
}

export interface WriteContext {
  t: ResourceType;
  scope: WriteScope;
  manager: string;
  apiVersion: string;
  now: Date;
}

/**
 * Ownership after a non-apply write (create, update, merge or JSON patch): the writer takes every
 * field it changed, from whoever held it before, as the real server does for Update operations.
 */
export function recordUpdate(stored: KubeObject | undefined, next: KubeObject, ctx: WriteContext): void {
  const include = (p: FieldPath) => inScope(ctx.t, ctx.scope, p);
  const entries = stored ? readManaged(stored.metadata) : [];
  const changed = [...leafFields(next, include)].filter((p) => !stored || !jsonEqual(valueAt(stored, decodePath(p)), valueAt(next, decodePath(p))));
  if (changed.length > 0) {
    const changedPaths = changed.map(decodePath);
    for (const e of entries) {
      if (sameEntry(e, ctx.manager, 'Update', ctx.scope)) continue;
      for (const q of [...e.fields]) if (changedPaths.some((p) => overlaps(p, decodePath(q)))) e.fields.delete(q);
    }
    let own = entries.find((e) => sameEntry(e, ctx.manager, 'Update', ctx.scope));
    if (!own) {
      own = { manager: ctx.manager, operation: 'Update', apiVersion: ctx.apiVersion, time: '', fields: new Set(), ...(ctx.scope === 'status' ? { subresource: 'status' } : {}) };
      entries.push(own);
    }
    own.time = kubeTimestamp(ctx.now);
    own.apiVersion = ctx.apiVersion;
    for (const p of changed) own.fields.add(p);
  }
  pruneMissing(entries, next);
  writeManaged(next.metadata, entries);
}

/** Sets `value` at `path`, creating (or replacing non-map) parents. */
export function setAt(root: JsonObject, path: FieldPath, value: JsonValue): void {
  let node = root;
  path.slice(0, -1).forEach((key) => {
    if (!isJsonObject(node[key])) node[key] = {};
    node = node[key];
  });
  node[path[path.length - 1]!] = cloneJson(value);
}

/** Removes the value at `path` and any parents that become empty (top-level `metadata` stays). */
export function deleteAt(root: JsonObject, path: FieldPath): void {
  const chain: JsonObject[] = [root];
  for (const key of path.slice(0, -1)) {
    const next = chain[chain.length - 1]![key];
    if (!isJsonObject(next)) return;
    chain.push(next);
  }
  delete chain[chain.length - 1]![path[path.length - 1]!];
  for (let i = chain.length - 1; i > 0; i--) {
    if (Object.keys(chain[i]!).length > 0 || (i === 1 && path[0] === 'metadata')) break;
    delete chain[i - 1]![path[i - 1]!];
  }
}
