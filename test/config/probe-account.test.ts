import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accountChangeLdif, PROBE_ACCOUNT_QUOTA, probeAccount } from '../../src/config/index.ts';
import { isMailfleetError } from '../../src/errors.ts';
import { testSpec } from '../support/spec.ts';

const PASSWORD = 'a-probe-password-0123';

test('GIVEN a prober that runs WHEN its account is asked for THEN it is the spec address with the platform secret and a small quota', () => {
  const spec = testSpec(`probe: { password: ${PASSWORD} }`);
  assert.deepEqual(probeAccount(spec), { address: 'probe@example.com', password: PASSWORD, quota: PROBE_ACCOUNT_QUOTA });
});

test('GIVEN the prober disabled WHEN its account is asked for THEN there is none', () => {
  assert.equal(probeAccount(testSpec('probe: { enabled: false }')), undefined);
});

test('GIVEN a running prober whose password was never filled in WHEN its account is asked for THEN SECRET_MISSING names the field', () => {
  assert.throws(() => probeAccount(testSpec()), (err: unknown) => isMailfleetError(err, 'SECRET_MISSING') && err.message.startsWith('spec.probe.password:'));
});

test('GIVEN a directory without the probe account WHEN brought up to date THEN the whole entry is added', () => {
  const spec = testSpec(`probe: { password: ${PASSWORD} }`);
  const ldif = accountChangeLdif(spec, { address: 'probe@example.com', password: PASSWORD, quota: '10M' }, '{ARGON2ID}hash', false);
  assert.equal(ldif, [
    'dn: mail=probe@example.com,ou=accounts,dc=mailfleet,dc=test',
    'changetype: add',
    'objectClass: inetOrgPerson',
    'objectClass: mailfleetAccount',
    'cn: probe@example.com',
    'sn: probe',
    'mail: probe@example.com',
    'userPassword: {ARGON2ID}hash',
    'mailQuotaBytes: 10485760',
    '',
  ].join('\n'));
});

test('GIVEN a directory holding the probe account WHEN brought up to date THEN its password and quota are replaced, nothing else', () => {
  const spec = testSpec(`probe: { password: ${PASSWORD} }`);
  const ldif = accountChangeLdif(spec, { address: 'probe@example.com', password: PASSWORD, quota: '10M' }, '{ARGON2ID}new', true);
  assert.equal(ldif, [
    'dn: mail=probe@example.com,ou=accounts,dc=mailfleet,dc=test',
    'changetype: modify',
    'replace: userPassword',
    'userPassword: {ARGON2ID}new',
    '-',
    'replace: mailQuotaBytes',
    'mailQuotaBytes: 10485760',
    '-',
    '',
  ].join('\n'));
});
