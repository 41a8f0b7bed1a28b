/**
 * A proxy's side of TLS on the doveadm hop (src/config/dovecot-proxy.ts): its agent issues the certificate the
 * doveadm HTTP listener serves, from the CA derived from the doveadm API key, for the address and DNS name callers
 * dial, at each start and before it runs out (then Dovecot reloads; sessions keep theirs).
 */
import { doveadmTlsPath, type InstanceContext, type Peers } from '../config/index.ts';
import { doveadmCa } from '../internal-tls/index.ts';
import { requireSecret, type PlatformSpec } from '../spec/index.ts';
import { renewInternalTls, servedTlsHosts, writeServedCertificate, type InternalTlsRenewal, type RenewalContext } from './internal-tls.ts';

/** The names the certificate holds: the address callers reach the proxy by and its DNS name, where it has one. */
export function doveadmTlsHosts(instance: InstanceContext, peers: Peers): string[] {
  return servedTlsHosts(instance, peers.proxy.find((p) => p.name === instance.name)?.host);
}

/** Writes the doveadm listener's certificate (root only) and returns its end. Before Dovecot starts. */
export function installDoveadmTls(spec: PlatformSpec, instance: InstanceContext, peers: Peers, now = Date.now()): Date {
  return writeServedCertificate(instance, doveadmCa(requireSecret(spec, 'doveadmApiKey')), doveadmTlsHosts(instance, peers), doveadmTlsPath(instance), now);
}

/** Keeps it current; exports its end as `mailfleet_agent_doveadm_tls_expiry_timestamp_seconds`. */
export function renewDoveadmTls(opts: RenewalContext & { spec: PlatformSpec; instance: InstanceContext; peers: () => Peers; reload: () => Promise<void> }): InternalTlsRenewal {
  const { spec, instance, peers, ...context } = opts;
  const now = opts.now ?? Date.now;
  return renewInternalTls({
    ...context,
    issue: () => installDoveadmTls(spec, instance, peers(), now()),
    metric: {
      name: 'mailfleet_agent_doveadm_tls_expiry_timestamp_seconds',
      help: 'When the certificate this proxy\'s doveadm HTTP API serves its callers runs out (it is replaced 10 days before)',
    },
    what: 'doveadm TLS certificate',
  });
}
