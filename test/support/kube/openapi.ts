/**
 * Offline validation of rendered Kubernetes objects against the official OpenAPI schemas, as strict as
 * `kubectl apply --validate=strict`: wrong types, missing required fields, bad enum values and unknown
 * fields are all problems.
 *
 * Built-in kinds are checked with the validators `kubernetes-models` compiles from the Kubernetes OpenAPI
 * document, `monitoring.coreos.com` kinds with `@kubernetes-models/prometheus-operator`, `cert-manager.io`
 * kinds with `@kubernetes-models/cert-manager`. Those validators
 * accept fields their schema does not declare (the schemas carry no `additionalProperties: false`), so
 * each object is validated through a recording proxy: a compiled validator reads exactly the properties
 * its schema declares, and enumerates the keys only of maps; any other key present in an object node the
 * validator looked into is a field the API server would drop or refuse. Custom resources are checked
 * against a CustomResourceDefinition among the same objects (see `openapi-crd.ts`).
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import { isJsonObject, type JsonObject, type JsonValue } from './json-value.ts';
import {
  customKindKey,
  customResourceValidator,
  indexCustomResourceKinds,
  isCustomResourceDefinition,
  structuralProblems,
  type CustomResourceKinds,
  type SchemaProblem,
} from './openapi-crd.ts';

export interface OpenApiReport {
  /** How many objects were validated against a schema and found without problems. */
  ok: number;
  /** One line per problem: `Kind/namespace/name: path: message` (`Kind/name` when there is no namespace). */
  problems: string[];
  /**
   * Objects no schema was available for, so not validated at all, as `Kind/namespace/name (apiVersion)`:
   * kinds whose group no installed model package serves and that no CRD among the objects defines.
   */
  unchecked: string[];
}

/** The schema packages by API group; every other group is looked up in `kubernetes-models`. */
const MODEL_PACKAGES: Readonly<Record<string, string>> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'cert-manager.io': '@kubernetes-models/cert-manager',
};
const DEFAULT_MODEL_PACKAGE = 'kubernetes-models';
const API_VERSION_PATTERN = /^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\/)?v[0-9]+(?:(?:alpha|beta)[0-9]+)?$/;
const KIND_PATTERN = /^[A-Z][A-Za-z0-9]*$/;

/**
 * Fields the model packages declare in their types but leave out of the compiled validators (their
 * generator drops properties named `description` and `x-kubernetes-*` along with the annotations of the
 * same names), by group and kind. The validator never reads them, so the recording cannot vouch for them:
 * in these kinds they are not reported as unknown, wherever they appear. Found by comparing every
 * model's declared fields with the fields its validator reads (kubernetes-models 5.1.0,
 * @kubernetes-models/prometheus-operator 6.0.0).
 */
const UNRECORDED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  'apiextensions.k8s.io CustomResourceDefinition': [
    'description',
    'x-kubernetes-embedded-resource',
    'x-kubernetes-int-or-string',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-list-type',
    'x-kubernetes-map-type',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-validations',
  ],
  'monitoring.coreos.com AlertmanagerConfig': ['description'],
};

/** A model class's `validate`: checks `this` and throws an error carrying ajv's `errors` on failure. */
type ModelValidate = (this: unknown) => void;

/** What the model packages know about one apiVersion and kind. */
type ModelLookup = { readonly validate: ModelValidate } | 'no-package' | 'no-such-kind' | 'not-a-kind';

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
}

async function importModel(apiVersion: string, kind: string): Promise<ModelLookup> {
  if (!API_VERSION_PATTERN.test(apiVersion) || !KIND_PATTERN.test(kind)) return 'no-package';
  const groupVersion = `${MODEL_PACKAGES[groupOf(apiVersion)] ?? DEFAULT_MODEL_PACKAGE}/${apiVersion}`;
  try {
    import.meta.resolve(groupVersion);
  } catch (err) {
    if (errorCode(err) === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || errorCode(err) === 'ERR_MODULE_NOT_FOUND') return 'no-package';
    throw err;
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`${groupVersion}/${kind}`)) as Record<string, unknown>;
  } catch (err) {
    if (errorCode(err) === 'ERR_MODULE_NOT_FOUND') return 'no-such-kind';
    throw err;
  }
  const model = mod[kind] as { apiVersion?: unknown; kind?: unknown; prototype?: { validate?: unknown } } | undefined;
  if (model?.apiVersion !== apiVersion || model.kind !== kind || typeof model.prototype?.validate !== 'function') return 'not-a-kind';
  return { validate: model.prototype.validate as ModelValidate };
}

