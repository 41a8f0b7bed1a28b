/**
 * TLS on the proxies' hop to the mailbox backends. A proxy logs in to a backend as the backend login, with its
 * password, on behalf of each user; that hop goes over STARTTLS, and the proxy checks the backend's certificate
 * against the hop's CA for the address the director names (src/internal-tls/ca.ts derives the CA from the
 * platform's backend TLS key).
 *
 * - A backend's agent issues its Dovecot's certificate at start, for the address it is reached by (a pod's IP is
 *   known only once it runs) and its DNS name, and issues a new one before it runs out (then Dovecot reloads).
 * - A proxy's agent writes the CA's certificate for its Dovecot to trust (`ssl_ca`).
 */
import { backendTlsFiles, type InstanceContext, type Peers } from '../config/index.ts';
import { writeFileAtomic } from '../files.ts';
import { backendTlsRuns, requireSecret, type PlatformSpec } from '../spec/index.ts';
import { deriveInternalCa } from '../internal-tls/index.ts';
import { ensureDir } from './fs.ts';
import { renewInternalTls, servedTlsHosts, writeServedCertificate, type InternalTlsRenewal } from './internal-tls.ts';

/** The hop's name in the CA's derivation and subject. */
const HOP = 'backend';

/** The names a backend's certificate holds: the address proxies reach it by, and its DNS name where it has one. */
export function backendTlsHosts(instance: InstanceContext, peers: Peers): string[] {
  return servedTlsHosts(instance, peers.mailbox.find((p) => p.name === instance.name)?.host);
}

/**
 * Writes what the instance's Dovecot reads for the backend hop: a backend's certificate (key, then certificate;
 * root only) or the CA a proxy trusts. Returns the end of an issued certificate; undefined for a proxy, or when
 * the hop does not run. Call after the run dir is emptied and before the daemon starts.
 */
export function installBackendTls(spec: PlatformSpec, instance: InstanceContext, peers: Peers, now = Date.now()): Date | undefined {
  if (!backendTlsRuns(spec) || (instance.role !== 'proxy' && instance.role !== 'mailbox')) return undefined;
  const ca = deriveInternalCa(requireSecret(spec, 'backendTlsKey'), HOP);
  const files = backendTlsFiles(instance);
  if (instance.role === 'proxy') {
    ensureDir(instance.runDir, 0o755);
    writeFileAtomic(files.ca, ca.certPem, { mode: 0o644 });
    return undefined;
  }
  return writeServedCertificate(instance, ca, backendTlsHosts(instance, peers), files.served, now);
}

/**
 * Keeps a backend's certificate current (see renewInternalTls); exports its end as
 * `mailfleet_agent_backend_tls_expiry_timestamp_seconds`.
 */
export function renewBackendTls(opts: Omit<Parameters<typeof renewInternalTls>[0], 'metric' | 'what'>): InternalTlsRenewal {
  return renewInternalTls({
    ...opts,
    metric: {
      name: 'mailfleet_agent_backend_tls_expiry_timestamp_seconds',
      help: 'When the certificate this mailbox backend serves the proxies runs out (it is replaced 10 days before)',
    },
    what: 'backend TLS certificate',
  });
}
