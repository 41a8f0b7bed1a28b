/**
 * Validation of a policy rules document: the shape `POLICY_RULES_SCHEMA` describes (checked here by hand, so the
 * policy server needs no ajv), then what a schema cannot say. Every problem names its field path under `at`
 * (`spec.policy.rules[2].windows[0].limit: expected a whole number from 1 to ...`); the result has its defaults
 * filled in and is deep-frozen.
 */
import { MailfleetError } from '../errors.ts';
import { authRulesProblems, readAuthRules } from './auth-rules.ts';
import { array, choice, exempt, integer, join, object, text, window, type Problems } from './rule-fields.ts';
import {
  ACTION_PATTERN, CONTEXT_PATTERN, COUNT_KEYS, DEFAULT_FAIL_ACTION, DEFAULT_RULE_ACTION, DEFAULT_RULE_TEXT, FAIL_ACTION_PATTERN,
  MAX_CONTEXTS, MAX_RULES, MAX_WINDOW_SECONDS, MAX_WINDOWS, POLICY_COUNTS, POLICY_KEYS, TEXT_PATTERN,
  type PolicyRule, type PolicyRules, type PolicyWindow,
} from './rules-schema.ts';
import { NAME_PATTERN } from '../spec/patterns.ts';

const ACTION = new RegExp(ACTION_PATTERN, 'u');
const TEXT = new RegExp(TEXT_PATTERN, 'u');
const FAIL_ACTION = new RegExp(FAIL_ACTION_PATTERN, 'u');
const NAME = new RegExp(NAME_PATTERN, 'u');
const CONTEXT = new RegExp(CONTEXT_PATTERN, 'u');

function rule(value: unknown, at: string, problems: Problems): PolicyRule | undefined {
  const known = ['name', 'key', 'count', 'windows', 'ipv4Prefix', 'ipv6Prefix', 'contexts', 'exempt', 'action', 'text'];
  const record = object(value, at, known, ['name', 'key', 'count', 'windows'], problems);
  if (!record) return undefined;
  const before = problems.length;
  const name = record.name === undefined ? undefined : text(record.name, join(at, 'name'), NAME, "a name of lower-case letters, digits and '-', at most 63", problems);
  const key = record.key === undefined ? undefined : choice(record.key, join(at, 'key'), POLICY_KEYS, problems);
  const count = record.count === undefined ? undefined : choice(record.count, join(at, 'count'), POLICY_COUNTS, problems);
  const list = record.windows === undefined ? undefined : array(record.windows, join(at, 'windows'), 1, MAX_WINDOWS, problems);
  const windows = (list ?? []).map((w, i) => window(w, join(join(at, 'windows'), i), problems));
  const ipv4Prefix = record.ipv4Prefix === undefined ? undefined : integer(record.ipv4Prefix, join(at, 'ipv4Prefix'), 0, 32, problems);
  const ipv6Prefix = record.ipv6Prefix === undefined ? undefined : integer(record.ipv6Prefix, join(at, 'ipv6Prefix'), 0, 128, problems);
  const contexts = record.contexts === undefined ? undefined : (array(record.contexts, join(at, 'contexts'), 1, MAX_CONTEXTS, problems) ?? []).flatMap((c, i) => {
    const value = text(c, join(join(at, 'contexts'), i), CONTEXT, 'a policy_context of letters, digits, ".", "_" or "-", at most 63', problems);
    return value === undefined ? [] : [value];
  });
  const exemptions = exempt(record.exempt, join(at, 'exempt'), problems);
  const action = record.action === undefined ? DEFAULT_RULE_ACTION : text(record.action, join(at, 'action'), ACTION, 'DEFER_IF_PERMIT, DEFER, REJECT, HOLD, WARN or a 4NN/5NN code', problems);
  const reply = record.text === undefined ? DEFAULT_RULE_TEXT : text(record.text, join(at, 'text'), TEXT, '1 to 200 printable ASCII characters', problems);
  if (problems.length > before || name === undefined || key === undefined || count === undefined || action === undefined || reply === undefined) return undefined;
  return {
    name, key, count, windows: windows as PolicyWindow[], exempt: exemptions, action, text: reply,
    ...(ipv4Prefix === undefined ? {} : { ipv4Prefix }),
    ...(ipv6Prefix === undefined ? {} : { ipv6Prefix }),
    ...(contexts === undefined ? {} : { contexts }),
  };
}

