import assert from 'node:assert/strict';
import { test } from 'node:test';
import { placeholderWarnings } from '../../../src/runtime/kube/index.ts';
import { parseSpec } from '../../../src/spec/index.ts';

const spec = (extra: string): ReturnType<typeof parseSpec> => parseSpec([
  'apiVersion: mailfleet.io/v1alpha1',
  'kind: MailPlatform',
  'metadata: { name: isp }',
  'spec:',
  '  domains: [isp.net]',
  extra,
].join('\n'));

const OWN = [
  '  hostname: mx.isp.net',
  '  kubernetes: { images: { registry: registry.isp.net/mail }, alertWebhookUrl: "https://alerts.isp.net/hook" }',
  '  outbound: { mailout: { ipv4Cidr: 85.10.20.0/28 }, fallback: { ipv4Cidr: 85.10.20.16/28 } }',
].join('\n');

test('GIVEN a spec that names its own registry, outbound ranges, receiver and host WHEN rendered THEN no placeholder is reported', () => {
  assert.deepEqual(placeholderWarnings(spec(OWN)), []);
});

test('GIVEN a spec left at the defaults WHEN rendered THEN each placeholder is named by its field', () => {
  const fields = placeholderWarnings(spec('')).map((w) => w.split(':')[0]);
  assert.deepEqual(fields, ['spec.kubernetes.images.registry', 'spec.outbound.mailout.ipv4Cidr', 'spec.outbound.fallback.ipv4Cidr', 'spec.kubernetes.alertWebhookUrl', 'spec.hostname']);
});

test('GIVEN placeholders of other shapes WHEN rendered THEN reserved names and documentation ranges are caught, an outbound pool of no replicas is not', () => {
  const warnings = placeholderWarnings(spec([
    '  hostname: mail.example.org',
    '  kubernetes: { images: { registry: "registry.example:5000/mail" }, alertWebhookUrl: "http://hooks.example.net/a" }',
    '  outbound: { mailout: { ipv4Cidr: 203.0.113.0/28 }, fallback: { replicas: 0 } }',
  ].join('\n')));
  assert.deepEqual(warnings.map((w) => w.split(':')[0]), ['spec.kubernetes.images.registry', 'spec.outbound.mailout.ipv4Cidr', 'spec.kubernetes.alertWebhookUrl', 'spec.hostname']);
  assert.match(warnings[1] ?? '', /203\.0\.113\.0\/28 is a documentation range/);
});

test('GIVEN demo accounts in the spec WHEN rendered THEN they are named with how many and the first, as known logins', () => {
  const warnings = placeholderWarnings(spec([
    OWN,
    '  accounts:',
    '    seed: [{ address: alice@isp.net, password: alice-demo-password }]',
    '    generate: [{ count: 20, prefix: user, domain: isp.net, password: user-demo-password }]',
  ].join('\n')));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /^spec\.accounts: 21 demo accounts \(alice@isp\.net, …\) with passwords written in the spec/);
  const generated = placeholderWarnings(spec([OWN, '  accounts: { generate: [{ count: 1, prefix: u, domain: isp.net, password: user-demo-password }] }'].join('\n')));
  assert.match(generated[0] ?? '', /^spec\.accounts: 1 demo account \(u1@isp\.net\) with/);
});
