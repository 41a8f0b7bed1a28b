/**
 * The changes `mailfleet dkim` makes to the store, each under the store's lock: a domain's first key, a
 * rotation (a pending selector, promoted once its record is visible in DNS), and the sweep that promotes
 * what became visible and retires what is due. Time and DNS come from the caller.
 */
import { MailfleetError } from '../errors.ts';
import { generateDkimKey, successorKeyOptions, type KeyOptions } from './keys.ts';
import { activeEntry, addFirstKey, addPendingKey, pendingEntry, promotePending, retireDue, DEFAULT_RETIRE_AFTER_MS, type Keyring, type SelectorEntry } from './keyring.ts';
import { checkPublished, dkimRecord, dkimRecordName, type DkimRecord, type RecordCheck } from './record.ts';
import { commitKeyring, loadKeyring, withDkimLock, type DkimPaths, type NewKey } from './store.ts';
import type { TxtLookup } from './dns-lookup.ts';

export interface ChangeOptions {
  now: Date;
  /** How long a replaced selector stays retiring; default {@link DEFAULT_RETIRE_AFTER_MS} (7 days). */
  retireAfterMs?: number;
}

/** Whether `entry`'s record is what DNS answers for its name now. */
export async function checkVisible(lookup: TxtLookup, domain: string, entry: SelectorEntry): Promise<RecordCheck> {
  const answer = await lookup(dkimRecordName(entry.selector, domain));
  return answer.ok ? checkPublished(entry, answer.texts) : { visible: false, reason: answer.reason };
}

/** The keyring as it stands at `now`: retiring selectors whose time has come shown retired (nothing written). */
export function keyringAt(paths: DkimPaths, now: Date): Keyring {
  return retireDue(loadKeyring(paths), now).ring;
}

/** `mailfleet dkim generate`: the domain's first key, active at once (see {@link addFirstKey} for `force`). */
export async function generateFirstKey(paths: DkimPaths, domain: string, opts: ChangeOptions & { key?: KeyOptions; force?: boolean }): Promise<{ entry: SelectorEntry; record: DkimRecord; retired: SelectorEntry[] }> {
  return withDkimLock(paths, async () => {
    const before = retireDue(loadKeyring(paths), opts.now).ring;
    const pair = generateDkimKey(opts.key);
    const { ring, entry, retired } = addFirstKey(before, domain, pair, opts.now, { force: opts.force === true });
    commitKeyring(paths, ring, [{ domain, selector: entry.selector, privateKeyPem: pair.privateKeyPem }]);
    return { entry, record: dkimRecord(entry.selector, domain, entry), retired };
  });
}

export type RotateOutcome =
  /** A new selector was made; its record is to be published, then `rotate` run again. */
  | { kind: 'pending'; entry: SelectorEntry; record: DkimRecord }
  /** The pending selector signs now (`forced`: without its record seen in DNS). */
  | { kind: 'promoted'; entry: SelectorEntry; record: DkimRecord; replaced?: SelectorEntry; forced: boolean }
  /** The pending selector's record is not visible yet: nothing changed. */
  | { kind: 'waiting'; entry: SelectorEntry; record: DkimRecord; reason: string };

/** A key asked for (`--algorithm`, `--bits`) that is not the pending selector's: that one is what rotate promotes. */
function refuseOtherKey(pending: SelectorEntry, asked: KeyOptions): void {
  const wrongAlgorithm = asked.algorithm !== undefined && asked.algorithm !== pending.algorithm;
  const wrongBits = asked.bits !== undefined && asked.bits !== pending.bits;
  if (!wrongAlgorithm && !wrongBits) return;
  const has = pending.algorithm === 'rsa' ? `rsa-${pending.bits ?? '?'}` : pending.algorithm;
  throw new MailfleetError('USAGE', `selector ${pending.selector} (${has}) is already pending and rotate promotes it as it is: run rotate without --algorithm/--bits, then rotate again for the key you asked for`);
}