/**
 * What the schema cannot say, for a document whose shape is right (the spec calls this after ajv): rule names
 * unique, each key one its count can be kept per, prefixes only for client addresses, windows of distinct lengths,
 * contexts listed once.
 */
export function policyRulesProblems(rules: PolicyRules, at = ''): string[] {
  const problems: string[] = [];
  const names = new Map<string, number>();
  rules.rules.forEach((r, i) => {
    const path = join(join(at, 'rules'), i);
    const other = names.get(r.name);
    if (other !== undefined) problems.push(`${join(path, 'name')}: ${r.name} is also the name of ${join(join(at, 'rules'), other)}`);
    else names.set(r.name, i);
    if (!COUNT_KEYS[r.count].includes(r.key)) {
      problems.push(`${join(path, 'key')}: counting ${r.count}, a rule can key on ${COUNT_KEYS[r.count].join(', ')} only (the stage it counts at has no ${r.key})`);
    }
    for (const field of ['ipv4Prefix', 'ipv6Prefix'] as const) {
      if (r[field] !== undefined && r.key !== 'client_address') problems.push(`${join(path, field)}: only taken with key client_address`);
    }
    r.contexts?.forEach((c, j) => {
      if (r.contexts?.indexOf(c) !== j) problems.push(`${join(join(path, 'contexts'), j)}: ${c} is listed twice`);
    });
    const lengths = new Map<number, number>();
    r.windows.forEach((w, j) => {
      const wat = join(join(path, 'windows'), j);
      const same = lengths.get(w.seconds);
      if (same !== undefined) problems.push(`${join(wat, 'seconds')}: ${w.seconds} is also the length of windows[${same}]`);
      else lengths.set(w.seconds, j);
      // How long a full bucket takes to empty: its keys live that long in Redis.
      if (((w.burst ?? w.limit) / w.limit) * w.seconds > MAX_WINDOW_SECONDS) {
        problems.push(`${join(wat, 'burst')}: ${w.burst} at ${w.limit} per ${w.seconds} s takes longer than 31 days to use up; expected at most ${Math.floor((MAX_WINDOW_SECONDS / w.seconds) * w.limit)}`);
      }
    });
  });
  problems.push(...authRulesProblems(rules.auth, join(at, 'auth')));
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Checks a parsed rules document (from YAML or JSON, or `spec.policy`), fills its defaults and freezes it. Throws
 * POLICY_RULES_INVALID with every problem in `details`, each naming its field under `at`.
 */
export function validatePolicyRules(input: unknown, at = '', source = 'policy rules'): PolicyRules {
  const problems: string[] = [];
  const record = object(input ?? {}, at, ['defaultAction', 'exempt', 'rules', 'auth'], [], problems);
  let result: PolicyRules | undefined;
  if (record) {
    const defaultAction = record.defaultAction === undefined
      ? DEFAULT_FAIL_ACTION
      : text(record.defaultAction, join(at, 'defaultAction'), FAIL_ACTION, 'DUNNO, or DEFER_IF_PERMIT, DEFER or a 4NN code with optional text', problems);
    const exemptions = exempt(record.exempt, join(at, 'exempt'), problems);
    const list = array(record.rules ?? [], join(at, 'rules'), 0, MAX_RULES, problems) ?? [];
    const rules = list.map((r, i) => rule(r, join(join(at, 'rules'), i), problems));
    const auth = readAuthRules(record.auth, join(at, 'auth'), problems);
    if (problems.length === 0 && defaultAction !== undefined && auth !== undefined) {
      result = { defaultAction, exempt: exemptions, rules: rules as PolicyRule[], auth };
      problems.push(...policyRulesProblems(result, at));
    }
  }
  if (problems.length > 0 || result === undefined) {
    throw new MailfleetError('POLICY_RULES_INVALID', `${source}: ${problems.length} problem(s)`, { details: problems });
  }
  return deepFreeze(result);
}
