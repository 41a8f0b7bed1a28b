import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instanceContext, podInstanceContext } from '../../src/agent/index.ts';

test('GIVEN single-host instances WHEN their contexts are made THEN as reads STATE/dkim/signing (what mailfleet dkim keeps) and av STATE/data/clamav; other roles have neither', () => {
  assert.equal(instanceContext('/var/lib/mf', 'as', 'as-0', '127.121.0.5').dkimDir, '/var/lib/mf/dkim/signing');
  assert.equal(instanceContext('/var/lib/mf', 'av', 'av-0', '127.121.0.6').signaturesDir, '/var/lib/mf/data/clamav');
  const mta = instanceContext('/var/lib/mf', 'mta', 'mta-0', '127.121.0.7');
  assert.equal(mta.dkimDir, undefined);
  assert.equal(mta.signaturesDir, undefined);
});

test('GIVEN pod instances WHEN their contexts are made THEN as reads the DKIM Secret mount and av the signature volume', () => {
  assert.equal(podInstanceContext('as', 'as-x').dkimDir, '/etc/mailfleet/dkim');
  assert.equal(podInstanceContext('av', 'av-x').signaturesDir, '/var/lib/clamav');
});
