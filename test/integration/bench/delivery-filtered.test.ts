/**
 * The delivery bench's filtered mode as its users run it, shortened: bare Postfix → rspamd (+ clamd) → Dovecot and
 * the platform with `as` and `av`, one short round each. Both paths must refuse the test virus, deliver every
 * message, show rspamd's verdict on every delivered message, be measured (rates, CPU of rspamd and clamd) and leave
 * no process behind. The figures themselves are the bench's business, not this test's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBench } from '../../support/bench.ts';
import { ensureBuilt } from '../../support/build.ts';

const MESSAGES = 40;
const RECIPIENTS = 5;

test('GIVEN the delivery bench WHEN run short with --filtered THEN both paths filter, deliver and are measured', { timeout: 300_000 }, async () => {
  ensureBuilt();
  const { status, out } = await runBench('delivery', ['--filtered', '--quick', '--messages', String(MESSAGES), '--recipients', String(RECIPIENTS)]);
  assert.equal(status, 0, out);
  for (const path of ['bare', 'full']) {
    assert.match(out, new RegExp(`^bench: ${path} refuses the test virus: 5\\d\\d .*Mailfleet-Bench-Virus`, 'm'), `${path} asks clamd\n${out}`);
    assert.match(out, new RegExp(`^${path} +${MESSAGES} +[0-9.]+ +[0-9.]+ +[0-9.]+$`, 'm'), `${path} measured\n${out}`);
    // The warm-up's message per recipient and the round's: every one delivered and scanned by rspamd, none left out.
    const total = MESSAGES + RECIPIENTS;
    assert.match(out, new RegExp(`^scanned on the ${path} path \\(X-Spam-Status of all ${total} delivered\\): ${total} "No, score=`, 'm'), `${path} scanned everything\n${out}`);
  }
  assert.match(out, /^rspamd \(as\) +[0-9.]+ +[0-9.]+$/m, out);
  assert.match(out, /^clamd \(av\) +[0-9.]+ +[0-9.]+$/m, out);
  assert.match(out, /^full\/bare +[0-9.]+ \(all rounds\)$/m, out);
  assert.doesNotMatch(out, /CHECK FAILED/, out);
  assert.match(out, /no process left behind/, out);
});
