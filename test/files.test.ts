import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { MailfleetError } from '../src/errors.ts';
import { MAX_SECRET_FILE_BYTES, readSecretFile } from '../src/files.ts';

/** A directory removed after the test, and a writer of files in it. */
function scratch(t: TestContext): { dir: string; file: (name: string, data: string | Buffer) => string } {
  const dir = mkdtempSync('/tmp/mailfleet-unit-secret-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    file: (name, data) => {
      writeFileSync(join(dir, name), data);
      return join(dir, name);
    },
  };
}

const refused = (pattern: RegExp) => (err: unknown) => err instanceof MailfleetError && err.code === 'SECRET_MISSING' && pattern.test(err.message);

test('GIVEN secret files as editors, kubectl and the platform write them WHEN read THEN the value is the file less one trailing line break', (t) => {
  const { file } = scratch(t);
  assert.equal(readSecretFile(file('a', 'sekrit\n'), 'the test password'), 'sekrit');
  assert.equal(readSecretFile(file('b', 'sekrit\r\n'), 'the test password'), 'sekrit');
  assert.equal(readSecretFile(file('c', 'no-newline'), 'the test password'), 'no-newline');
  assert.equal(readSecretFile(file('d', ' spaces kept '), 'the test password'), ' spaces kept ', 'a value is not trimmed');
  assert.equal(readSecretFile(file('e', 'p'.repeat(MAX_SECRET_FILE_BYTES)), 'the test password').length, MAX_SECRET_FILE_BYTES);
});

test('GIVEN a secret file that holds no single value WHEN read THEN it is refused, naming its purpose and path, never cut to something else', (t) => {
  const { dir, file } = scratch(t);
  assert.throws(() => readSecretFile(file('empty', ''), '--password-file'), refused(/^--password-file .*empty: empty$/));
  assert.throws(() => readSecretFile(file('newline', '\n'), '--password-file'), refused(/empty$/));
  assert.throws(() => readSecretFile(file('two', 'first\nsecond\n'), '--password-file'), refused(/one value on one line/));
  assert.throws(() => readSecretFile(file('lead', '\nsekrit\n'), '--password-file'), refused(/one value on one line/));
  assert.throws(() => readSecretFile(file('nul', 'sek\0rit'), '--password-file'), refused(/one value on one line/));
  assert.throws(() => readSecretFile(file('big', Buffer.alloc(1_000_000, 'p')), '--password-file'), refused(/longer than 4096 bytes/));
  assert.throws(() => readSecretFile(join(dir, 'missing'), '--password-file'), refused(/missing: cannot read it \(.*ENOENT/));
  assert.throws(() => readSecretFile('/dev/zero', '--password-file'), refused(/longer than 4096 bytes/), 'a device is read no further than the bound');
});
