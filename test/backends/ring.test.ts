import assert from 'node:assert/strict';
import { test } from 'node:test';
import { directorsByName, type Director } from '../../src/backends/index.ts';
import { planRing } from '../../src/backends/ring.ts';

const member = (address: string): Director => ({ address, url: `http://${address}:8080` });
const [a, b, c] = [member('10.0.0.1'), member('10.0.0.2'), member('10.0.0.3')];

test('GIVEN every director knows every member WHEN planned THEN nothing changes', () => {
  const views = [a, b].map((m) => ({ member: m, known: [a.address, b.address] }));
  assert.deepEqual(planRing([a, b], views), []);
});

test('GIVEN a proxy back on a new address WHEN planned THEN the others add it and drop its old address; it is not asked to drop itself', () => {
  const moved = member('10.0.0.9');
  const steps = planRing([a, moved], [
    { member: a, known: [a.address, '10.0.0.2'] },
    { member: moved, known: [a.address, moved.address] },
  ]);
  assert.deepEqual(steps.map((s) => [s.via.address, s.op, s.address]), [
    ['10.0.0.1', 'add', '10.0.0.9'],
    ['10.0.0.1', 'remove', '10.0.0.2'],
  ]);
});

test('GIVEN a member whose view could not be read WHEN planned THEN only the readable views are changed', () => {
  const steps = planRing([a, b, c], [{ member: a, known: [a.address] }]);
  assert.deepEqual(steps.map((s) => [s.via.address, s.op, s.address]), [['10.0.0.1', 'add', '10.0.0.2'], ['10.0.0.1', 'add', '10.0.0.3']]);
});

test('GIVEN doveadm URLs by name WHEN the directors are located THEN names resolve each time and an unresolvable one is left out', async () => {
  const addresses: Record<string, string> = { 'proxy-0.proxy.mail.svc.cluster.local': '10.1.0.4' };
  const members = directorsByName(
    ['http://proxy-0.proxy.mail.svc.cluster.local:8080', 'http://proxy-1.proxy.mail.svc.cluster.local:8080', 'http://127.0.0.7:8080'],
    async (host) => {
      const ip = addresses[host];
      if (!ip) throw new Error(`ENOTFOUND ${host}`);
      return ip;
    },
  );
  assert.deepEqual((await members()).map((m) => m.address), ['10.1.0.4', '127.0.0.7']);
  addresses['proxy-0.proxy.mail.svc.cluster.local'] = '10.1.0.99';
  addresses['proxy-1.proxy.mail.svc.cluster.local'] = '10.1.0.5';
  assert.deepEqual((await members()).map((m) => m.address), ['10.1.0.99', '10.1.0.5', '127.0.0.7'], 'a rescheduled pod is found at its new address');
});
