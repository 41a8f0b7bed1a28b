import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instanceContext } from '../../src/agent/index.ts';
import { filterConfigInput, roleConfigFiles, type ConfigInput } from '../../src/config/index.ts';
import { isMailfleetError } from '../../src/errors.ts';
import { withSecrets, type PlatformSpec } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';

const PEERS = { ldap: [], kvs: [{ name: 'kvs-0', host: '127.121.0.3' }], mailbox: [], proxy: [], mta: [], msa: [] };
const secrets = (spec: PlatformSpec) => withSecrets(spec, { redisPassword: 'redis-secret-0123456789', filterControllerPassword: 'rspamd-secret-0123456789' });

test('GIVEN a signature directory in the spec WHEN av is rendered THEN clamd reads it rather than the updater\'s', () => {
  const instance = instanceContext('/var/lib/mf', 'av', 'av-0', '127.121.0.6');
  const own: ConfigInput = { spec: secrets(testSpec('roles: { av: { replicas: 1 } }\nfilter: { antivirus: { signatures: { directory: /srv/sigs } } }')), instance, peers: PEERS };
  assert.equal(filterConfigInput(own).signaturesDir, '/srv/sigs');
  assert.match(roleConfigFiles('av', own)['clamd.conf'] ?? '', /^DatabaseDirectory \/srv\/sigs$/m);
  const mirrored: ConfigInput = { ...own, spec: secrets(testSpec('roles: { av: { replicas: 1 } }\nfilter: { antivirus: { signatures: { mirror: "https://m.example.net" } } }')) };
  assert.match(roleConfigFiles('av', mirrored)['clamd.conf'] ?? '', /^DatabaseDirectory \/var\/lib\/mf\/data\/clamav$/m);
});

test('GIVEN an as instance WHEN rendered through roleConfigFiles THEN rspamd signs with the keys of the instance\'s DKIM directory', () => {
  const input: ConfigInput = { spec: secrets(testSpec()), instance: instanceContext('/var/lib/mf', 'as', 'as-0', '127.121.0.5'), peers: PEERS };
  assert.match(roleConfigFiles('as', input)['dkim_signing.conf'] ?? '', /selector_map = "\/var\/lib\/mf\/dkim\/signing\/selectors\.map";/);
});

test('GIVEN a mail role WHEN asked for filter input THEN it is refused', () => {
  const input: ConfigInput = { spec: secrets(testSpec()), instance: instanceContext('/var/lib/mf', 'mta', 'mta-0', '127.121.0.7'), peers: PEERS };
  assert.throws(() => filterConfigInput(input), (err) => isMailfleetError(err, 'CONFIG_UNRENDERABLE'));
});
