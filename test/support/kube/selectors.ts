/**
 * Label and field selectors as the API server parses them (k8s.io/apimachinery labels.Parse and
 * fields.ParseSelector). Pure: strings in, predicates out. A malformed selector throws a 400.
 */
import { badRequest } from './status.ts';
import { isJsonObject, valueAt, type JsonObject } from './json-value.ts';

type Op = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';
interface Requirement {
  key: string;
  op: Op;
  values: string[];
}

export type ObjectPredicate = (obj: JsonObject) => boolean;

const NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const PREFIX = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const LABEL_KEY = new RegExp(`^(${PREFIX}/)?${NAME}$`);
const LABEL_VALUE = new RegExp(`^(${NAME})?$`);

/** Why a label key is unacceptable, or undefined when it is fine. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  if (slash > 253) return 'prefix part must be no more than 253 characters';
  if (key.length - slash - 1 > 63) return 'name part must be no more than 63 characters';
  return LABEL_KEY.test(key) ? undefined : "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
}

export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  return LABEL_VALUE.test(value) ? undefined : "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
}

/** Splits at commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function parseRequirement(raw: string): Requirement {
  const part = raw.trim();
  const fail = (why: string) => badRequest(`unable to parse requirement: ${why}: "${part}"`);
  let m: RegExpExecArray | null;
  let req: Requirement;
  if ((m = /^!\s*(\S+)$/.exec(part))) req = { key: m[1]!, op: '!', values: [] };
  else if ((m = /^([^\s=!<>(),]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part))) {
    const values = m[3]!.split(',').map((v) => v.trim());
    if (m[2] === 'in' && values.length === 1 && values[0] === '') throw fail('for \'in\' set operator, values set can\'t be empty');
    req = { key: m[1]!, op: m[2] as Op, values };
  } else if ((m = /^([^\s=!<>(),]+)\s*(==|=|!=)\s*([^\s=!<>(),]*)$/.exec(part))) req = { key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] };
  else if ((m = /^([^\s=!<>(),]+)\s*([<>])\s*(\S+)$/.exec(part))) {
    if (!/^-?\d+$/.test(m[3]!)) throw fail('for \'Gt\', \'Lt\' operators, the value must be an integer');
    req = { key: m[1]!, op: m[2] === '>' ? 'gt' : 'lt', values: [m[3]!] };
  } else if ((m = /^([^\s=!<>(),]+)$/.exec(part))) req = { key: m[1]!, op: 'exists', values: [] };
  else throw fail('found unexpected token');
  const keyProblem = labelKeyProblem(req.key);
  if (keyProblem) throw fail(`invalid label key "${req.key}": ${keyProblem}`);
  for (const v of req.values) {
    const valueProblem = labelValueProblem(v);
    if (valueProblem && req.op !== 'gt' && req.op !== 'lt') throw fail(`invalid label value: "${v}": ${valueProblem}`);
  }
  return req;
}

function matchesRequirement(labels: Record<string, unknown>, r: Requirement): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = has ? String(labels[r.key]) : undefined;
  switch (r.op) {
    case 'exists':
      return has;
    case '!':
      return !has;
    case '=':
      return value === r.values[0];
    case '!=':
      return value !== r.values[0];
    case 'in':
      return value !== undefined && r.values.includes(value);
    case 'notin':
      return value === undefined || !r.values.includes(value);
    case 'gt':
    case 'lt': {
      if (value === undefined || !/^-?\d+$/.test(value)) return false;
      const diff = Number(value) - Number(r.values[0]);
      return r.op === 'gt' ? diff > 0 : diff < 0;
    }
  }
}

/** A predicate over `metadata.labels`; an absent or empty selector matches everything. */
export function parseLabelSelector(text: string | null | undefined): ObjectPredicate {
  if (!text || text.trim() === '') return () => true;
  const requirements = splitTopLevel(text).map(parseRequirement);
  return (obj) => {
    const meta = obj.metadata;
    const labels = isJsonObject(meta) && isJsonObject(meta.labels) ? meta.labels : {};
    return requirements.every((r) => matchesRequirement(labels, r));
  };
}

/**
 * A predicate over fields: `metadata.name`, `metadata.namespace` and the resource's own
 * selectable fields, with `=`, `==` and `!=`. Any other field is rejected with 400, as the real server does.
 */
export function parseFieldSelector(text: string | null | undefined, selectable: readonly string[] = []): ObjectPredicate {
  if (!text || text.trim() === '') return () => true;
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...selectable]);
  const terms = text.split(',').map((raw) => {
    const m = /^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(raw);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${raw}'`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    if (!allowed.has(field)) throw badRequest(`field label not supported: ${field}`);
    return { path: field.split('.'), negate: op === '!=', value };
  });
  return (obj) =>
    terms.every((t) => {
      const v = valueAt(obj, t.path);
      const actual = v === undefined || v === null ? '' : String(v);
      return (actual === t.value) !== t.negate;
    });
}
