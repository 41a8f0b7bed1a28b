import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateDkimKey, rspamdKeyText, type DkimKeyPair } from '../../src/dkim/keys.ts';
import { addFirstKey, addPendingKey, emptyKeyring, promotePending } from '../../src/dkim/keyring.ts';
import { dkimSigningFiles, KEY_PATH_TEMPLATE, signingKeyFileName } from '../../src/dkim/signing-files.ts';

const T0 = new Date('2025-03-14T09:30:00.000Z');
const at = (days: number): Date => new Date(T0.getTime() + days * 86_400_000);

test('GIVEN domains in every state WHEN the signing files are rendered THEN the map names each active selector, and keys are there for active and retiring ones only', () => {
  const keys = new Map<string, DkimKeyPair>();
  const made = (domain: string, key: DkimKeyPair) => (selector: string) => keys.set(`${domain} ${selector}`, key);
  const rsa = generateDkimKey();
  const ed = generateDkimKey({ algorithm: 'ed25519' });
  const next = generateDkimKey({ algorithm: 'ed25519' });
  const later = generateDkimKey({ algorithm: 'ed25519' });

  let ring = emptyKeyring();
  let step = addFirstKey(ring, 'example.org', rsa, T0);
  ring = step.ring;
  made('example.org', rsa)(step.entry.selector);
  step = addFirstKey(ring, 'example.com', ed, T0);
  ring = step.ring;
  made('example.com', ed)(step.entry.selector);
  let pending = addPendingKey(ring, 'example.com', next, at(1));
  made('example.com', next)(pending.entry.selector);
  ring = promotePending(pending.ring, 'example.com', at(2)).ring;
  pending = addPendingKey(ring, 'example.com', later, at(3));
  made('example.com', later)(pending.entry.selector);
  ring = pending.ring;

  const read: string[] = [];
  const files = dkimSigningFiles(ring, (domain, selector) => {
    read.push(`${domain} ${selector}`);
    const key = keys.get(`${domain} ${selector}`);
    assert.ok(key);
    return key.privateKeyPem;
  });
  assert.deepEqual(Object.keys(files).sort(), ['example.com.mf20250314.key', 'example.com.mf20250315.key', 'example.org.mf20250314.key', 'selectors.map']);
  assert.equal(files['selectors.map'], 'example.com mf20250315\nexample.org mf20250314\n');
  assert.equal(files['example.org.mf20250314.key'], rsa.privateKeyPem, 'RSA as PEM');
  assert.equal(files['example.com.mf20250315.key'], rspamdKeyText(next.privateKeyPem, 'test'), 'ed25519 in the form rspamd reads');
  assert.ok(!read.includes('example.com mf20250317'), 'the pending key is not even read');
});

test('GIVEN an empty keyring WHEN rendered THEN there is an empty selector map and nothing else', () => {
  assert.deepEqual(dkimSigningFiles(emptyKeyring(), () => assert.fail('no key to read')), { 'selectors.map': '' });
});

test('GIVEN a domain and selector WHEN the key file is named THEN it is what rspamd makes of the path template', () => {
  assert.equal(KEY_PATH_TEMPLATE, '$domain.$selector.key');
  assert.equal(signingKeyFileName('mail.example.com', 'mf20250314-2'), 'mail.example.com.mf20250314-2.key');
});
