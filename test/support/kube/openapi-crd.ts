/**
 * Custom resources checked against a CustomResourceDefinition that ships alongside them, the way the API
 * server checks them: the served version's `openAPIV3Schema` (the OpenAPI v3 subset Kubernetes accepts),
 * defaults applied first, fields the API server would prune reported as unknown. Also the structural-schema
 * rules an `apiextensions.k8s.io/v1` CRD must satisfy before the API server accepts it at all.
 *
 * Not modelled: CEL rules (`x-kubernetes-validations`), `format` checks, list-type uniqueness
 * (`x-kubernetes-list-type`), and the metadata of custom objects (the caller checks that as ObjectMeta).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { isJsonObject, type JsonObject, type JsonValue } from './json-value.ts';

/** One finding: the path of segments inside the object it was found in, and what is wrong there. */
export interface SchemaProblem {
  readonly path: readonly string[];
  readonly message: string;
}

/** One version of a custom resource kind, as a CRD among the validated objects defines it. */
export interface CustomResourceVersion {
  readonly crd: string;
  readonly served: boolean;
  readonly schema: JsonObject | undefined;
}

/** Custom resource kinds defined by CRDs, by `group` and `kind`, then by version name. */
export type CustomResourceKinds = ReadonlyMap<string, ReadonlyMap<string, CustomResourceVersion>>;

export const CRD_API_VERSION = 'apiextensions.k8s.io/v1';
export const CRD_KIND = 'CustomResourceDefinition';

export function customKindKey(group: string, kind: string): string {
  return `${group} ${kind}`;
}

export function isCustomResourceDefinition(obj: JsonObject): boolean {
  return obj.apiVersion === CRD_API_VERSION && obj.kind === CRD_KIND;
}

function objectAt(obj: JsonValue | undefined, key: string): JsonObject | undefined {
  if (!isJsonObject(obj)) return undefined;
  const value = obj[key];
  return isJsonObject(value) ? value : undefined;
}

function versionsOf(crd: JsonObject): JsonObject[] {
  const versions = objectAt(crd, 'spec')?.versions;
  return Array.isArray(versions) ? versions.filter(isJsonObject) : [];
}

/** The custom resource kinds the CRDs among `objects` define; objects that are not CRDs are ignored. */
export function indexCustomResourceKinds(objects: readonly JsonValue[]): CustomResourceKinds {
  const kinds = new Map<string, Map<string, CustomResourceVersion>>();
  for (const obj of objects) {
    if (!isJsonObject(obj) || !isCustomResourceDefinition(obj)) continue;
    const spec = objectAt(obj, 'spec');
    const group = spec?.group;
    const kind = objectAt(spec, 'names')?.kind;
    if (typeof group !== 'string' || typeof kind !== 'string') continue;
    const name = objectAt(obj, 'metadata')?.name;
    const versions = new Map<string, CustomResourceVersion>();
    for (const version of versionsOf(obj)) {
      if (typeof version.name !== 'string') continue;
      versions.set(version.name, {
        crd: typeof name === 'string' ? name : `${kind}.${group}`,
        served: version.served === true,
        schema: objectAt(objectAt(version, 'schema'), 'openAPIV3Schema'),
      });
    }
    kinds.set(customKindKey(group, kind), versions);
  }
  return kinds;
}

const STRUCTURAL_CHILDREN = ['properties', 'items', 'additionalProperties'] as const;

/** Where the API server refuses a v1 CRD's schema as not structural, or forbids a keyword outright. */
function structuralNodeProblems(node: JsonObject, path: readonly string[], out: SchemaProblem[]): void {
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (node.type === undefined && !intOrString && !preserve) {
    out.push({ path: [...path, 'type'], message: 'must be set in a structural schema' });
  }
  if (node.additionalProperties === false) {
    out.push({ path: [...path, 'additionalProperties'], message: 'must not be false in a v1 CustomResourceDefinition' });
  }
  if (node.properties !== undefined && node.additionalProperties !== undefined) {
    out.push({ path: [...path, 'additionalProperties'], message: 'must not be set together with properties' });
  }
  if (node.uniqueItems === true) {
    out.push({ path: [...path, 'uniqueItems'], message: 'must not be true in a v1 CustomResourceDefinition' });
  }
  for (const key of STRUCTURAL_CHILDREN) {
    const child = node[key];
    if (key === 'properties' && isJsonObject(child)) {
      for (const [name, schema] of Object.entries(child)) {
        if (isJsonObject(schema)) structuralNodeProblems(schema, [...path, 'properties', name], out);
      }
    } else if (key !== 'properties' && isJsonObject(child)) {
      structuralNodeProblems(child, [...path, key], out);
    }
  }
}

