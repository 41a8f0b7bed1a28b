/**
 * What the API server does to every object it stores: system metadata (uid, creationTimestamp,
 * generation), validation of names and labels, and the status-subresource rule that writes to
 * the main resource never change `.status` (and status writes change nothing else).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { cloneJson, isJsonObject, jsonEqual, kubeTimestamp, metadataOf, stringField, type JsonObject, type KubeObject } from './json-value.ts';
import { apiVersionOf, type ResourceType } from './registry.ts';
import { labelKeyProblem, labelValueProblem } from './selectors.ts';
import { badRequest, invalid, type StatusCause } from './status.ts';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Metadata only the server sets; clients' values are replaced. */
const SYSTEM_FIELDS = ['uid', 'creationTimestamp', 'generation', 'resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink'];

/** Which part of the object a write may change. */
export type WriteScope = 'main' | 'status';

export function objectName(obj: JsonObject): string {
  return stringField(metadataOf(obj), 'name') ?? '';
}

export function objectNamespace(obj: JsonObject): string {
  return stringField(metadataOf(obj), 'namespace') ?? '';
}

/** Checks apiVersion/kind against the URL and the namespace against the path; fills in what is missing. */
export function checkIdentity(t: ResourceType, obj: JsonObject, namespace: string | undefined, name: string | undefined): KubeObject {
  const apiVersion = apiVersionOf(t);
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
    throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion})`);
  }
  if (obj.kind !== undefined && obj.kind !== t.kind) {
    throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${t.kind})`);
  }
  const meta = metadataOf(obj);
  if (t.namespaced) {
    const given = stringField(meta, 'namespace');
    if (given && namespace !== undefined && given !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    meta.namespace = namespace ?? given ?? '';
  } else {
    delete meta.namespace;
  }
  const given = stringField(meta, 'name');
  if (name !== undefined && given !== undefined && given !== name) {
    throw badRequest(`the name of the object (${given}) does not match the name on the URL (${name})`);
  }
  if (name !== undefined) meta.name = name;
  obj.apiVersion = apiVersion;
  obj.kind = t.kind;
  return obj as KubeObject;
}

/** 422 Invalid when name, namespace, labels or annotations break the real server's rules. */
export function validateObject(t: ResourceType, obj: KubeObject): void {
  const meta = metadataOf(obj);
  const name = objectName(obj);
  const causes: StatusCause[] = [];
  const nameRule = t.group === '' && t.resource === 'namespaces' ? DNS_LABEL : DNS_SUBDOMAIN;
  if (!name) causes.push({ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' });
  else if (name.length > 253 || !nameRule.test(name)) {
    causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character` });
  }
  if (t.namespaced && !objectNamespace(obj)) causes.push({ reason: 'FieldValueRequired', field: 'metadata.namespace', message: 'Required value' });
  for (const field of ['labels', 'annotations'] as const) {
    const map = meta[field];
    if (map === undefined || map === null) continue;
    if (!isJsonObject(map)) {
      causes.push({ field: `metadata.${field}`, message: 'Invalid value: must be a map of strings' });
      continue;
    }
    for (const [k, v] of Object.entries(map)) {
      const keyProblem = labelKeyProblem(k);
      if (keyProblem) causes.push({ field: `metadata.${field}`, message: `Invalid value: "${k}": ${keyProblem}` });
      if (typeof v !== 'string') causes.push({ field: `metadata.${field}.${k}`, message: 'Invalid value: must be a string' });
      else if (field === 'labels' && labelValueProblem(v)) causes.push({ field: `metadata.labels`, message: `Invalid value: "${v}": ${labelValueProblem(v)}` });
    }
  }
  if (causes.length > 0) throw invalid(t.kind, t.group, name, causes);
}

/** System metadata for a new object; `generateName` gets its random suffix. The store adds resourceVersion. */
export function stampNew(t: ResourceType, obj: KubeObject, now: Date): KubeObject {
  const meta = metadataOf(obj);
  for (const f of SYSTEM_FIELDS) delete meta[f];
  const generateName = stringField(meta, 'generateName');
  if (!stringField(meta, 'name') && generateName) meta.name = generateName + randomBytes(4).toString('hex').slice(0, 5);
  meta.uid = randomUUID();
  meta.creationTimestamp = kubeTimestamp(now);
  meta.generation = 1;
  if (t.statusSubresource) delete obj.status;
  return obj;
}

/** Everything but metadata and status: a change here bumps `generation`. */
function specOf(obj: JsonObject): JsonObject {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

/**
 * Carries system metadata from the stored object into the next version and applies the
 * status-subresource rule for the scope of the write.
 */
export function carryOver(t: ResourceType, stored: KubeObject, next: KubeObject, scope: WriteScope): KubeObject {
  let out = next;
  if (scope === 'status') {
    out = cloneJson(stored);
    if (next.status === undefined) delete out.status;
    else out.status = cloneJson(next.status);
  } else if (t.statusSubresource) {
    if (stored.status === undefined) delete out.status;
    else out.status = cloneJson(stored.status);
  }
  const meta = metadataOf(out);
  const old = stored.metadata;
  for (const f of SYSTEM_FIELDS) {
    if (old[f] === undefined) delete meta[f];
    else meta[f] = cloneJson(old[f]!);
  }
  const generation = typeof old.generation === 'number' ? old.generation : 1;
  meta.generation = jsonEqual(specOf(stored), specOf(out)) ? generation : generation + 1;
  return out;
}

/** Whether the object waits for finalizers before it can go. */
export function hasFinalizers(obj: KubeObject): boolean {
  const f = obj.metadata.finalizers;
  return Array.isArray(f) && f.length > 0;
}

export function isTerminating(obj: KubeObject): boolean {
  return typeof obj.metadata.deletionTimestamp === 'string';
}

/** Marks an object with finalizers for deletion, as a graceful DELETE does. */
export function markForDeletion(stored: KubeObject, now: Date): KubeObject {
  const out = cloneJson(stored);
  out.metadata.deletionTimestamp = kubeTimestamp(now);
  out.metadata.deletionGracePeriodSeconds = 0;
  out.metadata.generation = (typeof stored.metadata.generation === 'number' ? stored.metadata.generation : 1) + 1;
  return out;
}

/** 422 when a terminating object gains a finalizer it did not have. */
export function checkTerminatingFinalizers(t: ResourceType, stored: KubeObject, next: KubeObject): void {
  if (!isTerminating(stored)) return;
  const before = new Set((Array.isArray(stored.metadata.finalizers) ? stored.metadata.finalizers : []).map(String));
  const after = Array.isArray(next.metadata.finalizers) ? next.metadata.finalizers.map(String) : [];
  const added = after.filter((f) => !before.has(f));
  if (added.length > 0) {
    throw invalid(t.kind, t.group, objectName(stored), [{ reason: 'FieldValueForbidden', field: 'metadata.finalizers', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}` }]);
  }
}
