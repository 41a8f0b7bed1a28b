/**
 * The keyring's file form (`index.json`): JSON, keys in a fixed order, read back strictly. A file that does
 * not parse or breaks a rule of the keyring (two active selectors, an unknown state, a time that is not
 * one) is refused with DKIM_STORE_INVALID naming the field, never half used.
 */
import { MailfleetError } from '../errors.ts';
import { DOMAIN_PATTERN } from '../spec/patterns.ts';
import { DKIM_ALGORITHMS, RSA_KEY_BITS, type DkimAlgorithm } from './keys.ts';
import { SELECTOR_PATTERN, SELECTOR_STATES, type DomainKeys, type Keyring, type SelectorEntry, type SelectorState } from './keyring.ts';

/** An index larger than this is not one mailfleet wrote (thousands of domains take well under 1 MB each year). */
export const MAX_INDEX_BYTES = 8 * 1024 * 1024;
/** A base64 public key longer than this is not an RSA key of at most 4096 bits nor an ed25519 key. */
const MAX_PUBLIC_KEY_CHARS = 1024;

const DOMAIN = new RegExp(DOMAIN_PATTERN);
const SELECTOR = new RegExp(SELECTOR_PATTERN);
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TIMES = ['created', 'activated', 'retiring', 'retireAt', 'retired'] as const;
/** The times each state must have. */
const REQUIRED_TIMES: Record<SelectorState, readonly (typeof TIMES)[number][]> = {
  pending: ['created'],
  active: ['created', 'activated'],
  retiring: ['created', 'retiring', 'retireAt'],
  retired: ['created', 'retired'],
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function invalid(where: string, field: string, why: string): MailfleetError {
  return new MailfleetError('DKIM_STORE_INVALID', `${where}: ${field}: ${why}`);
}

function onlyKeys(value: Json, allowed: readonly string[], where: string, field: string): void {
  const extra = Object.keys(value).find((k) => !allowed.includes(k));
  if (extra !== undefined) throw invalid(where, field, `unknown field ${JSON.stringify(extra.slice(0, 60))}`);
}

function parseEntry(value: unknown, where: string, field: string): SelectorEntry {
  if (!isObject(value)) throw invalid(where, field, 'expected an object');
  onlyKeys(value, ['selector', 'algorithm', 'bits', 'publicKey', 'state', ...TIMES], where, field);
  const { selector, algorithm, bits, publicKey, state } = value;
  if (typeof selector !== 'string' || !SELECTOR.test(selector)) throw invalid(where, `${field}.selector`, 'expected a DNS label of lower-case letters, digits and \'-\'');
  if (typeof algorithm !== 'string' || !(DKIM_ALGORITHMS as readonly string[]).includes(algorithm)) throw invalid(where, `${field}.algorithm`, `expected one of ${DKIM_ALGORITHMS.join(', ')}`);
  if (algorithm === 'rsa' ? !(RSA_KEY_BITS as readonly unknown[]).includes(bits) : bits !== undefined) {
    throw invalid(where, `${field}.bits`, algorithm === 'rsa' ? `expected one of ${RSA_KEY_BITS.join(', ')}` : 'only an rsa key has bits');
  }
  if (typeof publicKey !== 'string' || publicKey.length > MAX_PUBLIC_KEY_CHARS || !BASE64.test(publicKey)) throw invalid(where, `${field}.publicKey`, 'expected base64 of at most 1024 characters');
  if (typeof state !== 'string' || !(SELECTOR_STATES as readonly string[]).includes(state)) throw invalid(where, `${field}.state`, `expected one of ${SELECTOR_STATES.join(', ')}`);
  const entry: SelectorEntry = { selector, algorithm: algorithm as DkimAlgorithm, ...(bits === undefined ? {} : { bits: bits as number }), publicKey, state: state as SelectorState, created: '' };
  for (const time of TIMES) {
    const v = value[time];
    if (v === undefined) {
      if (REQUIRED_TIMES[state as SelectorState].includes(time)) throw invalid(where, `${field}.${time}`, `required for a ${state} selector`);
      continue;
    }
    if (typeof v !== 'string' || !ISO_TIME.test(v) || Number.isNaN(Date.parse(v))) throw invalid(where, `${field}.${time}`, 'expected an ISO 8601 UTC time (2025-03-14T09:30:00.000Z)');
    entry[time] = v;
  }
  return entry;
}

function parseDomain(value: unknown, where: string, domain: string): DomainKeys {
  const field = `domains[${JSON.stringify(domain.slice(0, 260))}]`;
  if (!DOMAIN.test(domain)) throw invalid(where, field, 'not a lower-case domain name');
  if (!isObject(value)) throw invalid(where, field, 'expected an object');
  onlyKeys(value, ['active', 'selectors'], where, field);
  if (!Array.isArray(value.selectors)) throw invalid(where, `${field}.selectors`, 'expected an array');
  const selectors = value.selectors.map((e, i) => parseEntry(e, where, `${field}.selectors[${i}]`));
  const seen = new Set<string>();
  for (const [i, e] of selectors.entries()) {
    if (seen.has(e.selector)) throw invalid(where, `${field}.selectors[${i}].selector`, `${e.selector} appears twice`);
    seen.add(e.selector);
  }
  for (const state of ['active', 'pending'] as const) {
    if (selectors.filter((e) => e.state === state).length > 1) throw invalid(where, `${field}.selectors`, `more than one ${state} selector`);
  }
  const active = selectors.find((e) => e.state === 'active')?.selector;
  if (value.active !== active) throw invalid(where, `${field}.active`, active === undefined ? 'set, but no selector is active' : `expected ${JSON.stringify(active)}, the active selector`);
  return { ...(active === undefined ? {} : { active }), selectors };
}

/** Reads index.json; `where` names the file in errors. */
export function parseKeyring(text: string, where: string): Keyring {
  if (Buffer.byteLength(text) > MAX_INDEX_BYTES) throw invalid(where, '(file)', `larger than ${MAX_INDEX_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MailfleetError('DKIM_STORE_INVALID', `${where}: not JSON`, { cause: err });
  }
  if (!isObject(value)) throw invalid(where, '(file)', 'expected an object');
  onlyKeys(value, ['version', 'domains'], where, '(file)');
  if (value.version !== 1) throw invalid(where, 'version', 'expected 1');
  if (!isObject(value.domains)) throw invalid(where, 'domains', 'expected an object');
  const domains: Record<string, DomainKeys> = {};
  for (const domain of Object.keys(value.domains).sort()) domains[domain] = parseDomain(value.domains[domain], where, domain);
  return { version: 1, domains };
}

const ENTRY_KEYS = ['selector', 'state', 'algorithm', 'bits', 'publicKey', ...TIMES] as const;

/** index.json's text: domains sorted, each entry's fields in one order, a final newline. */
export function serializeKeyring(ring: Keyring): string {
  const domains = Object.fromEntries(Object.keys(ring.domains).sort().map((d) => {
    const keys = ring.domains[d] as DomainKeys;
    const selectors = keys.selectors.map((e) => Object.fromEntries(ENTRY_KEYS.filter((k) => e[k] !== undefined).map((k) => [k, e[k]])));
    return [d, { ...(keys.active === undefined ? {} : { active: keys.active }), selectors }];
  }));
  return `${JSON.stringify({ version: 1, domains }, null, 2)}\n`;
}
