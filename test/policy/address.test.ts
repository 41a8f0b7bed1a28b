import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contains, networkOf, parseIp, parseNetwork, type Network } from '../../src/policy/address.ts';

const PARSED: readonly [string, string | undefined][] = [
  ['192.0.2.1', '192.0.2.1/32'],
  ['2001:db8::1', '2001:db8:0:0:0:0:0:1/128'],
  ['::', '0:0:0:0:0:0:0:0/128'],
  ['::1', '0:0:0:0:0:0:0:1/128'],
  ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8/128'],
  ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0/128'],
  ['fe80::1%eth0', 'fe80:0:0:0:0:0:0:1/128'],
  ['::ffff:192.0.2.9', '192.0.2.9/32'],
  ['64:ff9b::192.0.2.9', '64:ff9b:0:0:0:0:c000:209/128'],
  ['1:2:3:4:5:6:192.0.2.9', '1:2:3:4:5:6:c000:209/128'],
  ['unknown', undefined],
  ['', undefined],
  ['192.0.2', undefined],
  ['192.0.2.256', undefined],
  ['192.0.2.01', undefined],
  ['1::2::3', undefined],
  ['1:2:3:4:5:6:7:8:9', undefined],
  ['1:2:3:4:5:6:7:8::', undefined],
  [':::1', undefined],
  ['12345::', undefined],
  ['::ffff:1.2.3', undefined],
  ['\u0000\u00ff', undefined],
];

for (const [text, expected] of PARSED) {
  test(`GIVEN ${JSON.stringify(text)} WHEN parsed as an address THEN ${expected ?? 'refused'}`, () => {
    const ip = parseIp(text);
    assert.equal(ip === undefined ? undefined : networkOf(ip, 32, 128), expected);
  });
}

test('GIVEN client addresses WHEN aggregated into /24 and /64 THEN neighbours share a network', () => {
  const key = (text: string): string => networkOf(parseIp(text) as NonNullable<ReturnType<typeof parseIp>>, 24, 64);
  assert.equal(key('192.0.2.1'), '192.0.2.0/24');
  assert.equal(key('192.0.2.254'), '192.0.2.0/24');
  assert.notEqual(key('192.0.3.1'), key('192.0.2.1'));
  assert.equal(key('2001:db8:1:2:aaaa::1'), '2001:db8:1:2:0:0:0:0/64');
  assert.equal(key('2001:db8:1:2:ffff:ffff:ffff:ffff'), key('2001:db8:1:2::'));
  assert.notEqual(key('2001:db8:1:3::1'), key('2001:db8:1:2::1'));
});

test('GIVEN networks WHEN asked whether they hold addresses THEN prefixes decide, bit by bit, and families never mix', () => {
  const net = (text: string): Network => parseNetwork(text) as Network;
  assert.equal(contains(net('10.0.0.0/8'), parseIp('10.255.1.2')!), true);
  assert.equal(contains(net('10.0.0.0/8'), parseIp('11.0.0.1')!), false);
  assert.equal(contains(net('192.0.2.128/25'), parseIp('192.0.2.129')!), true);
  assert.equal(contains(net('192.0.2.128/25'), parseIp('192.0.2.127')!), false);
  assert.equal(contains(net('0.0.0.0/0'), parseIp('203.0.113.5')!), true);
  assert.equal(contains(net('0.0.0.0/0'), parseIp('2001:db8::1')!), false);
  assert.equal(contains(net('2001:db8::/33'), parseIp('2001:db8:7fff::1')!), true);
  assert.equal(contains(net('2001:db8::/33'), parseIp('2001:db8:8000::1')!), false);
  assert.equal(contains(net('198.51.100.7'), parseIp('::ffff:198.51.100.7')!), true);
});

test('GIVEN malformed networks WHEN parsed THEN each says what is wrong', () => {
  assert.match(parseNetwork('10.0.0.0/') as string, /prefix length/);
  assert.match(parseNetwork('10.0.0.0/8/8') as string, /prefix length/);
  assert.equal(parseNetwork('::ffff:10.0.0.0/104'), 'expected an IPv4 network written as IPv4, not as IPv4-mapped IPv6');
  assert.equal(parseNetwork('2001:db8::1/32'), 'has bits set past its /32 (the network is 2001:db8::/32)');
  assert.equal(parseNetwork('example.org/24'), 'expected an IPv4 or IPv6 network (address/prefix) or address');
  assert.equal(parseNetwork('fe80::1%eth0'), 'expected an IPv4 or IPv6 network (address/prefix) or address', 'a zone is not part of a network');
  assert.equal(parseNetwork('192.0.2.0', { bare: false }), 'expected an IPv4 or IPv6 network (address/prefix)');
  assert.equal(parseNetwork('192.0.2.0/24', { family: 6 }), 'expected an IPv6 network (address/prefix) or address');
});
