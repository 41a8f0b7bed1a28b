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
import { isIP } from 'node:net';
import { backendTlsFiles, type InstanceContext, type Peers } from '../config/index.ts';
import { errorMessage } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import type { Logger } from '../log.ts';
import { Gauge, type Registry } from '../metrics/index.ts';
import { backendTlsRuns, requireSecret, type PlatformSpec } from '../spec/index.ts';
import { deriveInternalCa, issueInternalCertificate } from '../internal-tls/index.ts';
import { ensureDir } from './fs.ts';

/** A backend's certificate lives a month; a pod that lives longer gets a new one. */
export const BACKEND_TLS_VALIDITY_DAYS = 30;
/** A new certificate is issued once the one served has less than this left. */
export const BACKEND_TLS_RENEW_BEFORE_MS = 10 * 86_400_000;
/** How often the served certificate's end is looked at. */
export const BACKEND_TLS_CHECK_MS = 3_600_000;
/** The hop's name in the CA's derivation and subject. */
const HOP = 'backend';

/** The names a backend's certificate holds: the address proxies reach it by, and its DNS name where it has one. */
export function backendTlsHosts(instance: InstanceContext, peers: Peers): string[] {
  const address = instance.address ?? instance.listen;
  const hosts = address === '0.0.0.0' || address === '::' ? [] : [address];
  const own = peers.mailbox.find((p) => p.name === instance.name)?.host;
  if (own !== undefined && isIP(own) === 0) hosts.push(own);
  return hosts;
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
  ensureDir(instance.runDir, 0o755);
  if (instance.role === 'proxy') {
    writeFileAtomic(files.ca, ca.certPem, { mode: 0o644 });
    return undefined;
  }
  const issued = issueInternalCertificate(ca, { hosts: backendTlsHosts(instance, peers), validityDays: BACKEND_TLS_VALIDITY_DAYS }, now);
  writeFileAtomic(files.served, issued.pem, { mode: 0o600 });
  return issued.notAfter;
}

export function backendTlsDue(notAfter: Date, now: number): boolean {
  return notAfter.getTime() - now < BACKEND_TLS_RENEW_BEFORE_MS;
}

export interface BackendTlsRenewal {
  close(): void;
}

/**
 * Keeps a backend's certificate current: hourly, one that is due is replaced and `reload` has Dovecot read it
 * (sessions keep theirs). A failure is logged and tried again the next hour. Exports the served certificate's end.
 */
export function renewBackendTls(opts: {
  notAfter: Date;
  issue: () => Date | undefined;
  reload: () => Promise<void>;
  log: Logger;
  registry: Registry;
  checkMs?: number;
  now?: () => number;
}): BackendTlsRenewal {
  const now = opts.now ?? Date.now;
  let notAfter = opts.notAfter;
  new Gauge({
    name: 'mailfleet_agent_backend_tls_expiry_timestamp_seconds',
    help: 'When the certificate this mailbox backend serves the proxies runs out (it is replaced 10 days before)',
    registers: [opts.registry],
    collect() {
      this.set(Math.floor(notAfter.getTime() / 1000));
    },
  });
  let running = false;
  const check = (): void => {
    if (running || !backendTlsDue(notAfter, now())) return;
    running = true;
    void (async () => {
      try {
        const next = opts.issue();
        if (next === undefined) return;
        notAfter = next;
        await opts.reload();
        opts.log.info({ notAfter: next.toISOString() }, 'backend TLS certificate renewed');
      } catch (err) {
        opts.log.error({ err: errorMessage(err) }, 'backend TLS certificate renewal failed');
      } finally {
        running = false;
      }
    })();
  };
  const timer = setInterval(check, opts.checkMs ?? BACKEND_TLS_CHECK_MS);
  timer.unref();
  return { close: () => clearInterval(timer) };
}
