/**
 * The DKIM keyring: per domain, its selectors and where each stands. Pure: every change takes the time
 * from its caller and returns a new keyring; the store writes it.
 *
 * A selector's life: `pending` (made by a rotation, not used for signing until its record is visible in
 * DNS) → `active` (signs the domain's mail; one per domain) → `retiring` (replaced; its record must stay
 * published until `retireAt`, so mail signed with it still verifies on the way) → `retired` (its record
 * may go, its private key is deleted). The first key of a domain is active at once.
 */
import { MailfleetError } from '../errors.ts';
import type { DkimPublicKey } from './keys.ts';

export const SELECTOR_STATES = ['pending', 'active', 'retiring', 'retired'] as const;
export type SelectorState = (typeof SELECTOR_STATES)[number];

/** How long a replaced selector's record stays published, by default: 7 days. */
export const DEFAULT_RETIRE_AFTER_MS = 7 * 86_400_000;

/** Selectors mailfleet makes: `mf` and the UTC date, `-2`, `-3`… for a second one that day. A DNS label. */
export const SELECTOR_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
const SELECTOR_PREFIX = 'mf';

export interface SelectorEntry extends DkimPublicKey {
  selector: string;
  state: SelectorState;
  /** ISO 8601 times (UTC). */
  created: string;
  /** When it began to sign. */
  activated?: string;
  /** When another selector replaced it. */
  retiring?: string;
  /** When its record may be removed: `retiring` plus the retire period. */
  retireAt?: string;
  /** When it was retired: its `retireAt`, or when a forced restart retired it. Its private key is then deleted. */
  retired?: string;
}

export interface DomainKeys {
  /** The selector that signs; absent while the domain has none. */
  active?: string;
  /** Oldest first. */
  selectors: SelectorEntry[];
}

export interface Keyring {
  version: 1;
  /** By domain (lower case). */
  domains: Record<string, DomainKeys>;
}

export function emptyKeyring(): Keyring {
  return { version: 1, domains: {} };
}

const iso = (at: Date): string => at.toISOString();

function domainOf(ring: Keyring, domain: string): DomainKeys {
  return ring.domains[domain] ?? { selectors: [] };
}

function withDomain(ring: Keyring, domain: string, keys: DomainKeys): Keyring {
  const domains = { ...ring.domains, [domain]: keys };
  return { version: 1, domains: Object.fromEntries(Object.keys(domains).sort().map((d) => [d, domains[d] as DomainKeys])) };
}

function entryIn(keys: DomainKeys, state: SelectorState): SelectorEntry | undefined {
  return keys.selectors.find((e) => e.state === state);
}

export function activeEntry(ring: Keyring, domain: string): SelectorEntry | undefined {
  return entryIn(domainOf(ring, domain), 'active');
}

export function pendingEntry(ring: Keyring, domain: string): SelectorEntry | undefined {
  return entryIn(domainOf(ring, domain), 'pending');
}

/** A selector for a key made at `at` that none of `taken` is: `mf20250314`, then `mf20250314-2`, … */
export function nextSelector(at: Date, taken: Iterable<string>): string {
  const used = new Set(taken);
  const base = `${SELECTOR_PREFIX}${iso(at).slice(0, 10).replaceAll('-', '')}`;
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) if (!used.has(`${base}-${n}`)) return `${base}-${n}`;
}

function newEntry(keys: DomainKeys, key: DkimPublicKey, state: SelectorState, now: Date): SelectorEntry {
  return {
    selector: nextSelector(now, keys.selectors.map((e) => e.selector)),
    algorithm: key.algorithm,
    ...(key.bits === undefined ? {} : { bits: key.bits }),
    publicKey: key.publicKey,
    state,
    created: iso(now),
    ...(state === 'active' ? { activated: iso(now) } : {}),
  };
}

/**
 * The domain's first key, active at once. A domain that has an active or pending selector is refused
 * (DKIM_KEY_EXISTS) unless `force`: then every selector it had is retired at once (for a key that leaked:
 * remove their records) and the new one signs.
 */
