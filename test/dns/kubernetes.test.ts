import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyPodDnsConfig,
  KUBERNETES_DEFAULT_RESOLVER,
  KUBERNETES_DEFAULT_SEARCH,
  MAILFLEET_DNS_CONFIG,
  podResolvConf,
} from '../../src/dns/kubernetes.ts';
import { parseResolvConf } from '../../src/dns/resolv-conf.ts';

test('GIVEN the Kubernetes default WHEN written as a pod resolv.conf THEN it has ndots:5 and the 5 search domains', () => {
  assert.equal(
    podResolvConf(KUBERNETES_DEFAULT_RESOLVER),
    'nameserver 10.96.0.10\nsearch mail.svc.cluster.local svc.cluster.local cluster.local example.internal corp.example.internal\noptions ndots:5\n',
  );
  assert.equal(KUBERNETES_DEFAULT_SEARCH.length, 5);
});

test('GIVEN mailfleet dnsConfig WHEN kubelet merges it THEN ndots becomes 1 and the search list stays', () => {
  const conf = parseResolvConf(podResolvConf(applyPodDnsConfig(KUBERNETES_DEFAULT_RESOLVER, MAILFLEET_DNS_CONFIG)));
  assert.equal(conf.ndots, 1);
  assert.deepEqual(conf.search, KUBERNETES_DEFAULT_SEARCH);
  assert.deepEqual(conf.nameservers, ['10.96.0.10']);
});

test('GIVEN a dnsConfig with servers, searches and options WHEN merged THEN lists append without duplicates and options replace by name', () => {
  const merged = applyPodDnsConfig(
    { nameservers: ['10.96.0.10'], searches: ['a.test', 'b.test'], options: ['ndots:5', 'rotate', 'timeout:2'] },
    { nameservers: ['10.96.0.10', '192.0.2.53'], searches: ['b.test', 'c.test'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }, { name: 'timeout' }] },
  );
  assert.deepEqual(merged, {
    nameservers: ['10.96.0.10', '192.0.2.53'],
    searches: ['a.test', 'b.test', 'c.test'],
    options: ['edns0', 'ndots:2', 'rotate', 'timeout'],
  });
});

test('GIVEN an empty dnsConfig WHEN merged THEN the resolver is unchanged', () => {
  assert.deepEqual(applyPodDnsConfig(KUBERNETES_DEFAULT_RESOLVER, {}), { ...KUBERNETES_DEFAULT_RESOLVER, searches: [...KUBERNETES_DEFAULT_SEARCH], nameservers: ['10.96.0.10'], options: ['ndots:5'] });
});
