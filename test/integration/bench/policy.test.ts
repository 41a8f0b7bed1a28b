/**
 * The policy bench as its users run it, shortened: the no-op ceiling, postfwd and mailfleet (the compiled CLI with
 * its own Redis, password and all) at one connection. It must measure every server, find each rule biting at
 * request 1,001, see mailfleet judge every request (none failed open) and leave no process behind. The figures
 * themselves are the bench's business, not this test's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBench } from '../../support/bench.ts';
import { ensureBuilt } from '../../support/build.ts';

test('GIVEN the policy bench WHEN run short at one connection THEN it measures every server, each rule bites, mailfleet judges every request', { timeout: 300_000 }, async () => {
  ensureBuilt();
  const { status, out } = await runBench('policy', ['--only', 'noop,postfwd,mailfleet', '--connections', '1', '--seconds', '1', '--warmup', '1']);
  assert.equal(status, 0, out);
  for (const server of ['noop', 'postfwd', 'mailfleet']) assert.match(out, new RegExp(`^${server} +[0-9,]+ +[0-9.]+`, 'm'), `${server} measured\n${out}`);
  assert.match(out, /postfwd: first refusal at request 1,00\d .*: holds/, out);
  assert.match(out, /mailfleet: first refusal at request 1,0\d\d .*: holds/, out);
  assert.match(out, /mailfleet at 1 connection: [0-9,]+ requests answered .*, 0 failed open/, out);
  assert.match(out, /no process left behind/, out);
});
