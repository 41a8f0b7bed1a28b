import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImapResponse } from '../../src/protocol/index.ts';
import { esearchAll, fetchedLiteral, searchUids, uidSetSize } from '../../src/probe/mailbox.ts';

const data = (text: string, literals?: string[]): ImapResponse => ({ kind: 'data', text, ...(literals ? { literals } : {}) });

test('GIVEN SEARCH answers WHEN read THEN the UIDs come back in order, other responses ignored', () => {
  assert.deepEqual(searchUids([data('3 EXISTS'), data('SEARCH 4 9 12'), data('1 RECENT')]), [4, 9, 12]);
  assert.deepEqual(searchUids([data('SEARCH')]), []);
  assert.deepEqual(searchUids([data('search 7')]), [7]);
  assert.deepEqual(searchUids([{ kind: 'status', status: 'OK', text: 'SEARCH 5' }]), []);
});

test('GIVEN malformed SEARCH answers WHEN read THEN nothing is made up from them', () => {
  for (const text of ['SEARCH x', 'SEARCH 1 two', 'SEARCHING 5', 'SEARCH 12345678901', `SEARCH ${'\u00ff'.repeat(10)}`, 'SEARCH (MODSEQ 4) 5']) {
    assert.deepEqual(searchUids([data(text)]), [], text);
  }
});

test('GIVEN a FETCH answer WHEN its message is asked for THEN it is the literal of the FETCH response', () => {
  assert.equal(fetchedLiteral([data('2 EXISTS'), data('1 FETCH (UID 7 BODY[] {3})', ['abc'])]), 'abc');
  assert.equal(fetchedLiteral([data('1 FETCH (UID 7 FLAGS (\\Seen))')]), undefined, 'no literal: no message');
  assert.equal(fetchedLiteral([data('SEARCH 1', ['x'])]), undefined, 'a literal elsewhere is not the message');
  assert.equal(fetchedLiteral([]), undefined);
});

test('GIVEN ESEARCH answers WHEN the ALL set is asked for THEN it comes back verbatim, or undefined when nothing matched', () => {
  assert.equal(esearchAll([data('ESEARCH (TAG "a3") UID ALL 4:17,20')]), '4:17,20');
  assert.equal(esearchAll([data('ESEARCH (TAG "a3") UID COUNT 2 ALL 5,9')]), '5,9');
  assert.equal(esearchAll([data('ESEARCH (TAG "a3") UID')]), undefined);
  assert.equal(esearchAll([data('SEARCH 1 2')]), undefined);
  assert.equal(esearchAll([data('ESEARCH (TAG "a3") UID ALL 4:17;DELETE')]), undefined, 'only digits, colons and commas pass into a command');
  assert.equal(esearchAll([data('ESEARCH (TAG "a3") UID ALL 1 2')]), '1', 'anything after the set is not part of it');
});

test('GIVEN UID sets WHEN counted THEN ranges count every UID in them, either way round', () => {
  assert.equal(uidSetSize('4:17,20'), 15);
  assert.equal(uidSetSize('9:5'), 5);
  assert.equal(uidSetSize('1'), 1);
  assert.equal(uidSetSize('1,2,3'), 3);
});
