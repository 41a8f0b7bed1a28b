/**
 * Where the mta and msa pods deliver: one name whose A records are the ready proxy pods (the `proxy-lmtp` headless
 * Service), so that Postfix spreads its LMTP connections over every proxy and none goes to a proxy that is not ready.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { full, mainCf, namespace, service } from './proxy-services.ts';

test('GIVEN several proxies WHEN rendered THEN every mta and msa pod delivers to the proxy-lmtp name and to no single proxy pod, with no fallback relay', () => {
  assert.ok(full.spec.roles.proxy.replicas > 1 && full.spec.roles.mta.replicas > 1);
  for (const role of ['mta', 'msa'] as const) {
    const main = mainCf(role);
    assert.match(main, new RegExp(`^virtual_transport = lmtp:inet:\\[proxy-lmtp\\.${namespace}\\.svc\\.cluster\\.local\\]:${full.spec.ports.lmtp}$`, 'm'), role);
    assert.doesNotMatch(main, /^lmtp_fallback_relay/m, role);
    const lmtpLines = main.split('\n').filter((l) => /^(virtual_transport|lmtp_)/.test(l)).join('\n');
    assert.doesNotMatch(lmtpLines, /proxy-\d+\.proxy\./, `${role}: no proxy pod named for LMTP`);
  }
});

test('GIVEN the proxy-lmtp Service WHEN rendered THEN it is headless, lists ready proxy pods only, and serves their LMTP port alone', () => {
  const lmtp = service('proxy-lmtp');
  const proxy = service('proxy');
  assert.equal(lmtp.clusterIP, 'None', 'headless: its A records are the pods, for Postfix to shuffle');
  assert.equal(lmtp.publishNotReadyAddresses, false, 'a proxy that is not ready gets no mail');
  assert.deepEqual(lmtp.selector, proxy.selector);
  assert.deepEqual(lmtp.ports, [{ name: 'lmtp', port: full.spec.ports.lmtp, targetPort: 'lmtp', protocol: 'TCP' }]);
  // The per-pod Service still lists pods before they are ready: the director ring needs them at start.
  assert.equal(proxy.publishNotReadyAddresses, true);
});
