import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { MAX_INDEX_BYTES, parseKeyring, serializeKeyring } from '../../src/dkim/keyring-file.ts';
import { noise } from '../protocol/chunks.ts';

const ACTIVE = { selector: 'mf20250314', state: 'active', algorithm: 'rsa', bits: 2048, publicKey: 'QUFB', created: '2025-03-14T09:30:00.000Z', activated: '2025-03-14T09:30:00.000Z' };
const good = (entries: object[] = [ACTIVE], extra: object = {}) => JSON.stringify({ version: 1, domains: { 'example.com': { active: 'mf20250314', selectors: entries, ...extra } } });

test('GIVEN an index as written WHEN read back THEN it is the same keyring, and writing it again gives the same bytes', () => {
  const ring = parseKeyring(good(), 'index.json');
  assert.equal(ring.domains['example.com']?.active, 'mf20250314');
  assert.equal(serializeKeyring(parseKeyring(serializeKeyring(ring), 'index.json')), serializeKeyring(ring));
});

const BAD: { why: string; text: string; field: RegExp }[] = [
  { why: 'not JSON', text: '{"version": 1,', field: /not JSON/ },
  { why: 'another version', text: JSON.stringify({ version: 2, domains: {} }), field: /version: expected 1/ },
  { why: 'an unknown top-level field', text: JSON.stringify({ version: 1, domains: {}, extra: 1 }), field: /unknown field "extra"/ },
  { why: 'a domain in upper case', text: JSON.stringify({ version: 1, domains: { 'Example.com': { selectors: [] } } }), field: /domains\["Example.com"\]: not a lower-case domain/ },
  { why: 'a selector that is no DNS label', text: good([{ ...ACTIVE, selector: 'mf/../x' }]), field: /selectors\[0\]\.selector/ },
  { why: 'an unknown state', text: good([{ ...ACTIVE, state: 'revoked' }]), field: /selectors\[0\]\.state: expected one of pending, active, retiring, retired/ },
  { why: 'an unknown algorithm', text: good([{ ...ACTIVE, algorithm: 'dsa' }]), field: /selectors\[0\]\.algorithm/ },
  { why: 'an RSA size not offered', text: good([{ ...ACTIVE, bits: 1024 }]), field: /selectors\[0\]\.bits/ },
  { why: 'bits on an ed25519 key', text: good([{ ...ACTIVE, algorithm: 'ed25519' }]), field: /only an rsa key has bits/ },
  { why: 'a public key that is not base64', text: good([{ ...ACTIVE, publicKey: 'a b' }]), field: /selectors\[0\]\.publicKey/ },
  { why: 'a time that is not one', text: good([{ ...ACTIVE, created: 'yesterday' }]), field: /selectors\[0\]\.created: expected an ISO 8601/ },
  { why: 'a retiring selector without retireAt', text: good([ACTIVE, { ...ACTIVE, selector: 'mf1', state: 'retiring', retiring: ACTIVE.created }]), field: /selectors\[1\]\.retireAt: required for a retiring selector/ },
  { why: 'two active selectors', text: good([ACTIVE, { ...ACTIVE, selector: 'mf2' }]), field: /more than one active selector/ },
  { why: 'a selector twice', text: good([ACTIVE, { ...ACTIVE, state: 'retired', retired: ACTIVE.created }]), field: /selectors\[1\]\.selector: mf20250314 appears twice/ },
  { why: 'active naming another selector', text: JSON.stringify({ version: 1, domains: { 'example.com': { active: 'mf9', selectors: [ACTIVE] } } }), field: /\.active: expected "mf20250314"/ },
  { why: 'an unknown field in an entry', text: good([{ ...ACTIVE, privateKey: 'x' }]), field: /unknown field "privateKey"/ },
  { why: 'an array', text: '[]', field: /expected an object/ },
];

for (const { why, text, field } of BAD) {
  test(`GIVEN an index with ${why} WHEN read THEN DKIM_STORE_INVALID names the file and the field`, () => {
    assert.throws(() => parseKeyring(text, '/s/dkim/index.json'), (err) => isMailfleetError(err, 'DKIM_STORE_INVALID') && err.message.startsWith('/s/dkim/index.json: ') && field.test(err.message));
  });
}

test('GIVEN binary noise, truncated indexes, invalid UTF-8 and an over-long file WHEN read THEN each is refused with DKIM_STORE_INVALID, never anything else', () => {
  const text = good();
  const inputs = [
    ...Array.from({ length: 40 }, (_, i) => noise(1 + i * 53, i).toString('latin1')),
    ...Array.from({ length: text.length - 1 }, (_, n) => text.slice(0, n)),
    Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]).toString('utf8'),
    `{"version":1,"domains":{},"pad":"${'x'.repeat(MAX_INDEX_BYTES)}"}`,
  ];
  for (const input of inputs) {
    assert.throws(() => parseKeyring(input, 'index.json'), (err) => isMailfleetError(err, 'DKIM_STORE_INVALID'), JSON.stringify(input.slice(0, 50)));
  }
});
