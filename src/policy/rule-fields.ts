/**
 * The field readers of the rules documents' hand-written validation (`rules.ts`, `auth-rules.ts`): each reads one
 * value, reports what is wrong under its field path, and returns the value or undefined.
 */
import { parseNetwork } from './address.ts';
import { ACCOUNT_PATTERN, MAX_EXEMPTIONS, MAX_LIMIT, MAX_WINDOW_SECONDS, type PolicyExempt, type PolicyWindow } from './rules-schema.ts';

const ACCOUNT = new RegExp(ACCOUNT_PATTERN, 'u');

export type Problems = string[];
export type Json = Record<string, unknown>;


export function join(at: string, field: string | number): string {
  if (typeof field === 'number') return `${at}[${field}]`;
  return at === '' ? field : `${at}.${field}`;
}

export function where(at: string): string {
  return at === '' ? '(root)' : at;
}

export function got(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The object at `at`, its unknown and missing fields reported; undefined when it is not an object. */
export function object(value: unknown, at: string, known: readonly string[], required: readonly string[], problems: Problems): Json | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${where(at)}: expected object, got ${got(value)}`);
    return undefined;
  }
  const record = value as Json;
  for (const key of Object.keys(record)) if (!known.includes(key)) problems.push(`${join(at, key)}: unknown field`);
  for (const key of required) if (record[key] === undefined) problems.push(`${join(at, key)}: required field is missing`);
  return record;
}

export function integer(value: unknown, at: string, min: number, max: number, problems: Problems): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  problems.push(`${at}: expected a whole number from ${min} to ${max}, got ${got(value)}`);
  return undefined;
}

export function text(value: unknown, at: string, pattern: RegExp, what: string, problems: Problems): string | undefined {
  if (typeof value === 'string' && pattern.test(value)) return value;
  problems.push(`${at}: expected ${what}, got ${got(value)}`);
  return undefined;
}

export function choice<T extends string>(value: unknown, at: string, values: readonly T[], problems: Problems): T | undefined {
  if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
  problems.push(`${at}: expected one of ${values.join(', ')}, got ${got(value)}`);
  return undefined;
}

export function array(value: unknown, at: string, min: number, max: number, problems: Problems): unknown[] | undefined {
  if (Array.isArray(value) && value.length >= min && value.length <= max) return value as unknown[];
  problems.push(`${at}: expected a list of ${min} to ${max} items, got ${Array.isArray(value) ? `${value.length} items` : got(value)}`);
  return undefined;
}

export function exempt(value: unknown, at: string, problems: Problems): PolicyExempt {
  const record = object(value ?? {}, at, ['networks', 'accounts'], [], problems) ?? {};
  const networks = (array(record.networks ?? [], join(at, 'networks'), 0, MAX_EXEMPTIONS, problems) ?? []).flatMap((n, i) => {
    const path = join(join(at, 'networks'), i);
    if (typeof n !== 'string') {
      problems.push(`${path}: expected a network (CIDR) or address, got ${got(n)}`);
      return [];
    }
    const parsed = parseNetwork(n);
    if (typeof parsed === 'string') problems.push(`${path}: ${got(n)} ${parsed}`);
    return [n];
  });
  const accounts = (array(record.accounts ?? [], join(at, 'accounts'), 0, MAX_EXEMPTIONS, problems) ?? []).flatMap((a, i) => {
    const value = text(a, join(join(at, 'accounts'), i), ACCOUNT, 'a SASL user name without spaces, at most 320 characters', problems);
    return value === undefined ? [] : [value];
  });
  return { networks, accounts };
}

export function window(value: unknown, at: string, problems: Problems): PolicyWindow | undefined {
  const record = object(value, at, ['limit', 'seconds', 'burst'], ['limit', 'seconds'], problems);
  if (!record) return undefined;
  const limit = record.limit === undefined ? undefined : integer(record.limit, join(at, 'limit'), 1, MAX_LIMIT, problems);
  const seconds = record.seconds === undefined ? undefined : integer(record.seconds, join(at, 'seconds'), 1, MAX_WINDOW_SECONDS, problems);
  const burst = record.burst === undefined ? undefined : integer(record.burst, join(at, 'burst'), 1, MAX_LIMIT, problems);
  if (limit === undefined || seconds === undefined) return undefined;
  return burst === undefined ? { limit, seconds } : { limit, seconds, burst };
}
