/**
 * JSON Merge Patch (RFC 7386) and JSON Patch (RFC 6902). Pure functions over JSON values.
 *
 * `application/strategic-merge-patch+json` is served as a merge patch: lists are replaced
 * whole and `$patch`/`$retainKeys`/`$setElementOrder` directives are not interpreted, where the
 * real server merges lists such as containers by their merge key.
 */
import { cloneJson, isJsonObject, jsonEqual, type JsonObject, type JsonValue } from './json-value.ts';

export class JsonPatchError extends Error {
  override readonly name = 'JsonPatchError';
}

export function mergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return cloneJson(patch);
  const out: JsonObject = isJsonObject(target) ? cloneJson(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function arrayIndex(arr: JsonValue[], token: string, forInsert: boolean): number {
  if (forInsert && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new JsonPatchError(`invalid array index "${token}"`);
  const i = Number(token);
  if (i > arr.length || (!forInsert && i === arr.length)) throw new JsonPatchError(`array index ${i} out of bounds`);
  return i;
}

function parentOf(doc: JsonValue, tokens: string[]): JsonValue {
  let node = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(node, t, false)]!;
    else if (isJsonObject(node) && Object.hasOwn(node, t)) node = node[t]!;
    else throw new JsonPatchError(`path segment "${t}" not found`);
  }
  return node;
}

function getAt(doc: JsonValue, tokens: string[]): JsonValue {
  if (tokens.length === 0) return doc;
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, false)]!;
  if (isJsonObject(parent) && Object.hasOwn(parent, last)) return parent[last]!;
  throw new JsonPatchError(`path "${last}" not found`);
}

function removeAt(doc: JsonValue, tokens: string[]): JsonValue {
  if (tokens.length === 0) throw new JsonPatchError('cannot remove the whole document');
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, false), 1)[0]!;
  if (isJsonObject(parent) && Object.hasOwn(parent, last)) {
    const old = parent[last]!;
    delete parent[last];
    return old;
  }
  throw new JsonPatchError(`unable to remove nonexistent key: ${last}`);
}

function addAt(doc: JsonValue, tokens: string[], value: JsonValue, replace: boolean): JsonValue {
  if (tokens.length === 0) return cloneJson(value);
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, last, !replace);
    parent.splice(i, replace ? 1 : 0, cloneJson(value));
  } else if (isJsonObject(parent)) {
    if (replace && !Object.hasOwn(parent, last)) throw new JsonPatchError(`replace operation does not apply: doc is missing key: ${last}`);
    parent[last] = cloneJson(value);
  } else {
    throw new JsonPatchError(`cannot add "${last}" to a scalar`);
  }
  return doc;
}

/** Applies RFC 6902 operations in order; any failure (including `test`) throws JsonPatchError. */
export function jsonPatch(target: JsonValue, operations: JsonValue): JsonValue {
  if (!Array.isArray(operations)) throw new JsonPatchError('a JSON patch must be an array of operations');
  let doc = cloneJson(target);
  for (const op of operations) {
    if (!isJsonObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw new JsonPatchError('each operation needs "op" and "path"');
    const path = parsePointer(op.path);
    const needValue = () => {
      if (!Object.hasOwn(op, 'value')) throw new JsonPatchError(`operation "${op.op}" needs "value"`);
      return op.value!;
    };
    const from = () => {
      if (typeof op.from !== 'string') throw new JsonPatchError(`operation "${op.op}" needs "from"`);
      return parsePointer(op.from);
    };
    switch (op.op) {
      case 'add':
        doc = addAt(doc, path, needValue(), false);
        break;
      case 'replace':
        doc = addAt(doc, path, needValue(), true);
        break;
      case 'remove':
        removeAt(doc, path);
        break;
      case 'move': {
        const value = removeAt(doc, from());
        doc = addAt(doc, path, value, false);
        break;
      }
      case 'copy':
        doc = addAt(doc, path, getAt(doc, from()), false);
        break;
      case 'test':
        if (!jsonEqual(getAt(doc, path), needValue())) throw new JsonPatchError(`testing value ${op.path} failed`);
        break;
      default:
        throw new JsonPatchError(`unknown operation "${op.op}"`);
    }
  }
  return doc;
}
