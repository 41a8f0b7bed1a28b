/**
 * Where the msa pods have SMTP AUTH checked: one Service address (`proxy-auth`, ClusterIP) behind which kube-proxy
 * spreads the connections over the ready proxy pods, since Postfix's SASL client would always take the first address
 * of a headless name. Postfix talks to its agent's relay on the pod's loopback; the relay's target file names the
 * Service.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderPlatform } from '../../../src/runtime/kube/index.ts';
import { full, mainCf, namespace, service } from './proxy-services.ts';

test('GIVEN several proxies WHEN rendered THEN every msa pod has its logins checked through the proxy-auth Service and by no single proxy pod', () => {
  assert.ok(full.spec.roles.proxy.replicas > 1 && full.spec.roles.msa.replicas > 0);
  const main = mainCf('msa');
  assert.match(main, new RegExp(`^smtpd_sasl_path = inet:127\\.0\\.0\\.1:${full.spec.ports.auth}$`, 'm'));
  const target = mainCf('msa', 'auth-relay-target');
  assert.equal(target, `proxy-auth.${namespace}.svc.cluster.local:${full.spec.ports.auth}\n`);
});

test('GIVEN the proxy-auth Service WHEN rendered THEN it has a cluster IP, lists ready proxy pods only, and serves their auth port alone', () => {
  const auth = service('proxy-auth');
  assert.equal(auth.type, 'ClusterIP', 'kube-proxy picks a ready proxy for each connection');
  assert.equal(auth.clusterIP, undefined, 'not headless: a headless name would send every login to the first address');
  assert.equal(auth.publishNotReadyAddresses, false, 'a proxy that is not ready checks no login');
  assert.deepEqual(auth.selector, service('proxy').selector);
  assert.deepEqual(auth.ports, [{ name: 'auth', port: full.spec.ports.auth, targetPort: 'auth', protocol: 'TCP' }]);
});

test('GIVEN no proxy WHEN rendered THEN there is no proxy-auth Service and the msa names no SASL Service', () => {
  const none = renderPlatform({ ...full, spec: { ...full.spec, roles: { ...full.spec.roles, proxy: { ...full.spec.roles.proxy, replicas: 0 } } } });
  assert.equal(none.some((o) => o.kind === 'Service' && o.metadata.name === 'proxy-auth'), false);
  const cm = none.find((o) => o.kind === 'ConfigMap' && o.metadata.name === `${full.metadata.name}-msa-config`);
  const data = (cm?.data as Record<string, string> | undefined) ?? {};
  assert.doesNotMatch(data['main.cf'] ?? '', /proxy-auth/);
  assert.equal(data['auth-relay-target'], '', 'the relay has nowhere to go');
});
