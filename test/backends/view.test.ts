import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DirectorHost } from '../../src/backends/index.ts';
import { backendInDirectors, notRoutable, stillListing, type DirectorView } from '../../src/backends/view.ts';

const host = (address: string, over: Partial<DirectorHost> = {}): DirectorHost => ({ address, vhosts: 100, up: true, users: 0, ...over });
const view = (address: string, hosts?: DirectorHost[]): DirectorView => ({ director: { address, url: `http://${address}:8080` }, ...(hosts ? { hosts } : { error: 'connection refused' }) });

test('GIVEN every director lists a backend up with a weight WHEN asked THEN it is routable and status shows it in all of them', () => {
  const views = [view('10.0.1.1', [host('10.0.0.1', { users: 4 })]), view('10.0.1.2', [host('10.0.0.1', { users: 4 })])];
  assert.deepEqual(notRoutable(views, '10.0.0.1'), []);
  assert.deepEqual(backendInDirectors(views, '10.0.0.1'), { state: 'up', vhosts: 100, users: 4, listedBy: 2, directors: 2 });
});

test('GIVEN one director that lacks the backend, one that lists it down and one that does not answer WHEN asked THEN each is a reason it is not routable', () => {
  const views = [view('10.0.1.1', [host('10.0.0.1')]), view('10.0.1.2', []), view('10.0.1.3', [host('10.0.0.1', { up: false })]), view('10.0.1.4')];
  assert.deepEqual(notRoutable(views, '10.0.0.1'), [
    'director 10.0.1.2 does not list it',
    'director 10.0.1.3 lists it down',
    'director 10.0.1.4 does not answer: connection refused',
  ]);
  assert.deepEqual(backendInDirectors(views, '10.0.0.1'), { state: 'up', vhosts: 100, users: 0, listedBy: 2, directors: 3 });
});

test('GIVEN no director at all WHEN asked THEN a backend is not routable, and removal waits for nobody', () => {
  assert.deepEqual(notRoutable([], '10.0.0.1'), ['no director is ready']);
  assert.deepEqual(stillListing([view('10.0.1.1')], '10.0.0.1'), []);
  assert.equal(backendInDirectors([view('10.0.1.1')], '10.0.0.1'), undefined);
});

test('GIVEN a backend at weight 0 WHEN asked THEN it is draining, not routable, and still listed', () => {
  const views = [view('10.0.1.1', [host('10.0.0.1', { vhosts: 0, users: 2 })])];
  assert.deepEqual(notRoutable(views, '10.0.0.1'), ['director 10.0.1.1 lists it draining']);
  assert.equal(backendInDirectors(views, '10.0.0.1')?.state, 'draining');
  assert.deepEqual(stillListing(views, '10.0.0.1'), ['10.0.1.1']);
});
