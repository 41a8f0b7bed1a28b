/**
 * The API verbs with the real server's semantics, independent of HTTP: each takes the request's
 * target and parsed inputs, and returns the status code and body to send, or throws a StatusError.
 */
import { parse as parseYaml } from 'yaml';
import { serverSideApply } from './apply.ts';
import { cloneJson, isJsonObject, jsonEqual, stringField, type JsonObject, type JsonValue, type KubeObject } from './json-value.ts';
import { recordUpdate, pruneMissing, writeManaged, type WriteContext } from './managed-fields.ts';
import {
  carryOver,
  checkIdentity,
  checkTerminatingFinalizers,
  hasFinalizers,
  isTerminating,
  markForDeletion,
  objectName,
  stampNew,
  validateObject,
  type WriteScope,
} from './object-meta.ts';
import { jsonPatch, JsonPatchError, mergePatch } from './patch.ts';
import { apiVersionOf, storageKey, type ResourceType } from './registry.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { alreadyExists, badRequest, conflict, expired, invalid, notFound, statusObject, StatusError, type Target } from './status.ts';
import type { ObjectStore } from './store.ts';

export const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export interface Reply {
  code: number;
  body: JsonObject;
}

/** What a request names: a resource, maybe a namespace, maybe one object and its status. */
export interface ObjectTarget {
  rt: ResourceType;
  namespace: string | undefined;
  name?: string;
  scope: WriteScope;
}

export interface WriteOptions {
  dryRun: boolean;
  /** `fieldManager`, or the name the server derives from the User-Agent. */
  manager: string;
  force: boolean;
}

export interface VerbContext {
  store: ObjectStore;
  now(): Date;
}

const target = (t: ResourceType): Target => ({ group: t.group, resource: t.resource });

/** An object as it leaves the server: `apiVersion`, `kind`, `metadata` first, in the version asked for. */
export function present(t: ResourceType, obj: KubeObject): JsonObject {
  const { apiVersion: _a, kind: _k, metadata, ...rest } = obj;
  return { apiVersion: apiVersionOf(t), kind: t.kind, metadata, ...rest };
}

function stored(ctx: VerbContext, at: ObjectTarget): KubeObject {
  const obj = ctx.store.get(storageKey(at.rt), at.namespace ?? '', at.name ?? '');
  if (!obj) throw notFound(target(at.rt), at.name ?? '');
  return obj;
}

function requireObject(body: JsonValue | undefined, what: string): JsonObject {
  if (!isJsonObject(body)) throw badRequest(`${what}: the request body must be a JSON object`);
  return cloneJson(body);
}

function checkPrecondition(at: ObjectTarget, current: KubeObject, wanted: JsonValue | undefined): void {
  if (typeof wanted === 'string' && wanted !== '' && wanted !== current.metadata.resourceVersion) throw conflict(target(at.rt), objectName(current));
}

function writeContext(ctx: VerbContext, at: ObjectTarget, opts: WriteOptions): WriteContext {
  return { t: at.rt, scope: at.scope, manager: opts.manager, apiVersion: apiVersionOf(at.rt), now: ctx.now() };
}

/** The real server stores a Secret's write-only `stringData` as base64 `data`, the later winning (core/v1 conversion). */
function foldStringData(t: ResourceType, obj: KubeObject): void {
  if (t.group !== '' || t.resource !== 'secrets' || !isJsonObject(obj.stringData)) return;
  const data = isJsonObject(obj.data) ? obj.data : {};
  for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  obj.data = data;
  delete obj.stringData;
}

/** Equal but for managedFields timestamps: the real server then neither writes nor bumps resourceVersion nor notifies watchers. */
function isNoOp(before: KubeObject, next: KubeObject): boolean {
  const untimed = (o: KubeObject): KubeObject => {
    const copy = cloneJson(o);
    if (Array.isArray(copy.metadata.managedFields)) for (const e of copy.metadata.managedFields) if (isJsonObject(e)) delete e.time;
    return copy;
  };
  return jsonEqual(untimed(before), untimed(next));
}

/** Persists a validated next version (unless dry-run); a terminating object whose last finalizer went is deleted. */
function commit(ctx: VerbContext, at: ObjectTarget, before: KubeObject | undefined, next: KubeObject, opts: WriteOptions, code: number): Reply {
  if (before) checkTerminatingFinalizers(at.rt, before, next);
  foldStringData(at.rt, next);
  if (before && isNoOp(before, next)) return { code, body: present(at.rt, before) };
  if (opts.dryRun) return { code, body: present(at.rt, next) };
  const key = storageKey(at.rt);
  const written = ctx.store.write(key, next).object;
  if (isTerminating(written) && !hasFinalizers(written)) ctx.store.erase(key, at.namespace ?? '', objectName(written));
  return { code, body: present(at.rt, written) };
}

