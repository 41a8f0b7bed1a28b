import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Peers } from '../../src/config/index.ts';
import { fixedTargets, peerTargets } from '../../src/probe/targets.ts';

const PORTS = { smtp: 25, imaps: 993, pop3s: 995, submission: 465 };
const peers = (over: Partial<Peers>): Peers => ({ ldap: [], kvs: [], mailbox: [], proxy: [], mta: [], msa: [], ...over });

test('GIVEN the single host\'s peers WHEN targets are asked at each cycle THEN every role\'s instances are taken in turn', () => {
  const targets = peerTargets(() => peers({
    msa: [{ name: 'msa-0', host: '127.1.0.5' }],
    mta: [{ name: 'mta-0', host: '127.1.0.4' }, { name: 'mta-1', host: '127.1.0.9' }],
    proxy: [{ name: 'proxy-0', host: '127.1.0.3' }],
  }), PORTS);
  assert.deepEqual(targets(), { msa: { host: '127.1.0.5', port: 465 }, mta: { host: '127.1.0.4', port: 25 }, imap: { host: '127.1.0.3', port: 993 }, pop3: { host: '127.1.0.3', port: 995 } });
  assert.equal(targets().mta?.host, '127.1.0.9');
  assert.equal(targets().mta?.host, '127.1.0.4');
});

test('GIVEN peers that moved WHEN the next cycle asks THEN it dials the new addresses', () => {
  let proxy = '127.1.0.3';
  const targets = peerTargets(() => peers({ proxy: [{ name: 'proxy-0', host: proxy }] }), PORTS);
  assert.equal(targets().imap?.host, '127.1.0.3');
  proxy = '127.1.0.30';
  assert.equal(targets().pop3?.host, '127.1.0.30');
});

test('GIVEN a role with no instance WHEN targets are asked THEN it has no endpoint (its path fails at connect)', () => {
  const targets = peerTargets(() => peers({ proxy: [{ name: 'proxy-0', host: '127.1.0.3' }] }), PORTS);
  assert.deepEqual(Object.keys(targets()).sort(), ['imap', 'pop3']);
});

test('GIVEN fixed endpoints WHEN asked THEN the same every time', () => {
  const targets = fixedTargets({ imap: { host: 'access.mail.svc', port: 993 } });
  assert.deepEqual(targets(), { imap: { host: 'access.mail.svc', port: 993 } });
  assert.equal(targets(), targets());
});
