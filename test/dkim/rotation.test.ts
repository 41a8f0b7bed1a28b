import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import type { TxtLookup } from '../../src/dkim/dns-lookup.ts';
import { generateFirstKey, keyringAt, rotateDomain, syncKeyring } from '../../src/dkim/rotation.ts';
import { dkimPaths, type DkimPaths } from '../../src/dkim/store.ts';

const DAY_MS = 86_400_000;
const T0 = new Date('2025-03-14T09:30:00.000Z');
const at = (days: number): Date => new Date(T0.getTime() + days * DAY_MS);
const KEY = { algorithm: 'ed25519' as const };

/** A zone in memory: name → TXT texts; every lookup is recorded. */
function zone(): { lookup: TxtLookup; publish: (name: string, texts: string[]) => void; asked: string[] } {
  const records = new Map<string, string[]>();
  const asked: string[] = [];
  return {
    asked,
    publish: (name, texts) => records.set(name, texts),
    lookup: async (name) => {
      asked.push(name);
      const texts = records.get(name);
      return texts ? { ok: true, texts } : { ok: false, reason: 'the name does not exist (NXDOMAIN)' };
    },
  };
}

function freshPaths(t: TestContext): DkimPaths {
  const dir = mkdtempSync('/tmp/mailfleet-unit-dkim-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dkimPaths(dir);
}

const states = (paths: DkimPaths, now: Date) => keyringAt(paths, now).domains['example.com']?.selectors.map((e) => `${e.selector}:${e.state}`);
const selectorMap = (paths: DkimPaths) => readFileSync(join(paths.signing, 'selectors.map'), 'utf8');

test('GIVEN a signing domain WHEN rotated THEN the new selector waits for its record in DNS, signs once it is there, and the old one retires after the period', async (t) => {
  const paths = freshPaths(t);
  const dns = zone();
  await generateFirstKey(paths, 'example.com', { now: T0, key: KEY });

  const first = await rotateDomain(paths, 'example.com', { now: at(1), lookup: dns.lookup, key: KEY });
  assert.equal(first.kind, 'pending');
  assert.deepEqual(dns.asked, [], 'a key just made cannot be published yet: no lookup');
  assert.equal(first.record.name, 'mf20250315._domainkey.example.com');
  assert.equal(selectorMap(paths), 'example.com mf20250314\n');

  const waiting = await rotateDomain(paths, 'example.com', { now: at(2), lookup: dns.lookup, key: KEY });
  assert.equal(waiting.kind, 'waiting');
  assert.match(waiting.kind === 'waiting' ? waiting.reason : '', /NXDOMAIN/);
  assert.deepEqual(dns.asked, ['mf20250315._domainkey.example.com']);
  assert.deepEqual(states(paths, at(2)), ['mf20250314:active', 'mf20250315:pending']);

  dns.publish(first.record.name, [first.record.strings.join('')]);
  const promoted = await rotateDomain(paths, 'example.com', { now: at(3), lookup: dns.lookup, key: KEY, retireAfterMs: 2 * DAY_MS });
  assert.equal(promoted.kind, 'promoted');
  assert.equal(promoted.kind === 'promoted' && promoted.forced, false);
  assert.equal(promoted.kind === 'promoted' ? promoted.replaced?.retireAt : '', at(5).toISOString());
  assert.equal(selectorMap(paths), 'example.com mf20250315\n');
  assert.deepEqual(states(paths, at(3)), ['mf20250314:retiring', 'mf20250315:active']);

  assert.deepEqual(states(paths, at(5)), ['mf20250314:retired', 'mf20250315:active'], 'read at the end of the period: retired');
  const events = await syncKeyring(paths, { now: at(5), lookup: dns.lookup });
  assert.deepEqual(events.map((e) => `${e.kind} ${e.entry.selector}`), ['retired mf20250314']);
});

test('GIVEN a rotation with --force WHEN run THEN the new selector signs at once, without a lookup', async (t) => {
  const paths = freshPaths(t);
  const dns = zone();
  await generateFirstKey(paths, 'example.com', { now: T0, key: KEY });
  const outcome = await rotateDomain(paths, 'example.com', { now: at(1), lookup: dns.lookup, key: KEY, force: true });
  assert.equal(outcome.kind, 'promoted');
  assert.equal(outcome.kind === 'promoted' && outcome.forced, true);
  assert.deepEqual(dns.asked, []);
  assert.deepEqual(states(paths, at(1)), ['mf20250314:retiring', 'mf20250315:active']);
});

test('GIVEN the wrong key published for a pending selector WHEN synced THEN it stays pending and the reason names the mismatch', async (t) => {
  const paths = freshPaths(t);
  const dns = zone();
  await generateFirstKey(paths, 'example.com', { now: T0, key: KEY });
  const first = await rotateDomain(paths, 'example.com', { now: at(1), lookup: dns.lookup, key: KEY });
  dns.publish(first.record.name, ['v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=']);
  const events = await syncKeyring(paths, { now: at(2), lookup: dns.lookup });
  assert.deepEqual(events.map((e) => e.kind), ['waiting']);
  assert.match(events[0]?.kind === 'waiting' ? events[0].reason : '', /another public key/);
  dns.publish(first.record.name, [first.record.value]);
  const later = await syncKeyring(paths, { now: at(3), lookup: dns.lookup });
  assert.deepEqual(later.map((e) => `${e.kind} ${e.entry.selector}`), ['promoted mf20250315']);
});

test('GIVEN a domain without keys WHEN rotated THEN DKIM_KEY_NOT_FOUND and the store holds nothing for it', async (t) => {
  const paths = freshPaths(t);
  await assert.rejects(rotateDomain(paths, 'example.com', { now: T0, lookup: zone().lookup, key: KEY }), (err) => isMailfleetError(err, 'DKIM_KEY_NOT_FOUND'));
  assert.deepEqual(keyringAt(paths, T0).domains, {});
});

const kindOf = (e: { algorithm: string; bits?: number }): string => (e.bits === undefined ? e.algorithm : `${e.algorithm}-${e.bits}`);

test('GIVEN an ed25519 domain WHEN rotated without key options THEN the new selector is ed25519', async (t) => {
  const paths = freshPaths(t);
  await generateFirstKey(paths, 'example.com', { now: T0, key: KEY });
  const outcome = await rotateDomain(paths, 'example.com', { now: at(1), lookup: zone().lookup });
  assert.equal(outcome.kind, 'pending');
  assert.equal(kindOf(outcome.entry), 'ed25519');
  assert.match(outcome.record.value, /^v=DKIM1; k=ed25519; /);
});

test('GIVEN an rsa-4096 domain WHEN rotated without key options THEN the new selector is rsa-4096', async (t) => {
  const paths = freshPaths(t);
  await generateFirstKey(paths, 'example.com', { now: T0, key: { algorithm: 'rsa', bits: 4096 } });
  const outcome = await rotateDomain(paths, 'example.com', { now: at(1), lookup: zone().lookup, key: {} });
  assert.equal(kindOf(outcome.entry), 'rsa-4096');
});

test('GIVEN an ed25519 domain WHEN rotated with algorithm rsa THEN the new selector is rsa of the default size', async (t) => {
  const paths = freshPaths(t);
  await generateFirstKey(paths, 'example.com', { now: T0, key: KEY });
  const outcome = await rotateDomain(paths, 'example.com', { now: at(1), lookup: zone().lookup, key: { algorithm: 'rsa' } });
  assert.equal(kindOf(outcome.entry), 'rsa-2048');
});

test('GIVEN an ed25519 domain WHEN rotated with a size but no algorithm THEN USAGE and nothing is pending', async (t) => {
  const paths = freshPaths(t);
  await generateFirstKey(paths, 'example.com', { now: T0, key: KEY });
  await assert.rejects(rotateDomain(paths, 'example.com', { now: at(1), lookup: zone().lookup, key: { bits: 4096 } }), (err) => isMailfleetError(err, 'USAGE'));
  assert.deepEqual(states(paths, at(1)), ['mf20250314:active']);
});

test('GIVEN an ed25519 selector pending WHEN rotated with algorithm rsa THEN USAGE naming the pending one, which stays as it was', async (t) => {
  const paths = freshPaths(t);
  await generateFirstKey(paths, 'example.com', { now: T0, key: KEY });
  const first = await rotateDomain(paths, 'example.com', { now: at(1), lookup: zone().lookup });
  await assert.rejects(rotateDomain(paths, 'example.com', { now: at(2), lookup: zone().lookup, key: { algorithm: 'rsa' } }), (err) => isMailfleetError(err, 'USAGE') && err.message.includes(`${first.entry.selector} (ed25519) is already pending`));
  const again = await rotateDomain(paths, 'example.com', { now: at(2), lookup: zone().lookup, key: { algorithm: 'ed25519' } });
  assert.equal(again.kind, 'waiting', 'the same algorithm as the pending one is no conflict');
  assert.equal(again.entry.selector, first.entry.selector);
});

test('GIVEN a selector retiring and another pending whose record is published WHEN synced with a retire period THEN the replaced one retires after it and the earlier one keeps its date', async (t) => {
  const paths = freshPaths(t);
  const dns = zone();
  await generateFirstKey(paths, 'example.com', { now: T0, key: KEY });
  const first = await rotateDomain(paths, 'example.com', { now: at(1), lookup: dns.lookup, force: true, retireAfterMs: 10 * DAY_MS });
  assert.equal(first.kind === 'promoted' ? first.replaced?.retireAt : '', at(11).toISOString());
  const second = await rotateDomain(paths, 'example.com', { now: at(2), lookup: dns.lookup });
  dns.publish(second.record.name, [second.record.value]);

  const events = await syncKeyring(paths, { now: at(3), lookup: dns.lookup, retireAfterMs: 0 });
  assert.deepEqual(events.map((e) => `${e.kind} ${e.entry.selector}`), ['promoted mf20250316']);
  const retireAt = Object.fromEntries((keyringAt(paths, at(3)).domains['example.com']?.selectors ?? []).map((e) => [e.selector, `${e.state} ${e.retireAt ?? '-'}`]));
  assert.deepEqual(retireAt, {
    mf20250314: `retiring ${at(11).toISOString()}`,
    mf20250315: `retired ${at(3).toISOString()}`,
    mf20250316: 'active -',
  });
});