export function getObject(ctx: VerbContext, at: ObjectTarget): Reply {
  return { code: 200, body: present(at.rt, stored(ctx, at)) };
}

interface ContinueToken {
  rv: number;
  start: string;
}

function decodeContinue(token: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { rv?: unknown; start?: unknown };
    if (typeof parsed.rv === 'number' && typeof parsed.start === 'string') return { rv: parsed.rv, start: parsed.start };
  } catch {
    // falls through to the 400 below
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

const itemKey = (obj: KubeObject) => `${stringField(obj.metadata, 'namespace') ?? ''}/${objectName(obj)}`;

/** LIST with label/field selectors, `resourceVersion`+`resourceVersionMatch=Exact`, and consistent `limit`/`continue` paging. */
export function listObjects(ctx: VerbContext, at: ObjectTarget, query: URLSearchParams): Reply {
  const t = at.rt;
  const labelSelector = query.get('labelSelector');
  const fieldSelector = query.get('fieldSelector');
  const labels = parseLabelSelector(labelSelector);
  const fields = parseFieldSelector(fieldSelector, t.selectableFields);
  const limit = Number(query.get('limit') ?? '0');
  const token = query.get('continue') ? decodeContinue(query.get('continue')!) : undefined;
  const rvParam = query.get('resourceVersion') ?? '';
  if (token && rvParam !== '') throw badRequest('specifying resource version is not allowed when using continue');
  const exact = query.get('resourceVersionMatch') === 'Exact';
  if (exact && !/^\d+$/.test(rvParam)) throw badRequest('resourceVersionMatch "Exact" requires a resourceVersion');
  const at_ = token ? token.rv : exact ? Number(rvParam) : undefined;
  let items: KubeObject[];
  try {
    items = at_ === undefined ? ctx.store.list(storageKey(t), at.namespace) : ctx.store.listAt(storageKey(t), at_, at.namespace);
  } catch (err) {
    if (err instanceof StatusError && err.code === 410 && token) {
      throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
    }
    throw err;
  }
  const revision = at_ ?? ctx.store.revision;
  let matching = items.filter((o) => labels(o) && fields(o));
  if (token) matching = matching.filter((o) => itemKey(o) > token.start);
  const page = Number.isInteger(limit) && limit > 0 ? matching.slice(0, limit) : matching;
  const metadata: JsonObject = { resourceVersion: String(revision) };
  if (page.length < matching.length) {
    const next = { v: 'meta.k8s.io/v1', rv: revision, start: itemKey(page[page.length - 1]!) };
    metadata.continue = Buffer.from(JSON.stringify(next)).toString('base64url');
    if (!labelSelector && !fieldSelector) metadata.remainingItemCount = matching.length - page.length;
  }
  const view = (o: KubeObject): JsonObject => {
    if (t.custom) return present(t, o);
    const { apiVersion: _a, kind: _k, ...rest } = o;
    return rest;
  };
  return { code: 200, body: { apiVersion: apiVersionOf(t), kind: `${t.kind}List`, metadata, items: page.map(view) } };
}

export function createObject(ctx: VerbContext, at: ObjectTarget, body: JsonValue | undefined, opts: WriteOptions): Reply {
  const given = checkIdentity(at.rt, requireObject(body, 'create'), at.namespace, undefined);
  if (given.metadata.resourceVersion) throw badRequest('resourceVersion should not be set on objects to be created');
  const obj = stampNew(at.rt, given, ctx.now());
  validateObject(at.rt, obj);
  if (ctx.store.get(storageKey(at.rt), at.namespace ?? '', objectName(obj))) throw alreadyExists(target(at.rt), objectName(obj));
  recordUpdate(undefined, obj, writeContext(ctx, at, opts));
  return commit(ctx, at, undefined, obj, opts, 201);
}

export function updateObject(ctx: VerbContext, at: ObjectTarget, body: JsonValue | undefined, opts: WriteOptions): Reply {
  const before = stored(ctx, at);
  const next = checkIdentity(at.rt, requireObject(body, 'update'), at.namespace, at.name);
  checkPrecondition(at, before, next.metadata.resourceVersion);
  const final = carryOver(at.rt, before, next, at.scope);
  validateObject(at.rt, final);
  recordUpdate(before, final, writeContext(ctx, at, opts));
  return commit(ctx, at, before, final, opts, 200);
}

function parsePatchBody(contentType: string, raw: string): JsonValue {
  try {
    return contentType === PATCH_TYPES.apply ? (parseYaml(raw) as JsonValue) : (JSON.parse(raw) as JsonValue);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
}

/** PATCH in the four content types; apply creates the object when it is absent. */
export function patchObject(ctx: VerbContext, at: ObjectTarget, contentType: string, raw: string, opts: WriteOptions): Reply {
  const t = at.rt;
  const patch = parsePatchBody(contentType, raw);
  const wctx = writeContext(ctx, at, opts);
  if (contentType !== PATCH_TYPES.apply) {
    if (opts.force) throw invalid('PatchOptions', 'meta.k8s.io', '', [{ reason: 'FieldValueForbidden', field: 'force', message: 'Forbidden: may not be specified for non-apply patch' }]);
    const before = stored(ctx, at);
    let patched: JsonValue;
    if (contentType === PATCH_TYPES.json) {
      try {
        patched = jsonPatch(before, patch);
      } catch (err) {
        if (!(err instanceof JsonPatchError)) throw err;
        throw invalid(t.kind, t.group, objectName(before), [{ message: err.message }]);
      }
    } else {
      if (!isJsonObject(patch)) throw badRequest('a merge patch must be a JSON object');
      patched = mergePatch(before, patch);
    }
    const next = checkIdentity(t, requireObject(patched, 'patch'), at.namespace, at.name);
    checkPrecondition(at, before, next.metadata.resourceVersion);
    const final = carryOver(t, before, next, at.scope);
    validateObject(t, final);
    recordUpdate(before, final, wctx);
    return commit(ctx, at, before, final, opts, 200);
  }

  if (!opts.manager) {
    throw invalid('PatchOptions', 'meta.k8s.io', '', [{ reason: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' }]);
  }
  const applied = requireObject(patch, 'apply');
  if (applied.apiVersion === undefined || applied.kind === undefined) throw badRequest('apiVersion and kind must be set in an apply patch');
  checkIdentity(t, applied, at.namespace, at.name);
  const before = ctx.store.get(storageKey(t), at.namespace ?? '', at.name ?? '');
  if (!before) {
    if (at.scope === 'status') throw notFound(target(t), at.name ?? '');
    const { object, managed } = serverSideApply(undefined, applied as KubeObject, opts.force, wctx);
    const created = stampNew(t, object, wctx.now);
    validateObject(t, created);
    pruneMissing(managed, created);
    writeManaged(created.metadata, managed);
    return commit(ctx, at, undefined, created, opts, 201);
  }
  checkPrecondition(at, before, (applied.metadata as JsonObject).resourceVersion);
  const { object, managed } = serverSideApply(before, applied as KubeObject, opts.force, wctx);
  const final = carryOver(t, before, object, at.scope);
  validateObject(t, final);
  pruneMissing(managed, final);
  writeManaged(final.metadata, managed);
  return commit(ctx, at, before, final, opts, 200);
}

function deletePreconditions(at: ObjectTarget, current: KubeObject, body: JsonValue | undefined): void {
  const pre = isJsonObject(body) && isJsonObject(body.preconditions) ? body.preconditions : undefined;
  if (!pre) return;
  if (typeof pre.uid === 'string' && pre.uid !== current.metadata.uid) {
    throw conflict(target(at.rt), objectName(current), `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(current.metadata.uid)}`);
  }
  if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== current.metadata.resourceVersion) {
    throw conflict(target(at.rt), objectName(current), `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${String(current.metadata.resourceVersion)}`);
  }
}

/** Removes one object now, or marks it terminating while finalizers remain (200 with the object). */
export function deleteOne(ctx: VerbContext, at: ObjectTarget, current: KubeObject, dryRun: boolean): Reply {
  const key = storageKey(at.rt);
  if (hasFinalizers(current)) {
    if (isTerminating(current) || dryRun) return { code: 200, body: present(at.rt, current) };
    return { code: 200, body: present(at.rt, ctx.store.write(key, markForDeletion(current, ctx.now())).object) };
  }
  if (!dryRun) ctx.store.erase(key, at.namespace ?? stringField(current.metadata, 'namespace') ?? '', objectName(current));
  const details = { name: objectName(current), group: at.rt.group, kind: at.rt.resource, uid: String(current.metadata.uid) };
  return { code: 200, body: statusObject('Success', 200, '', '', details) };
}

export function deleteObject(ctx: VerbContext, at: ObjectTarget, body: JsonValue | undefined, dryRun: boolean): Reply {
  const current = stored(ctx, at);
  deletePreconditions(at, current, body);
  return deleteOne(ctx, at, current, dryRun);
}

export function deleteCollection(ctx: VerbContext, at: ObjectTarget, query: URLSearchParams, dryRun: boolean): Reply {
  const labels = parseLabelSelector(query.get('labelSelector'));
  const fields = parseFieldSelector(query.get('fieldSelector'), at.rt.selectableFields);
  for (const obj of ctx.store.list(storageKey(at.rt), at.namespace)) {
    if (labels(obj) && fields(obj)) deleteOne(ctx, { ...at, namespace: stringField(obj.metadata, 'namespace') }, obj, dryRun);
  }
  return { code: 200, body: statusObject('Success', 200, '', '') };
}
