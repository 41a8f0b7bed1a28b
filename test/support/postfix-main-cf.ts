/** What the Postfix config tests share: peers as a cluster names them, and main.cf read back as settings. */
import assert from 'node:assert/strict';
import { roleConfigFiles, type ConfigInput, type Peers } from '../../src/config/index.ts';
import { withSecrets, type PlatformSpec } from '../../src/spec/index.ts';

/** One instance of each backing role, by the names a StatefulSet gives; none of mta and msa. */
export const CLUSTER_PEERS: Peers = {
  ldap: [{ name: 'ldap-0', host: 'ldap-0.ldap' }],
  kvs: [{ name: 'kvs-0', host: 'kvs-0.kvs' }],
  mailbox: [{ name: 'mailbox-0', host: 'mailbox-0.mailbox' }],
  proxy: [{ name: 'proxy-0', host: 'proxy-0.proxy' }],
  mta: [],
  msa: [],
};

/**
 * The settings of the main.cf an mta or msa gets, by name; a setting written twice fails the test (Postfix would
 * warn "overriding earlier entry" and take the last).
 */
export function mainCfSettings(role: 'mta' | 'msa', spec: PlatformSpec, peers: Peers, secrets: Parameters<typeof withSecrets>[1]): Map<string, string> {
  const input: ConfigInput = {
    spec: withSecrets(spec, secrets),
    peers,
    instance: { role, name: `${role}-0`, listen: '0.0.0.0', configDir: '/etc/mailfleet', dataDir: '/var/lib/mailfleet', runDir: '/run/mailfleet', mailDir: '/srv/mail', tlsDir: '/etc/mailfleet/tls' },
  };
  const out = new Map<string, string>();
  for (const line of (roleConfigFiles(role, input)['main.cf'] ?? '').split('\n')) {
    const m = /^([a-z_]+) = ?(.*)$/.exec(line);
    if (m) {
      assert.equal(out.has(m[1] as string), false, `${m[1]} set twice`);
      out.set(m[1] as string, m[2] as string);
    }
  }
  return out;
}
