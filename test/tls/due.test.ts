import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renewalReason, renewalTime, type CertificateFacts } from '../../src/tls/index.ts';

const FROM = Date.parse('2030-01-01T00:00:00Z');
const DAY_MS = 86_400_000;
const facts = (hosts: string[], days = 90): CertificateFacts => ({
  hosts,
  notBefore: new Date(FROM),
  notAfter: new Date(FROM + days * DAY_MS),
  issuer: 'CN=test',
  serialNumber: '01',
  fingerprint256: 'AA',
});
const want = { hosts: ['mx.example.com', 'imap.example.com'], renewAfter: 0.67 };

test('GIVEN a 90-day certificate and renewAfter 0.67 THEN it is due 60.3 days after notBefore', () => {
  assert.equal(renewalTime(facts(want.hosts), 0.67), FROM + 0.67 * 90 * DAY_MS);
});

const CASES: { name: string; facts: CertificateFacts; now: number; renewAfter?: number; expect: string | undefined }[] = [
  { name: 'fresh, same hosts', facts: facts(want.hosts), now: FROM + DAY_MS, expect: undefined },
  { name: 'same hosts in another order and case', facts: facts(['IMAP.example.com', 'mx.example.com']), now: FROM + DAY_MS, expect: undefined },
  { name: 'one instant before the share has passed', facts: facts(want.hosts), now: FROM + 0.67 * 90 * DAY_MS - 1, expect: undefined },
  { name: 'exactly when the share has passed', facts: facts(want.hosts), now: FROM + 0.67 * 90 * DAY_MS, expect: 'due' },
  { name: 'past notAfter', facts: facts(want.hosts), now: FROM + 91 * DAY_MS, expect: 'expired' },
  { name: 'a host fewer than the spec', facts: facts(['mx.example.com']), now: FROM + DAY_MS, expect: 'hosts-changed' },
  { name: 'a host more than the spec', facts: facts([...want.hosts, 'pop.example.com']), now: FROM + DAY_MS, expect: 'hosts-changed' },
  { name: 'no hosts at all', facts: facts([]), now: FROM + DAY_MS, expect: 'hosts-changed' },
  { name: 'renewAfter 1e-7 of a 5-year certificate, 16 s in', facts: facts(want.hosts, 5 * 365), now: FROM + 16_000, renewAfter: 1e-7, expect: 'due' },
  { name: 'renewAfter 1e-7 of a 5-year certificate, 15 s in', facts: facts(want.hosts, 5 * 365), now: FROM + 15_000, renewAfter: 1e-7, expect: undefined },
  { name: 'before notBefore (a clock set back)', facts: facts(want.hosts), now: FROM - DAY_MS, expect: undefined },
];

for (const c of CASES) {
  test(`GIVEN a certificate ${c.name} WHEN checked THEN ${c.expect ?? 'nothing is due'}`, () => {
    assert.equal(renewalReason(c.facts, { hosts: want.hosts, renewAfter: c.renewAfter ?? want.renewAfter }, c.now), c.expect);
  });
}