/**
 * `mailfleet dkim rotate`: without a pending selector, makes one (promoted at once with `force`); with one,
 * promotes it when DNS publishes its record (or with `force`), else reports what DNS answered. The new key
 * is of the active key's algorithm and size except where `key` says otherwise ({@link successorKeyOptions}).
 */
export async function rotateDomain(paths: DkimPaths, domain: string, opts: ChangeOptions & { lookup: TxtLookup; key?: KeyOptions; force?: boolean }): Promise<RotateOutcome> {
  return withDkimLock(paths, async () => {
    let ring = retireDue(loadKeyring(paths), opts.now).ring;
    const added: NewKey[] = [];
    let pending = pendingEntry(ring, domain);
    let made = false;
    if (pending && opts.key !== undefined) refuseOtherKey(pending, opts.key);
    if (!pending) {
      const active = activeEntry(ring, domain);
      // Without an active key addPendingKey refuses the rotation (DKIM_KEY_NOT_FOUND).
      const pair = generateDkimKey(active ? successorKeyOptions(active, opts.key) : opts.key);
      const next = addPendingKey(ring, domain, pair, opts.now);
      ring = next.ring;
      pending = next.entry;
      made = true;
      added.push({ domain, selector: pending.selector, privateKeyPem: pair.privateKeyPem });
    }
    const record = dkimRecord(pending.selector, domain, pending);
    let outcome: RotateOutcome;
    const check = made || opts.force === true ? undefined : await checkVisible(opts.lookup, domain, pending);
    if (opts.force === true || check?.visible === true) {
      const promoted = promotePending(ring, domain, opts.now, opts.retireAfterMs ?? DEFAULT_RETIRE_AFTER_MS);
      ring = promoted.ring;
      outcome = { kind: 'promoted', entry: promoted.promoted, record, ...(promoted.replaced ? { replaced: promoted.replaced } : {}), forced: opts.force === true };
    } else if (made) {
      outcome = { kind: 'pending', entry: pending, record };
    } else {
      outcome = { kind: 'waiting', entry: pending, record, reason: check?.visible === false ? check.reason : 'not checked' };
    }
    commitKeyring(paths, ring, added);
    return outcome;
  });
}

export type SyncEvent =
  | { kind: 'promoted'; domain: string; entry: SelectorEntry; replaced?: SelectorEntry }
  | { kind: 'waiting'; domain: string; entry: SelectorEntry; record: DkimRecord; reason: string }
  | { kind: 'retired'; domain: string; entry: SelectorEntry };

/**
 * `mailfleet dkim sync`: retires what is due, promotes every pending selector whose record DNS now publishes.
 * `retireAfterMs` is the period of the selectors those promotions replace; a selector already retiring keeps
 * the `retireAt` it was given when replaced (the date it was announced with).
 */
export async function syncKeyring(paths: DkimPaths, opts: ChangeOptions & { lookup: TxtLookup }): Promise<SyncEvent[]> {
  return withDkimLock(paths, async () => {
    const swept = retireDue(loadKeyring(paths), opts.now);
    let ring = swept.ring;
    const events: SyncEvent[] = swept.retired.map(({ domain, entry }) => ({ kind: 'retired', domain, entry }));
    for (const domain of Object.keys(ring.domains)) {
      const pending = pendingEntry(ring, domain);
      if (!pending) continue;
      const check = await checkVisible(opts.lookup, domain, pending);
      if (!check.visible) {
        events.push({ kind: 'waiting', domain, entry: pending, record: dkimRecord(pending.selector, domain, pending), reason: check.reason });
        continue;
      }
      const promoted = promotePending(ring, domain, opts.now, opts.retireAfterMs ?? DEFAULT_RETIRE_AFTER_MS);
      ring = promoted.ring;
      events.push({ kind: 'promoted', domain, entry: promoted.promoted, ...(promoted.replaced ? { replaced: promoted.replaced } : {}) });
    }
    if (events.some((e) => e.kind !== 'waiting')) commitKeyring(paths, ring, []);
    return events;
  });
}
