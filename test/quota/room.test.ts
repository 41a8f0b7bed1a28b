import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRoomCache } from '../../src/quota/index.ts';

test('GIVEN room remembered WHEN messages are taken THEN each is taken off until the room is spent', () => {
  const room = createRoomCache({ ttlMs: 30_000 });
  room.remember('a@example.com', 1000, 100, 0);
  assert.equal(room.take('a@example.com', 500, 1), true);
  assert.equal(room.take('a@example.com', 400, 2), true);
  assert.equal(room.take('a@example.com', 1, 3), false, '900 of 900 spent');
  assert.equal(room.take('a@example.com', 0, 4), true, 'an empty message still fits');
  assert.equal(room.take('b@example.com', 0, 5), false, 'another user');
});

test('GIVEN room remembered WHEN its time is up, or the clock went back THEN it is forgotten', () => {
  const room = createRoomCache({ ttlMs: 30_000 });
  room.remember('a@example.com', 1000, 0, 10_000);
  assert.equal(room.take('a@example.com', 1, 40_000), true);
  assert.equal(room.take('a@example.com', 1, 40_001), false);
  room.remember('a@example.com', 1000, 0, 10_000);
  assert.equal(room.take('a@example.com', 1, 9_999), false);
  assert.equal(room.size, 0);
});

test('GIVEN an answer that leaves no room beyond the message WHEN remembered THEN nothing is kept, and an earlier room is dropped', () => {
  const room = createRoomCache();
  room.remember('a@example.com', 1000, 0, 0);
  room.remember('a@example.com', 500, 500, 1);
  assert.equal(room.take('a@example.com', 0, 2), false);
  assert.equal(room.size, 0);
});

test('GIVEN more mailboxes than the cap WHEN remembered THEN the least recently asked go first', () => {
  const room = createRoomCache({ maxEntries: 2 });
  room.remember('a', 100, 0, 0);
  room.remember('b', 100, 0, 0);
  assert.equal(room.take('a', 1, 1), true, 'a is now the most recent');
  room.remember('c', 100, 0, 2);
  assert.equal(room.size, 2);
  assert.equal(room.take('b', 1, 3), false, 'b went');
  assert.equal(room.take('a', 1, 3), true);
  assert.equal(room.take('c', 1, 3), true);
});
