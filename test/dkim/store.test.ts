import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { generateDkimKey } from '../../src/dkim/keys.ts';
import { addFirstKey, addPendingKey, emptyKeyring, promotePending, retireDue } from '../../src/dkim/keyring.ts';
import { dkimSigningFiles, SELECTOR_MAP_FILE } from '../../src/dkim/signing-files.ts';
import { commitKeyring, dkimPaths, installSigningFiles, loadKeyring, privateKeyPath, readPrivateKey, storeKeyReader, withDkimLock, type DkimPaths } from '../../src/dkim/store.ts';

const T0 = new Date('2025-03-14T09:30:00.000Z');
const at = (days: number): Date => new Date(T0.getTime() + days * 86_400_000);
const mode = (path: string): number => statSync(path).mode & 0o777;

function freshPaths(t: TestContext): DkimPaths {
  const dir = mkdtempSync('/tmp/mailfleet-unit-dkim-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dkimPaths(dir);
}

test('GIVEN a first key WHEN committed THEN the store has its layout and modes: dkim 0711, keys and signing 0700, every file 0600', (t) => {
  const paths = freshPaths(t);
  const key = generateDkimKey({ algorithm: 'ed25519' });
  const { ring, entry } = addFirstKey(emptyKeyring(), 'example.com', key, T0);
  commitKeyring(paths, ring, [{ domain: 'example.com', selector: entry.selector, privateKeyPem: key.privateKeyPem }]);
  assert.equal(mode(paths.root), 0o711);
  for (const dir of [paths.keys, join(paths.keys, 'example.com'), paths.signing]) assert.equal(mode(dir), 0o700, dir);
  const files = [paths.index, privateKeyPath(paths, 'example.com', 'mf20250314'), join(paths.signing, SELECTOR_MAP_FILE), join(paths.signing, 'example.com.mf20250314.key')];
  for (const file of files) assert.equal(mode(file), 0o600, file);
  assert.deepEqual(readdirSync(paths.signing).sort(), ['example.com.mf20250314.key', SELECTOR_MAP_FILE]);
  assert.equal(readFileSync(join(paths.signing, SELECTOR_MAP_FILE), 'utf8'), 'example.com mf20250314\n');
  assert.deepEqual(loadKeyring(paths), ring);
  assert.equal(readPrivateKey(paths, 'example.com', entry), key.privateKeyPem);
});

test('GIVEN a store WHEN a rotation runs to its end THEN signing/ names the pending key only once promoted, keeps the retiring key, and the retired key is deleted everywhere', (t) => {
  const paths = freshPaths(t);
  const a = generateDkimKey({ algorithm: 'ed25519' });
  const b = generateDkimKey({ algorithm: 'ed25519' });
  let ring = addFirstKey(emptyKeyring(), 'example.com', a, T0).ring;
  commitKeyring(paths, ring, [{ domain: 'example.com', selector: 'mf20250314', privateKeyPem: a.privateKeyPem }]);

  ring = addPendingKey(ring, 'example.com', b, at(1)).ring;
  commitKeyring(paths, ring, [{ domain: 'example.com', selector: 'mf20250315', privateKeyPem: b.privateKeyPem }]);
  assert.deepEqual(readdirSync(paths.signing).sort(), ['example.com.mf20250314.key', SELECTOR_MAP_FILE], 'a pending key is not for signing');
  assert.ok(existsSync(privateKeyPath(paths, 'example.com', 'mf20250315')));

  ring = promotePending(ring, 'example.com', at(2)).ring;
  commitKeyring(paths, ring, []);
  assert.equal(readFileSync(join(paths.signing, SELECTOR_MAP_FILE), 'utf8'), 'example.com mf20250315\n');
  assert.deepEqual(readdirSync(paths.signing).sort(), ['example.com.mf20250314.key', 'example.com.mf20250315.key', SELECTOR_MAP_FILE]);

  ring = retireDue(ring, at(9)).ring;
  commitKeyring(paths, ring, []);
  assert.deepEqual(readdirSync(paths.signing).sort(), ['example.com.mf20250315.key', SELECTOR_MAP_FILE]);
  assert.equal(existsSync(privateKeyPath(paths, 'example.com', 'mf20250314')), false, 'the retired private key is gone');
  assert.deepEqual(readdirSync(join(paths.keys, 'example.com')), ['mf20250315.pem']);
});

test('GIVEN a key file that is not the key the index lists WHEN it is read THEN DKIM_STORE_INVALID names the file', (t) => {
  const paths = freshPaths(t);
  const key = generateDkimKey({ algorithm: 'ed25519' });
  const { ring, entry } = addFirstKey(emptyKeyring(), 'example.com', key, T0);
  commitKeyring(paths, ring, [{ domain: 'example.com', selector: entry.selector, privateKeyPem: key.privateKeyPem }]);
  const file = privateKeyPath(paths, 'example.com', entry.selector);
  writeFileSync(file, generateDkimKey({ algorithm: 'ed25519' }).privateKeyPem);
  assert.throws(() => readPrivateKey(paths, 'example.com', entry), (err) => isMailfleetError(err, 'DKIM_STORE_INVALID') && err.message.startsWith(file));
  rmSync(file);
  assert.throws(() => dkimSigningFiles(ring, storeKeyReader(paths, ring)), (err) => isMailfleetError(err, 'DKIM_STORE_INVALID') && /missing/.test(err.message));
});

test('GIVEN a signing directory owned by another user WHEN files are installed THEN they take its owner, and files no longer wanted are removed', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, (t) => {
  const paths = freshPaths(t);
  installSigningFiles(paths.signing, { [SELECTOR_MAP_FILE]: '' });
  chownSync(paths.signing, 65534, 65534);
  writeFileSync(join(paths.signing, 'stale.key'), 'x');
  installSigningFiles(paths.signing, { [SELECTOR_MAP_FILE]: 'example.com mf1\n', 'example.com.mf1.key': 'k\n' });
  assert.deepEqual(readdirSync(paths.signing).sort(), ['example.com.mf1.key', SELECTOR_MAP_FILE]);
  for (const name of readdirSync(paths.signing)) {
    const st = statSync(join(paths.signing, name));
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [65534, 65534, 0o600], name);
  }
});

test('GIVEN the lock held by a live process WHEN another change begins THEN DKIM_STORE_BUSY and the change does not run', async (t) => {
  const paths = freshPaths(t);
  let ran = false;
  await withDkimLock(paths, async () => {
    await assert.rejects(withDkimLock(paths, async () => { ran = true; }), (err) => isMailfleetError(err, 'DKIM_STORE_BUSY') && err.message.includes(String(process.pid)));
  });
  assert.equal(ran, false);
  assert.equal(existsSync(paths.lock), false, 'released after the change');
});

test('GIVEN a lock left by a process that has gone WHEN a change begins THEN it takes the lock over and runs', async (t) => {
  const paths = freshPaths(t);
  const gone = spawnSync('true').pid;
  await withDkimLock(paths, async () => undefined);
  writeFileSync(paths.lock, `${gone}\n`);
  assert.equal(await withDkimLock(paths, async () => 'ran'), 'ran');
});