const models = new Map<string, Promise<ModelLookup>>();

function lookupModel(apiVersion: string, kind: string): Promise<ModelLookup> {
  const key = `${apiVersion} ${kind}`;
  let found = models.get(key);
  if (found === undefined) {
    found = importModel(apiVersion, kind);
    models.set(key, found);
  }
  return found;
}

interface Reads {
  readonly keys: Set<string>;
  enumerated: boolean;
}

/** `value` behind proxies that note, per object node (by path), which own keys were read or whether all were listed. */
function recording(value: JsonValue, path: readonly string[], reads: Map<string, Reads>): JsonValue {
  if (typeof value !== 'object' || value === null) return value;
  const entry = (): Reads => {
    const key = JSON.stringify(path);
    let found = reads.get(key);
    if (found === undefined) {
      found = { keys: new Set(), enumerated: false };
      reads.set(key, found);
    }
    return found;
  };
  return new Proxy(value, {
    get(target, prop, receiver) {
      if (typeof prop !== 'string') return Reflect.get(target, prop, receiver) as unknown;
      entry().keys.add(prop);
      if (!Object.hasOwn(target, prop)) return Reflect.get(target, prop, receiver) as unknown;
      return recording((target as Record<string, JsonValue>)[prop] as JsonValue, [...path, prop], reads);
    },
    ownKeys(target) {
      entry().enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

/**
 * Paths of keys the validator never read in object nodes it did look into. A node it never looked into
 * (a free-form schema such as RawExtension, or a value already reported with the wrong type) is skipped,
 * and so is one whose keys it listed (a map).
 */
function unknownFields(value: JsonValue, path: readonly string[], reads: ReadonlyMap<string, Reads>, unrecorded: ReadonlySet<string>, out: string[][]): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => unknownFields(item, [...path, String(i)], reads, unrecorded, out));
    return;
  }
  if (!isJsonObject(value)) return;
  const entry = reads.get(JSON.stringify(path));
  if (entry === undefined) return;
  for (const [key, child] of Object.entries(value)) {
    if (unrecorded.has(key)) continue;
    if (!entry.enumerated && !entry.keys.has(key)) out.push([...path, key]);
    else unknownFields(child, [...path, key], reads, unrecorded, out);
  }
}

function pointerSegments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function valueAtPath(root: JsonValue, path: readonly string[]): JsonValue | undefined {
  let node: JsonValue | undefined = root;
  for (const key of path) {
    if (Array.isArray(node)) node = node[Number(key)];
    else if (isJsonObject(node) && Object.hasOwn(node, key)) node = node[key];
    else return undefined;
  }
  return node;
}

function describeValue(value: JsonValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'object';
  return `${typeof value} ${String(value)}`;
}

function ajvProblem(err: ErrorObject, path: readonly string[], root: JsonValue): SchemaProblem {
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return { path: [...path, String(params.missingProperty)], message: 'required field missing' };
    case 'additionalProperties':
      return { path: [...path, String(params.additionalProperty)], message: 'unknown field' };
    case 'type':
      return { path, message: `must be ${Array.isArray(params.type) ? params.type.join(' or ') : String(params.type)}, got ${describeValue(valueAtPath(root, path))}` };
    case 'enum':
      return { path, message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(valueAtPath(root, path))}` };
    default:
      return { path, message: err.message ?? err.keyword };
  }
}

/**
 * ajv's errors as problems, relative to `base` inside `root`. Where a value matches none of its
 * alternatives only by type (int-or-string and the like), the per-branch type errors and the `anyOf`
 * error become one "must be integer or string".
 */
function ajvProblems(errors: readonly ErrorObject[], root: JsonValue, base: readonly string[]): SchemaProblem[] {
  const typesAt = new Map<string, string[]>();
  for (const err of errors) {
    if (err.keyword === 'type') typesAt.set(err.instancePath, [...(typesAt.get(err.instancePath) ?? []), String((err.params as { type?: unknown }).type)]);
  }
  const alternatives = new Set(errors.filter((e) => (e.keyword === 'anyOf' || e.keyword === 'oneOf') && typesAt.has(e.instancePath)).map((e) => e.instancePath));
  const out: SchemaProblem[] = [];
  for (const err of errors) {
    const path = [...base, ...pointerSegments(err.instancePath)];
    if (!alternatives.has(err.instancePath)) {
      out.push(ajvProblem(err, path, root));
    } else if (err.keyword === 'anyOf' || err.keyword === 'oneOf') {
      const types = [...new Set(typesAt.get(err.instancePath))].join(' or ');
      out.push({ path, message: `must be ${types}, got ${describeValue(valueAtPath(root, path))}` });
    } else if (err.keyword !== 'type') {
      out.push(ajvProblem(err, path, root));
    }
  }
  return out;
}

function validationErrors(err: unknown): ErrorObject[] | undefined {
  if (!(err instanceof Error)) return undefined;
  const errors = (err as { errors?: unknown }).errors;
  return Array.isArray(errors) ? (errors as ErrorObject[]) : undefined;
}

/** Validate `value` (found at `base` inside `root`) with a model's validator, unknown fields included. */
function modelProblems(validate: ModelValidate, value: JsonValue, root: JsonValue, base: readonly string[], unrecorded: ReadonlySet<string> = new Set()): SchemaProblem[] {
  const reads = new Map<string, Reads>();
  let errors: ErrorObject[] = [];
  try {
    validate.call(recording(value, [], reads));
  } catch (err) {
    const found = validationErrors(err);
    if (found === undefined) throw err;
    errors = found;
  }
  // A compiled validator always reads the root's declared properties; if it read nothing, the recording
  // cannot tell known fields from unknown ones, and passing the object would be a lie.
  if (isJsonObject(value) && !reads.has(JSON.stringify([]))) throw new Error('openapi: the model validator read no field of the object');
  const unknown: string[][] = [];
  unknownFields(value, [], reads, unrecorded, unknown);
  return [...ajvProblems(errors, root, base), ...unknown.map((path) => ({ path: [...base, ...path], message: 'unknown field' }))];
}

function customResourceProblems(obj: JsonObject, apiVersion: string, kinds: CustomResourceKinds): SchemaProblem[] | undefined {
  const versions = kinds.get(customKindKey(groupOf(apiVersion), String(obj.kind)));
  if (versions === undefined) return undefined;
  const versionName = apiVersion.slice(apiVersion.indexOf('/') + 1);
  const version = versions.get(versionName);
  if (version === undefined || !version.served) {
    const served = [...versions].filter(([, v]) => v.served).map(([name]) => name);
    return [{ path: ['apiVersion'], message: `version ${versionName} is not served by CustomResourceDefinition ${[...versions.values()][0]?.crd ?? ''} (served: ${served.join(', ') || 'none'})` }];
  }
  if (version.schema === undefined) return [{ path: [], message: `CustomResourceDefinition ${version.crd} has no schema for ${versionName}` }];
  let validate: ValidateFunction;
  try {
    validate = customResourceValidator(version.schema);
  } catch (err) {
    return [{ path: [], message: `the schema of CustomResourceDefinition ${version.crd} does not compile: ${(err as Error).message}` }];
  }
  const defaulted = structuredClone(obj);
  const problems = validate(defaulted) ? [] : ajvProblems(validate.errors ?? [], defaulted, []);
  // modelProblems calls the model's validate with the value as `this`, as the model classes expect.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  if (obj.metadata !== undefined) problems.push(...modelProblems(ObjectMeta.prototype.validate, obj.metadata, obj, ['metadata']));
  return problems;
}

function objectId(obj: JsonValue): string {
  const kind = isJsonObject(obj) && typeof obj.kind === 'string' ? obj.kind : '(no kind)';
  const metadata = isJsonObject(obj) && isJsonObject(obj.metadata) ? obj.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : typeof metadata.generateName === 'string' ? `${metadata.generateName}*` : '(no name)';
  return typeof metadata.namespace === 'string' ? `${kind}/${metadata.namespace}/${name}` : `${kind}/${name}`;
}

const SEGMENT_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `spec.template.spec.containers[0].name`, `metadata.labels["app.kubernetes.io/name"]`; `(root)` for the object itself. */
export function formatPath(root: JsonValue, path: readonly string[]): string {
  let out = '';
  let node: JsonValue | undefined = root;
  for (const segment of path) {
    if (Array.isArray(node) && /^\d+$/.test(segment)) out += `[${segment}]`;
    else if (SEGMENT_PATTERN.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
    node = valueAtPath(node ?? null, [segment]);
  }
  return out === '' ? '(root)' : out;
}

/** Problems with one object, or `undefined` when no schema for it is available. */
async function objectProblems(obj: JsonValue, kinds: CustomResourceKinds): Promise<SchemaProblem[] | undefined> {
  if (!isJsonObject(obj)) return [{ path: [], message: `must be an object, got ${describeValue(obj)}` }];
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    return ['apiVersion', 'kind'].filter((key) => typeof obj[key] !== 'string').map((key) => ({ path: [key], message: 'required field missing' }));
  }
  const named: SchemaProblem[] = [];
  const metadata = isJsonObject(obj.metadata) ? obj.metadata : {};
  if (typeof metadata.name !== 'string' && typeof metadata.generateName !== 'string') {
    named.push({ path: ['metadata', 'name'], message: 'required field missing' });
  }
  const custom = customResourceProblems(obj, apiVersion, kinds);
  if (custom !== undefined) return [...named, ...custom];
  const model = await lookupModel(apiVersion, kind);
  if (model === 'no-package') return undefined;
  if (model === 'no-such-kind') return [...named, { path: ['kind'], message: `${apiVersion} has no kind ${kind}` }];
  if (model === 'not-a-kind') return [...named, { path: ['kind'], message: `${kind} is a ${apiVersion} type, not an object kind` }];
  const unrecorded = new Set(UNRECORDED_FIELDS[`${groupOf(apiVersion)} ${kind}`]);
  const problems = [...named, ...modelProblems(model.validate, obj, obj, [], unrecorded)];
  if (isCustomResourceDefinition(obj)) problems.push(...structuralProblems(obj));
  return problems;
}

/**
 * Validate `objects` (as they would be serialized: JSON values only) against the Kubernetes OpenAPI
 * schemas. Each object lands in exactly one place: counted in `ok`, reported in `problems` (one line per
 * problem, several per object possible), or listed in `unchecked` when no schema for its kind is
 * available offline. Custom resources are validated against a CustomResourceDefinition for their group
 * and kind when one is among `objects` (that CRD wins over a model package), else against a model package,
 * else they are unchecked. Objects are not modified.
 */
export async function validateObjects(objects: readonly object[]): Promise<OpenApiReport> {
  const docs = objects.map((obj) => JSON.parse(JSON.stringify(obj)) as JsonValue);
  const kinds = indexCustomResourceKinds(docs);
  const report: OpenApiReport = { ok: 0, problems: [], unchecked: [] };
  for (const doc of docs) {
    const problems = await objectProblems(doc, kinds);
    if (problems === undefined) {
      report.unchecked.push(`${objectId(doc)} (${String((doc as JsonObject).apiVersion)})`);
    } else if (problems.length === 0) {
      report.ok += 1;
    } else {
      const id = objectId(doc);
      report.problems.push(...new Set(problems.map((p) => `${id}: ${formatPath(doc, p.path)}: ${p.message}`)));
    }
  }
  return report;
}
