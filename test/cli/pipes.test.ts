import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runIntoClosedPipe, runThroughSlowPipe, runToFile } from '../support/pipe.ts';

const EXAMPLE = new URL('../../examples/mailfleet.yaml', import.meta.url).pathname;

const resolvDir = mkdtempSync('/tmp/mailfleet-unit-pipes-');
const RESOLV_CONF = join(resolvDir, 'resolv.conf');
writeFileSync(RESOLV_CONF, 'search mail.svc.cluster.local svc.cluster.local cluster.local example.net\nnameserver 127.0.0.53\noptions ndots:5\n');
test.after(() => rmSync(resolvDir, { recursive: true, force: true }));

// Every command that prints without a running platform; status and accounts are in test/integration/cli-pipes.test.ts.
const COMMANDS: string[][] = [
  ['render', '-f', EXAMPLE],
  ['render', 'crd'],
  ['render', 'operator'],
  ['validate', '-f', EXAMPLE],
  ['dns', 'audit', 'gmail.com', '--resolv-conf', RESOLV_CONF, '--json'],
  ['dns', 'audit', 'gmail.com', '--resolv-conf', RESOLV_CONF],
  ['help'],
];

for (const args of COMMANDS) {
  test(`GIVEN a reader slower than the command WHEN "mailfleet ${args.join(' ')}" is piped to it THEN every byte arrives, as when written to a file`, async () => {
    const reference = runToFile(args);
    assert.equal(reference.code, 0, reference.stderr);
    const piped = await runThroughSlowPipe(args);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout.length, reference.stdout.length, 'bytes received through the pipe');
    assert.ok(piped.stdout.equals(reference.stdout), 'same bytes as written to a file');
  });
}

test('GIVEN the render of the example WHEN piped THEN it is larger than a pipe buffer, so the test above can fail', () => {
  const reference = runToFile(['render', '-f', EXAMPLE]);
  assert.ok(reference.stdout.length > 2 * 65_536, `render is ${reference.stdout.length} bytes`);
});

test('GIVEN a reader that closes the pipe early (| head -c 100) WHEN render writes THEN the command ends quietly with status 0', async () => {
  const r = await runIntoClosedPipe(['render', '-f', EXAMPLE], 100);
  assert.equal(r.stdout.length, 100);
  assert.equal(r.code, 0);
  // Nothing but the example's placeholders and the sysctls note, named before the YAML is written (test/cli/render.test.ts).
  assert.deepEqual(r.stderr.split('\n').filter((l) => l !== '' && !/^mailfleet: (warning|note): /.test(l)), []);
});