export function addFirstKey(ring: Keyring, domain: string, key: DkimPublicKey, now: Date, opts: { force?: boolean } = {}): { ring: Keyring; entry: SelectorEntry; retired: SelectorEntry[] } {
  const keys = domainOf(ring, domain);
  const live = keys.selectors.filter((e) => e.state !== 'retired');
  if (live.length > 0 && opts.force !== true) {
    throw new MailfleetError('DKIM_KEY_EXISTS', `${domain} already has DKIM selector${live.length === 1 ? '' : 's'} ${live.map((e) => `${e.selector} (${e.state})`).join(', ')}; use 'mailfleet dkim rotate ${domain}' to replace it, or --force to start over`);
  }
  const entry = newEntry(keys, key, 'active', now);
  const retired = live.map((e): SelectorEntry => ({ ...e, state: 'retired', retired: iso(now) }));
  const selectors = [...keys.selectors.map((e) => retired.find((r) => r.selector === e.selector) ?? e), entry];
  return { ring: withDomain(ring, domain, { active: entry.selector, selectors }), entry, retired };
}

/**
 * A new pending selector for a domain that signs. When one is pending already it is returned and nothing
 * changes: a rotation is finished (promoted) before another begins.
 */
export function addPendingKey(ring: Keyring, domain: string, key: DkimPublicKey, now: Date): { ring: Keyring; entry: SelectorEntry; created: boolean } {
  const keys = domainOf(ring, domain);
  if (!entryIn(keys, 'active')) throw new MailfleetError('DKIM_KEY_NOT_FOUND', `${domain} has no DKIM key to rotate; make one with 'mailfleet dkim generate ${domain}'`);
  const pending = entryIn(keys, 'pending');
  if (pending) return { ring, entry: pending, created: false };
  const entry = newEntry(keys, key, 'pending', now);
  return { ring: withDomain(ring, domain, { ...keys, selectors: [...keys.selectors, entry] }), entry, created: true };
}

/**
 * The pending selector signs from `now`; the one it replaces is retiring until `now + retireAfterMs`.
 * Throws DKIM_KEY_NOT_FOUND when nothing is pending.
 */
export function promotePending(ring: Keyring, domain: string, now: Date, retireAfterMs: number = DEFAULT_RETIRE_AFTER_MS): { ring: Keyring; promoted: SelectorEntry; replaced?: SelectorEntry } {
  const keys = domainOf(ring, domain);
  const pending = entryIn(keys, 'pending');
  if (!pending) throw new MailfleetError('DKIM_KEY_NOT_FOUND', `${domain} has no pending DKIM selector; start a rotation with 'mailfleet dkim rotate ${domain}'`);
  const active = entryIn(keys, 'active');
  const promoted: SelectorEntry = { ...pending, state: 'active', activated: iso(now) };
  const replaced: SelectorEntry | undefined = active && { ...active, state: 'retiring', retiring: iso(now), retireAt: iso(new Date(now.getTime() + retireAfterMs)) };
  const selectors = keys.selectors.map((e) => (e === pending ? promoted : e === active && replaced ? replaced : e));
  return { ring: withDomain(ring, domain, { active: promoted.selector, selectors }), promoted, ...(replaced ? { replaced } : {}) };
}

/** Retires every retiring selector whose `retireAt` has come. */
export function retireDue(ring: Keyring, now: Date): { ring: Keyring; retired: { domain: string; entry: SelectorEntry }[] } {
  const retired: { domain: string; entry: SelectorEntry }[] = [];
  let next = ring;
  for (const [domain, keys] of Object.entries(ring.domains)) {
    const due = keys.selectors.filter((e) => e.state === 'retiring' && e.retireAt !== undefined && Date.parse(e.retireAt) <= now.getTime());
    if (due.length === 0) continue;
    const selectors = keys.selectors.map((e): SelectorEntry => {
      if (!due.includes(e)) return e;
      // Retired when its period ended, whenever the store noticed: the same time at every read.
      const done: SelectorEntry = { ...e, state: 'retired', retired: e.retireAt ?? iso(now) };
      retired.push({ domain, entry: done });
      return done;
    });
    next = withDomain(next, domain, { ...keys, selectors });
  }
  return { ring: next, retired };
}

/** The selectors whose private keys the store keeps: every one not retired. */
export function liveEntries(ring: Keyring): { domain: string; entry: SelectorEntry }[] {
  return Object.entries(ring.domains).flatMap(([domain, keys]) => keys.selectors.filter((e) => e.state !== 'retired').map((entry) => ({ domain, entry })));
}
