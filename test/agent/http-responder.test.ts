import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pickEvictee, type HeldConnection } from '../../src/http-responder.ts';

const head = (since: number): HeldConnection => ({ stage: 'head', since, flushed: false });
const handling = (since: number): HeldConnection => ({ stage: 'handling', since, flushed: false });
const answered = (since: number, flushed: boolean): HeldConnection => ({ stage: 'answered', since, flushed });

const CASES: readonly { given: string; held: [string, HeldConnection][]; expected: string | undefined }[] = [
  { given: 'nothing held', held: [], expected: undefined },
  { given: 'every connection waiting for its handler', held: [['a', handling(1)], ['b', handling(2)]], expected: undefined },
  { given: 'connections without a complete head', held: [['newer', head(5)], ['oldest', head(1)], ['handled', handling(0)]], expected: 'oldest' },
  { given: 'an answer all with the kernel, and an older head', held: [['idle', head(1)], ['lingering', answered(9, true)]], expected: 'lingering' },
  { given: 'answers all with the kernel', held: [['later', answered(7, true)], ['earlier', answered(3, true)]], expected: 'earlier' },
  { given: 'a head, and an older answer its peer is not reading', held: [['unread', answered(1, false)], ['idle', head(5)]], expected: 'idle' },
  { given: 'only answers their peers are not reading, and a handled one', held: [['handled', handling(0)], ['later', answered(8, false)], ['earlier', answered(2, false)]], expected: 'earlier' },
  { given: 'two heads accepted in the same millisecond', held: [['first', head(4)], ['second', head(4)]], expected: 'first' },
];

for (const { given, held, expected } of CASES) {
  test(`GIVEN ${given} WHEN a newcomer needs room THEN ${expected ?? 'none'} makes it`, () => {
    assert.equal(pickEvictee(new Map(held)), expected);
  });
}