/** Problems the API server would refuse this CRD for, with paths inside the CRD object. */
export function structuralProblems(crd: JsonObject): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  versionsOf(crd).forEach((version, i) => {
    const base = ['spec', 'versions', String(i), 'schema', 'openAPIV3Schema'];
    const schema = objectAt(objectAt(version, 'schema'), 'openAPIV3Schema');
    if (schema === undefined) {
      out.push({ path: base, message: 'required field missing' });
      return;
    }
    if (schema.type !== 'object') out.push({ path: [...base, 'type'], message: 'must be "object" at the root' });
    structuralNodeProblems(schema, base, out);
  });
  return out;
}

function mapSchemas(value: JsonObject, structural: boolean): JsonObject {
  return Object.fromEntries(Object.entries(value).map(([key, schema]) => [key, isJsonObject(schema) ? toAjvSchema(schema, structural) : schema]));
}

/**
 * The same schema in the JSON Schema dialect ajv speaks: `x-kubernetes-*` keywords dropped after taking
 * their meaning (int-or-string, embedded resource, preserve unknown fields), `nullable` turned into a
 * `null` type, and `additionalProperties: false` on every structural object node that does not preserve
 * unknown fields, where the API server would prune. Value-validation branches (`allOf`, `anyOf`, `oneOf`,
 * `not`) only restate constraints on declared fields, so they get no such closing.
 */
function toAjvSchema(node: JsonObject, structural: boolean): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-') || key === 'nullable') continue;
    if ((key === 'properties' || key === 'patternProperties') && isJsonObject(value)) {
      out[key] = mapSchemas(value, structural);
    } else if ((key === 'items' || key === 'additionalProperties' || key === 'not') && isJsonObject(value)) {
      out[key] = toAjvSchema(value, structural && key !== 'not');
    } else if ((key === 'items' || key === 'allOf' || key === 'anyOf' || key === 'oneOf') && Array.isArray(value)) {
      out[key] = value.map((schema) => (isJsonObject(schema) ? toAjvSchema(schema, structural && key === 'items') : schema));
    } else if (key === 'pattern' && typeof value === 'string') {
      // The API server compiles patterns with Go's regexp (RE2): its `\x{FFFF}` is `\u{FFFF}` to ajv's Unicode regexps.
      out[key] = value.replace(/\\x\{([0-9a-fA-F]{1,6})\}/g, '\\u{$1}');
    } else {
      out[key] = value;
    }
  }
  if (node['x-kubernetes-int-or-string'] === true && out.type === undefined) out.type = ['integer', 'string'];
  if (node['x-kubernetes-embedded-resource'] === true) {
    out.properties = { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...objectAt(out, 'properties') };
  }
  if (node.nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (Array.isArray(out.type)) out.type = [...out.type, 'null'];
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
  }
  const open = node['x-kubernetes-preserve-unknown-fields'] === true || out.additionalProperties !== undefined;
  if (structural && out.type === 'object' && !open) out.additionalProperties = false;
  return out;
}

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, useDefaults: true });
const compiled = new Map<string, ValidateFunction>();

/**
 * A validator for objects of one custom resource version. `apiVersion`, `kind` and `metadata` are always
 * allowed at the root (metadata is left to the caller). The returned function fills in schema defaults
 * on the value it is given, as API server defaulting does before validation: pass it a copy.
 */
export function customResourceValidator(schema: JsonObject): ValidateFunction {
  const root = toAjvSchema(schema, true);
  root.properties = { ...objectAt(root, 'properties'), apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' } };
  const key = JSON.stringify(root);
  let validate = compiled.get(key);
  if (validate === undefined) {
    validate = ajv.compile(root);
    compiled.set(key, validate);
  }
  return validate;
}
