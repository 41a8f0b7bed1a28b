/**
 * Peers the config tests render with: one of each peer a proxy, mailbox or Postfix needs, named as pods are; and for
 * the tests of which proxy an mta or msa turns to (its LMTP next hop, its SASL server), single-host peers with a given
 * number of proxies and the input of one mta or msa instance among them.
 */
import type { ConfigInput, Peers } from '../../src/config/index.ts';
import { withSecrets } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';

/** One ldap, mailbox and proxy, by their pod names. */
export const ONE_OF_EACH: Peers = {
  ldap: [{ name: 'ldap-0', host: 'ldap-0.ldap' }],
  kvs: [],
  mailbox: [{ name: 'mailbox-0', host: 'mailbox-0.mailbox' }],
  proxy: [{ name: 'proxy-0', host: 'proxy-0.proxy' }],
  mta: [],
  msa: [],
};

const spec = withSecrets(testSpec(), { ldapReaderPassword: 'test-reader-secret-0123', ldapTlsKey: 'test-ldap-tls-key-0123456789' });

/** Single-host peers: `proxies` proxy instances on loopback addresses, in ordinal order (as peers.json lists them). */
export function localPeers(proxies: number): Peers {
  return {
    ldap: [{ name: 'ldap-0', host: '127.77.1.10' }],
    kvs: [],
    mailbox: [{ name: 'mailbox-0', host: '127.77.2.10' }],
    proxy: Array.from({ length: proxies }, (_, i) => ({ name: `proxy-${i}`, host: `127.77.3.${10 + i}` })),
    mta: [],
    msa: [],
  };
}

/** Instance `name` of `role` among `peers`; `names` are the Kubernetes Services of the ready proxies, when given. */
export function postfixInput(role: 'mta' | 'msa', name: string, peers: Peers, names: Pick<ConfigInput, 'lmtpHost' | 'authHost'> = {}): ConfigInput {
  return {
    spec,
    peers,
    instance: { role, name, listen: '127.77.9.9', configDir: '/etc/mailfleet', dataDir: '/var/lib/mailfleet', runDir: '/run/mailfleet', mailDir: '/srv/mail', tlsDir: '/etc/mailfleet/tls' },
    ...names,
  };
}
