import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPublished, dkimRecord, dkimRecordValue, parseTagList, TXT_STRING_MAX_BYTES, txtStrings } from '../../src/dkim/record.ts';
import { noise } from '../protocol/chunks.ts';

const RSA_P = 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA' + 'x'.repeat(348) + 'IDAQAB';
const RSA = { algorithm: 'rsa' as const, publicKey: RSA_P };
const ED = { algorithm: 'ed25519' as const, publicKey: '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=' };

test('GIVEN values of various lengths WHEN split into TXT strings THEN each is at most 255 bytes, none empty but the only one, and they join back', () => {
  for (const length of [0, 1, 254, 255, 256, 410, 509, 510, 511, 736]) {
    const value = 'p'.repeat(length);
    const strings = txtStrings(value);
    assert.equal(strings.join(''), value, `length ${length}`);
    assert.equal(strings.length, Math.max(1, Math.ceil(length / TXT_STRING_MAX_BYTES)), `length ${length}`);
    assert.ok(strings.every((s) => Buffer.byteLength(s) <= TXT_STRING_MAX_BYTES));
    if (length > 0) assert.ok(strings.every((s) => s.length > 0));
  }
});

test('GIVEN text with multi-byte characters WHEN split THEN no character is cut and no string passes 255 bytes', () => {
  const value = 'é'.repeat(200);
  const strings = txtStrings(value);
  assert.equal(strings.join(''), value);
  assert.deepEqual(strings.map((s) => Buffer.byteLength(s)), [254, 146]);
});

test('GIVEN an RSA 2048 public key WHEN its record is built THEN the value is v=DKIM1; k=rsa; p=…, split in two strings, and the zone line quotes both', () => {
  const r = dkimRecord('mf20250314', 'example.com', RSA);
  assert.equal(r.name, 'mf20250314._domainkey.example.com');
  assert.equal(r.value, `v=DKIM1; k=rsa; p=${RSA_P}`);
  assert.equal(r.strings.length, 2);
  assert.equal(r.strings.join(''), r.value);
  assert.equal(r.zone, `mf20250314._domainkey.example.com. IN TXT "${r.strings[0]}" "${r.strings[1]}"`);
});

test('GIVEN an ed25519 public key WHEN its record is built THEN k=ed25519 and one string', () => {
  const r = dkimRecord('mf1', 'example.org', ED);
  assert.equal(r.value, `v=DKIM1; k=ed25519; p=${ED.publicKey}`);
  assert.deepEqual(r.strings, [r.value]);
});

const TAG_LISTS: { text: string; tags?: Record<string, string>; reason?: RegExp }[] = [
  { text: 'v=DKIM1; k=rsa; p=abc', tags: { v: 'DKIM1', k: 'rsa', p: 'abc' } },
  { text: ' v = DKIM1 ;k=rsa;p=ab c;', tags: { v: 'DKIM1', k: 'rsa', p: 'ab c' } },
  { text: 'p=', tags: { p: '' } },
  { text: 'v=DKIM1; p=a; p=b', reason: /appears twice/ },
  { text: 'v=DKIM1; garbage', reason: /not tag=value/ },
  { text: '=x', reason: /not a tag name/ },
  { text: '9a=x', reason: /not a tag name/ },
  { text: 'v=DKIM1; p=\u0000\u0001', reason: /outside printable ASCII/ },
  { text: 'v=DKIM1; p=\ufffd\ufffd', reason: /outside printable ASCII/ },
  { text: `p=${'A'.repeat(5000)}`, reason: /longer than/ },
  { text: '', reason: /not tag=value/ },
];

for (const { text, tags, reason } of TAG_LISTS) {
  test(`GIVEN the tag list ${JSON.stringify(text.slice(0, 40))} WHEN parsed THEN ${tags ? 'its tags come back' : `it is refused (${String(reason)})`}`, () => {
    const r = parseTagList(text);
    if (tags) assert.deepEqual(r.ok ? Object.fromEntries(r.tags) : r.reason, tags);
    else assert.match(r.ok ? 'parsed' : r.reason, reason ?? /./);
  });
}

test('GIVEN binary noise, truncated records and invalid UTF-8 WHEN parsed or checked THEN nothing throws and nothing is visible', () => {
  const value = dkimRecordValue(RSA);
  const inputs = [
    ...Array.from({ length: 50 }, (_, i) => noise(1 + i * 37, i).toString('latin1')),
    ...Array.from({ length: 20 }, (_, i) => Buffer.from(noise(64 + i, 100 + i)).toString('utf8')),
    ...Array.from({ length: value.length }, (_, n) => value.slice(0, n)),
    Buffer.from([0x76, 0x3d, 0xc3, 0x28, 0xa0, 0xa1]).toString('utf8'),
  ];
  for (const text of inputs) {
    assert.doesNotThrow(() => parseTagList(text));
    assert.equal(checkPublished(RSA, [text]).visible, false, JSON.stringify(text.slice(0, 60)));
  }
});

test('GIVEN the record as published WHEN checked against its key THEN it is visible, with or without v= and with whitespace folded into p=', () => {
  assert.deepEqual(checkPublished(RSA, [dkimRecordValue(RSA)]), { visible: true });
  assert.deepEqual(checkPublished(RSA, [`k=rsa; p=${RSA_P.slice(0, 100)} ${RSA_P.slice(100)}`]), { visible: true });
  assert.deepEqual(checkPublished(RSA, [`p=${RSA_P}`]), { visible: true }, 'k defaults to rsa');
  assert.deepEqual(checkPublished(ED, ['v=spf1 -all', dkimRecordValue(ED)]), { visible: true }, 'another TXT record beside it is not a key record');
});

const NOT_VISIBLE: { why: string; texts: string[]; reason: RegExp }[] = [
  { why: 'nothing at the name', texts: [], reason: /no TXT record/ },
  { why: 'only an SPF record', texts: ['v=spf1 -all'], reason: /no DKIM key record/ },
  { why: 'another key', texts: [dkimRecordValue({ algorithm: 'rsa', publicKey: 'QUJD' })], reason: /another public key/ },
  { why: 'a revoked key (empty p=)', texts: ['v=DKIM1; k=rsa; p='], reason: /revoked/ },
  { why: 'the key type differs', texts: [`v=DKIM1; k=ed25519; p=${RSA_P}`], reason: /k=ed25519/ },
  { why: 'k= left out for an ed25519 key', texts: [`v=DKIM1; p=${ED.publicKey}`], reason: /k=rsa/ },
  { why: 'two key records', texts: [dkimRecordValue(RSA), dkimRecordValue(RSA)], reason: /2 DKIM key records/ },
  { why: 'v= not first', texts: [`k=rsa; v=DKIM1; p=${RSA_P}`], reason: /no DKIM key record/ },
  { why: 'another version', texts: [`v=DKIM2; k=rsa; p=${RSA_P}`], reason: /no DKIM key record/ },
];

for (const { why, texts, reason } of NOT_VISIBLE) {
  test(`GIVEN ${why} at the name WHEN checked THEN the key is not visible, and the reason says why`, () => {
    const key = why.includes('ed25519 key') ? ED : RSA;
    const r = checkPublished(key, texts);
    assert.equal(r.visible, false);
    assert.match(r.visible ? '' : r.reason, reason);
  });
}
