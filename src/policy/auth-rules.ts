/**
 * Validation of the `auth` section of a policy rules document (see `AuthRules` in rules-schema.ts): the shape
 * checked by hand, naming the field path of every problem, then what a schema cannot say.
 */
import { NAME_PATTERN } from '../spec/patterns.ts';
import { array, choice, exempt, integer, join, object, text, window, type Problems } from './rule-fields.ts';
import {
  AUTH_ACTIONS, AUTH_KEYS, AUTH_TEXT_PATTERN, DEFAULT_AUTH_RULES, DEFAULT_AUTH_TEXT, MAX_AUTH_RULES, MAX_TARPIT_SECONDS, MAX_WINDOW_SECONDS, MAX_WINDOWS,
  type AuthRule, type AuthRules, type PolicyWindow,
} from './rules-schema.ts';

const NAME = new RegExp(NAME_PATTERN, 'u');
const AUTH_TEXT = new RegExp(AUTH_TEXT_PATTERN, 'u');
const BOOLEAN = ['true', 'false'] as const;

function authRule(value: unknown, at: string, problems: Problems): AuthRule | undefined {
  const known = ['name', 'key', 'windows', 'ipv4Prefix', 'ipv6Prefix', 'distinctPasswords', 'knownSeconds', 'exempt', 'action', 'tarpitSeconds', 'text'];
  const record = object(value, at, known, ['name', 'key', 'windows'], problems);
  if (!record) return undefined;
  const before = problems.length;
  const name = record.name === undefined ? undefined : text(record.name, join(at, 'name'), NAME, "a name of lower-case letters, digits and '-', at most 63", problems);
  const key = record.key === undefined ? undefined : choice(record.key, join(at, 'key'), AUTH_KEYS, problems);
  const list = record.windows === undefined ? undefined : array(record.windows, join(at, 'windows'), 1, MAX_WINDOWS, problems);
  const windows = (list ?? []).map((w, i) => window(w, join(join(at, 'windows'), i), problems));
  const optional = (field: string, min: number, max: number): number | undefined =>
    record[field] === undefined ? undefined : integer(record[field], join(at, field), min, max, problems);
  const ipv4Prefix = optional('ipv4Prefix', 0, 32);
  const ipv6Prefix = optional('ipv6Prefix', 0, 128);
  const knownSeconds = optional('knownSeconds', 0, MAX_WINDOW_SECONDS);
  const tarpitSeconds = optional('tarpitSeconds', 1, MAX_TARPIT_SECONDS);
  const distinct = record.distinctPasswords;
  if (distinct !== undefined && typeof distinct !== 'boolean') choice(distinct, join(at, 'distinctPasswords'), BOOLEAN, problems);
  const exemptions = exempt(record.exempt, join(at, 'exempt'), problems);
  const action = record.action === undefined ? 'reject' : choice(record.action, join(at, 'action'), AUTH_ACTIONS, problems);
  const reply = record.text === undefined ? DEFAULT_AUTH_TEXT : text(record.text, join(at, 'text'), AUTH_TEXT, '1 to 200 printable ASCII characters', problems);
  if (problems.length > before || name === undefined || key === undefined || action === undefined || reply === undefined) return undefined;
  return {
    name, key, windows: windows as PolicyWindow[], exempt: exemptions, action, text: reply,
    ...(ipv4Prefix === undefined ? {} : { ipv4Prefix }),
    ...(ipv6Prefix === undefined ? {} : { ipv6Prefix }),
    ...(typeof distinct === 'boolean' ? { distinctPasswords: distinct } : {}),
    ...(knownSeconds === undefined ? {} : { knownSeconds }),
    ...(tarpitSeconds === undefined ? {} : { tarpitSeconds }),
  };
}

/** What the schema cannot say (the spec calls this after ajv): unique names, fields only for the key or action that takes them, distinct window lengths. */
export function authRulesProblems(auth: AuthRules, at: string): string[] {
  const problems: string[] = [];
  const names = new Map<string, number>();
  auth.rules.forEach((r, i) => {
    const path = join(join(at, 'rules'), i);
    const other = names.get(r.name);
    if (other !== undefined) problems.push(`${join(path, 'name')}: ${r.name} is also the name of ${join(join(at, 'rules'), other)}`);
    else names.set(r.name, i);
    for (const field of ['ipv4Prefix', 'ipv6Prefix'] as const) {
      if (r[field] !== undefined && r.key !== 'remote') problems.push(`${join(path, field)}: only taken with key remote`);
    }
    for (const field of ['distinctPasswords', 'knownSeconds'] as const) {
      if (r[field] !== undefined && r.key !== 'login') problems.push(`${join(path, field)}: only taken with key login`);
    }
    if (r.tarpitSeconds !== undefined && r.action !== 'tarpit') problems.push(`${join(path, 'tarpitSeconds')}: only taken with action tarpit`);
    const lengths = new Map<number, number>();
    r.windows.forEach((w, j) => {
      const same = lengths.get(w.seconds);
      if (same !== undefined) problems.push(`${join(join(join(path, 'windows'), j), 'seconds')}: ${w.seconds} is also the length of windows[${same}]`);
      else lengths.set(w.seconds, j);
      if (((w.burst ?? w.limit) / w.limit) * w.seconds > MAX_WINDOW_SECONDS) {
        problems.push(`${join(join(join(path, 'windows'), j), 'burst')}: ${w.burst} at ${w.limit} per ${w.seconds} s takes longer than 31 days to use up`);
      }
    });
  });
  return problems;
}

/** The `auth` section at `at` (absent: the defaults), the problems of its shape added to `problems` ({@link authRulesProblems} after). */
export function readAuthRules(value: unknown, at: string, problems: Problems): AuthRules | undefined {
  const before = problems.length;
  const record = object(value ?? {}, at, ['exempt', 'rules'], [], problems);
  if (!record) return undefined;
  const exemptions = exempt(record.exempt, join(at, 'exempt'), problems);
  const list = record.rules === undefined ? DEFAULT_AUTH_RULES : array(record.rules, join(at, 'rules'), 0, MAX_AUTH_RULES, problems) ?? [];
  const rules = list.map((r, i) => authRule(r, join(join(at, 'rules'), i), problems));
  if (problems.length > before) return undefined;
  return { exempt: exemptions, rules: rules as AuthRule[] };
}
