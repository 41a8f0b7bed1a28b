import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import {
  activeEntry, addFirstKey, addPendingKey, DEFAULT_RETIRE_AFTER_MS, emptyKeyring, liveEntries, nextSelector, pendingEntry, promotePending, retireDue, type Keyring,
} from '../../src/dkim/keyring.ts';
import { parseKeyring, serializeKeyring } from '../../src/dkim/keyring-file.ts';

const DAY_MS = 86_400_000;
const T0 = new Date('2025-03-14T09:30:00.000Z');
const at = (days: number): Date => new Date(T0.getTime() + days * DAY_MS);
const KEY_A = { algorithm: 'rsa' as const, bits: 2048, publicKey: 'QUFB' };
const KEY_B = { algorithm: 'rsa' as const, bits: 2048, publicKey: 'QkJC' };
const KEY_C = { algorithm: 'ed25519' as const, publicKey: 'Q0ND' };

const states = (ring: Keyring, domain = 'example.com') => ring.domains[domain]?.selectors.map((e) => `${e.selector}:${e.state}`);

test('GIVEN dates and selectors taken WHEN a selector is named THEN it is mf + the UTC date, numbered from -2 when taken', () => {
  assert.equal(nextSelector(new Date('2025-03-14T23:59:59Z'), []), 'mf20250314');
  assert.equal(nextSelector(new Date('2025-03-14T23:59:59Z'), ['mf20250314']), 'mf20250314-2');
  assert.equal(nextSelector(new Date('2025-03-14T01:00:00Z'), ['mf20250314', 'mf20250314-2', 'mf20250313']), 'mf20250314-3');
});

test('GIVEN an empty keyring WHEN a first key is added THEN it is active at once and the domain names it', () => {
  const { ring, entry } = addFirstKey(emptyKeyring(), 'example.com', KEY_A, T0);
  assert.deepEqual(entry, { selector: 'mf20250314', algorithm: 'rsa', bits: 2048, publicKey: 'QUFB', state: 'active', created: T0.toISOString(), activated: T0.toISOString() });
  assert.equal(ring.domains['example.com']?.active, 'mf20250314');
});

test('GIVEN a domain with a key WHEN a first key is added again THEN DKIM_KEY_EXISTS, and with force every earlier selector is retired at once', () => {
  const first = addFirstKey(emptyKeyring(), 'example.com', KEY_A, T0).ring;
  const pending = addPendingKey(first, 'example.com', KEY_B, at(1)).ring;
  assert.throws(() => addFirstKey(pending, 'example.com', KEY_C, at(2)), (err) => isMailfleetError(err, 'DKIM_KEY_EXISTS') && /mf20250314 \(active\)/.test(err.message));
  const forced = addFirstKey(pending, 'example.com', KEY_C, at(2), { force: true });
  assert.deepEqual(states(forced.ring), ['mf20250314:retired', 'mf20250315:retired', 'mf20250316:active']);
  assert.deepEqual(forced.retired.map((e) => e.retired), [at(2).toISOString(), at(2).toISOString()]);
  assert.equal(forced.ring.domains['example.com']?.active, 'mf20250316');
});

test('GIVEN a full rotation on an injected clock WHEN it runs THEN pending → active → retiring → retired, with each time recorded', () => {
  let ring = addFirstKey(emptyKeyring(), 'example.com', KEY_A, T0).ring;
  ring = addFirstKey(ring, 'example.org', KEY_C, T0).ring;

  // Day 30: a rotation begins; the old key still signs.
  const started = addPendingKey(ring, 'example.com', KEY_B, at(30));
  assert.equal(started.created, true);
  ring = started.ring;
  assert.deepEqual(states(ring), ['mf20250314:active', 'mf20250413:pending']);
  assert.equal(activeEntry(ring, 'example.com')?.selector, 'mf20250314');

  // Asking again while one is pending changes nothing.
  const again = addPendingKey(ring, 'example.com', KEY_C, at(31));
  assert.equal(again.created, false);
  assert.equal(again.ring, ring);
  assert.equal(again.entry.selector, 'mf20250413');

  // Day 32: its record is visible, it is promoted; the old one retires after the default 7 days.
  const promoted = promotePending(ring, 'example.com', at(32));
  ring = promoted.ring;
  assert.deepEqual(states(ring), ['mf20250314:retiring', 'mf20250413:active']);
  assert.equal(ring.domains['example.com']?.active, 'mf20250413');
  assert.equal(promoted.promoted.activated, at(32).toISOString());
  assert.equal(promoted.replaced?.retiring, at(32).toISOString());
  assert.equal(promoted.replaced?.retireAt, new Date(at(32).getTime() + DEFAULT_RETIRE_AFTER_MS).toISOString());
  assert.equal(pendingEntry(ring, 'example.com'), undefined);

  // A moment before the period ends nothing retires; at its end the old selector does, and only it.
  assert.deepEqual(retireDue(ring, new Date(at(39).getTime() - 1)).retired, []);
  assert.equal(retireDue(ring, at(45)).retired[0]?.entry.retired, at(39).toISOString(), 'retired when its period ended, however late it is noticed');
  const swept = retireDue(ring, at(39));
  assert.deepEqual(swept.retired.map((r) => `${r.domain} ${r.entry.selector} ${r.entry.retired}`), [`example.com mf20250314 ${at(39).toISOString()}`]);
  assert.deepEqual(states(swept.ring), ['mf20250314:retired', 'mf20250413:active']);
  assert.deepEqual(states(swept.ring, 'example.org'), ['mf20250314:active']);
  assert.deepEqual(liveEntries(swept.ring).map((l) => `${l.domain} ${l.entry.selector}`), ['example.com mf20250413', 'example.org mf20250314']);

  // The file form keeps every state and time.
  assert.deepEqual(parseKeyring(serializeKeyring(swept.ring), 'index.json'), swept.ring);
});

test('GIVEN a retire period of 0 WHEN promoted THEN the replaced selector is due at once', () => {
  let ring = addFirstKey(emptyKeyring(), 'example.com', KEY_A, T0).ring;
  ring = addPendingKey(ring, 'example.com', KEY_B, at(1)).ring;
  ring = promotePending(ring, 'example.com', at(2), 0).ring;
  assert.deepEqual(states(retireDue(ring, at(2)).ring), ['mf20250314:retired', 'mf20250315:active']);
});

test('GIVEN no key or nothing pending WHEN rotating or promoting THEN DKIM_KEY_NOT_FOUND', () => {
  assert.throws(() => addPendingKey(emptyKeyring(), 'example.com', KEY_A, T0), (err) => isMailfleetError(err, 'DKIM_KEY_NOT_FOUND'));
  const ring = addFirstKey(emptyKeyring(), 'example.com', KEY_A, T0).ring;
  assert.throws(() => promotePending(ring, 'example.com', T0), (err) => isMailfleetError(err, 'DKIM_KEY_NOT_FOUND'));
});

test('GIVEN a keyring WHEN changed THEN the original is left as it was', () => {
  const ring = addFirstKey(emptyKeyring(), 'example.com', KEY_A, T0).ring;
  const before = serializeKeyring(ring);
  promotePending(addPendingKey(ring, 'example.com', KEY_B, at(1)).ring, 'example.com', at(2));
  retireDue(ring, at(100));
  assert.equal(serializeKeyring(ring), before);
});
