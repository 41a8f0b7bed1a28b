import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { dkimPublicKeyOf, generateDkimKey, MAX_KEY_PEM_BYTES, parseDkimPrivateKey, rspamdKeyText, successorKeyOptions } from '../../src/dkim/keys.ts';

test('GIVEN no options WHEN a key is made THEN it is RSA 2048 in PKCS#8 PEM, and p= is its DER SubjectPublicKeyInfo', () => {
  const key = generateDkimKey();
  assert.equal(key.algorithm, 'rsa');
  assert.equal(key.bits, 2048);
  assert.match(key.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const pub = createPublicKey({ key: Buffer.from(key.publicKey, 'base64'), format: 'der', type: 'spki' });
  assert.equal(pub.asymmetricKeyDetails?.modulusLength, 2048);
  const signature = sign('sha256', Buffer.from('hello'), createPrivateKey(key.privateKeyPem));
  assert.ok(verify('sha256', Buffer.from('hello'), pub, signature), 'p= is the private key\'s public half');
});

test('GIVEN ed25519 WHEN a key is made THEN p= is the raw 32-byte public key (RFC 8463) and there is no size', () => {
  const key = generateDkimKey({ algorithm: 'ed25519' });
  assert.equal(key.algorithm, 'ed25519');
  assert.equal(key.bits, undefined);
  assert.equal(Buffer.from(key.publicKey, 'base64').length, 32);
  const jwk = createPublicKey(key.privateKeyPem).export({ format: 'jwk' });
  assert.equal(Buffer.from(jwk.x ?? '', 'base64url').toString('base64'), key.publicKey);
});

test('GIVEN an RSA size not offered WHEN a key is asked for THEN it is refused as USAGE', () => {
  assert.throws(() => generateDkimKey({ bits: 1024 }), (err) => isMailfleetError(err, 'USAGE'));
});

test('GIVEN a stored key WHEN its public facts are read THEN they equal those made with it', () => {
  for (const key of [generateDkimKey(), generateDkimKey({ algorithm: 'ed25519' })]) {
    const { privateKeyPem: _pem, ...facts } = key;
    assert.deepEqual(dkimPublicKeyOf(key.privateKeyPem, 'test'), facts);
  }
});

test('GIVEN an RSA key WHEN rendered for rspamd THEN it is the PEM itself', () => {
  const key = generateDkimKey();
  assert.equal(rspamdKeyText(key.privateKeyPem, 'test'), key.privateKeyPem);
});

test('GIVEN an ed25519 key WHEN rendered for rspamd THEN it is base64 of seed and public key (64 bytes) on one line, as rspamadm dkim_keygen writes', () => {
  const key = generateDkimKey({ algorithm: 'ed25519' });
  const text = rspamdKeyText(key.privateKeyPem, 'test');
  assert.match(text, /^[A-Za-z0-9+/]{86}==\n$/);
  const raw = Buffer.from(text.trim(), 'base64');
  assert.equal(raw.length, 64);
  assert.equal(raw.subarray(32).toString('base64'), key.publicKey);
  const jwk = createPrivateKey(key.privateKeyPem).export({ format: 'jwk' });
  assert.deepEqual(raw.subarray(0, 32), Buffer.from(jwk.d ?? '', 'base64url'));
});

const NOT_KEYS: { what: string; pem: string }[] = [
  { what: 'garbage', pem: 'not a key' },
  { what: 'a truncated PEM', pem: generateDkimKey({ algorithm: 'ed25519' }).privateKeyPem.slice(0, 60) },
  { what: 'an EC key', pem: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
  { what: 'an over-long file', pem: `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(MAX_KEY_PEM_BYTES)}\n-----END PRIVATE KEY-----\n` },
  { what: 'binary noise', pem: Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131) % 256)).toString('latin1') },
];

for (const { what, pem } of NOT_KEYS) {
  test(`GIVEN ${what} WHEN read as a DKIM key THEN it is refused with DKIM_STORE_INVALID naming the file`, () => {
    assert.throws(() => parseDkimPrivateKey(pem, '/state/dkim/keys/x/y.pem'), (err) => isMailfleetError(err, 'DKIM_STORE_INVALID') && err.message.startsWith('/state/dkim/keys/x/y.pem'));
  });
}

const SUCCESSORS: { current: { algorithm: 'rsa' | 'ed25519'; bits?: number }; asked: { algorithm?: 'rsa' | 'ed25519'; bits?: number }; made: object }[] = [
  { current: { algorithm: 'ed25519' }, asked: {}, made: { algorithm: 'ed25519' } },
  { current: { algorithm: 'rsa', bits: 4096 }, asked: {}, made: { algorithm: 'rsa', bits: 4096 } },
  { current: { algorithm: 'rsa', bits: 4096 }, asked: { bits: 3072 }, made: { algorithm: 'rsa', bits: 3072 } },
  { current: { algorithm: 'rsa', bits: 4096 }, asked: { algorithm: 'rsa' }, made: { algorithm: 'rsa', bits: 4096 } },
  { current: { algorithm: 'rsa', bits: 4096 }, asked: { algorithm: 'ed25519' }, made: { algorithm: 'ed25519' } },
  { current: { algorithm: 'ed25519' }, asked: { algorithm: 'rsa' }, made: { algorithm: 'rsa' } },
  { current: { algorithm: 'ed25519' }, asked: { algorithm: 'rsa', bits: 3072 }, made: { algorithm: 'rsa', bits: 3072 } },
];

for (const { current, asked, made } of SUCCESSORS) {
  test(`GIVEN a ${JSON.stringify(current)} key WHEN its successor is asked as ${JSON.stringify(asked)} THEN it is made as ${JSON.stringify(made)}`, () => {
    assert.deepEqual(successorKeyOptions({ ...current, publicKey: 'x' }, asked), made);
  });
}

test('GIVEN an ed25519 key WHEN its successor is asked with a size but no algorithm THEN USAGE: the algorithm is never changed by implication', () => {
  assert.throws(() => successorKeyOptions({ algorithm: 'ed25519', publicKey: 'x' }, { bits: 4096 }), (err) => isMailfleetError(err, 'USAGE'));
});
