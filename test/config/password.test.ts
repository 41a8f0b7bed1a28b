import assert from 'node:assert/strict';
import { argon2Sync, createHash } from 'node:crypto';
import { test } from 'node:test';
import { hashPassword, hashPasswords, ssha, type PasswordHashing } from '../../src/config/index.ts';

const CHEAP: PasswordHashing = { scheme: 'ARGON2ID', memoryKiB: 1024, passes: 1 };

test('GIVEN a password, salt and cost WHEN hashed THEN the value is Dovecot\'s {ARGON2ID} PHC string of Argon2id (RFC 9106)', async () => {
  const salt = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
  const value = await hashPassword('correct horse battery', { scheme: 'ARGON2ID', memoryKiB: 19456, passes: 2 }, salt);
  const expected = argon2Sync('argon2id', { message: 'correct horse battery', nonce: salt, parallelism: 1, tagLength: 32, memory: 19456, passes: 2 });
  const unpadded = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  assert.equal(value, `{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$${unpadded(salt)}$${unpadded(expected)}`);
});

test('GIVEN the RFC 9106 test vector parameters WHEN Argon2id runs THEN the tag is the RFC\'s (the primitive under hashPassword)', () => {
  // RFC 9106 section 5.3: Argon2id, password 32 x 0x01, salt 16 x 0x02, secret 8 x 0x03, ad 12 x 0x04, m=32, t=3, p=4, tag 32 bytes.
  const tag = argon2Sync('argon2id', {
    message: Buffer.alloc(32, 1), nonce: Buffer.alloc(16, 2), secret: Buffer.alloc(8, 3), associatedData: Buffer.alloc(12, 4),
    memory: 32, passes: 3, parallelism: 4, tagLength: 32,
  });
  assert.equal(tag.toString('hex'), '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659');
});

test('GIVEN one password hashed twice WHEN salts are drawn THEN the stored values differ', async () => {
  assert.notEqual(await hashPassword('same-password-1', CHEAP), await hashPassword('same-password-1', CHEAP));
});

test('GIVEN many passwords WHEN hashed together THEN each gets its own salt and keeps its position', async () => {
  const hashes = await hashPasswords(['a-password-0001', 'a-password-0001', 'b-password-0002'], CHEAP, 2);
  assert.equal(hashes.length, 3);
  assert.equal(new Set(hashes.map((h) => h.split('$')[4])).size, 3);
  const [, , third] = hashes;
  const [salt, tag] = (third ?? '').split('$').slice(4);
  const again = argon2Sync('argon2id', { message: 'b-password-0002', nonce: Buffer.from(salt ?? '', 'base64'), parallelism: 1, tagLength: 32, memory: 1024, passes: 1 });
  assert.equal(again.toString('base64').replace(/=+$/, ''), tag);
});

test('GIVEN a service password and salt WHEN hashed as SSHA THEN the value is base64(sha1(password+salt)+salt)', () => {
  const salt = Buffer.from('0123456789abcdef', 'hex');
  const raw = Buffer.from(ssha('secret', salt).slice(6), 'base64');
  assert.deepEqual(raw.subarray(20), salt);
  assert.deepEqual(raw.subarray(0, 20), createHash('sha1').update('secret').update(salt).digest());
});
