/**
 * The ports `mailfleet status` lists per instance: what runs there, and nothing that does not (the quota-status
 * ports only while the mtas ask at RCPT, the proxies' auth port only while msas relay SMTP AUTH to it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rolePorts } from '../../../src/runtime/local/index.ts';
import { testSpec } from '../../support/spec.ts';

test('GIVEN the default spec WHEN the ports are listed THEN the proxy shows its quota relay and SMTP AUTH relay, the backend its quota-status', () => {
  const spec = testSpec();
  assert.equal(rolePorts('proxy', spec).quotaStatus, spec.ports.quotaStatus);
  assert.equal(rolePorts('proxy', spec).auth, spec.ports.auth);
  assert.equal(rolePorts('mailbox', spec).quotaStatus, spec.ports.quotaStatus);
  assert.equal(rolePorts('mta', spec).quotaStatus, undefined, 'the mta asks, it serves no quota port');
});

test('GIVEN the quota check off and no msa WHEN the ports are listed THEN neither quota nor auth port is shown', () => {
  const spec = testSpec('quota: { checkAtRcpt: false }\nroles: { msa: { replicas: 0 } }');
  assert.equal(rolePorts('proxy', spec).quotaStatus, undefined);
  assert.equal(rolePorts('mailbox', spec).quotaStatus, undefined);
  assert.equal(rolePorts('proxy', spec).auth, undefined);
  assert.equal(rolePorts('proxy', spec).imap, spec.ports.imap);
});
