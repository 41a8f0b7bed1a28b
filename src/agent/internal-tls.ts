/**
 * What the agents of an internal TLS hop's servers share (the backends for the proxies' logins, slapd for the binds
 * to LDAP): the names their certificate holds, and keeping it current.
 */
import { isIP } from 'node:net';
import type { InstanceContext } from '../config/index.ts';
import { errorMessage } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import type { Logger } from '../log.ts';
import { INTERNAL_TLS_CHECK_MS, INTERNAL_TLS_VALIDITY_DAYS, internalTlsDue, issueInternalCertificate, type InternalCa } from '../internal-tls/index.ts';
import { Gauge, type Registry } from '../metrics/index.ts';
import { ensureDir } from './fs.ts';

/** Whether an instance listens on every address (a pod), which names nothing a client dials. */
export const listensOnEveryAddress = (address: string): boolean => address === '0.0.0.0' || address === '::';

/**
 * The names a server's certificate holds: the address clients reach it by (never the wildcard it listens on), and
 * `own`, its DNS name, where it has one.
 */
export function servedTlsHosts(instance: InstanceContext, own: string | undefined): string[] {
  const address = instance.address ?? instance.listen;
  const hosts = listensOnEveryAddress(address) ? [] : [address];
  if (own !== undefined && isIP(own) === 0) hosts.push(own);
  return hosts;
}

/**
 * Issues a server's certificate from `ca` for `hosts` and writes it (key, then certificate) to `file` in the instance's
 * run dir, readable by root alone, at once for the daemon to read. Returns its end.
 */
export function writeServedCertificate(instance: InstanceContext, ca: InternalCa, hosts: string[], file: string, now: number): Date {
  const issued = issueInternalCertificate(ca, { hosts, validityDays: INTERNAL_TLS_VALIDITY_DAYS }, now);
  ensureDir(instance.runDir, 0o755);
  writeFileAtomic(file, issued.pem, { mode: 0o600 });
  return issued.notAfter;
}

/** What an instance's own readiness check dials: the address it listens on, or 127.0.0.1 where that is every address. */
export const selfDialled = (listen: string): string => (listensOnEveryAddress(listen) ? '127.0.0.1' : listen);

/**
 * The names of a server's certificate when its agent's readiness check verifies it too (slapd, Redis): those of
 * {@link servedTlsHosts} and what that check dials.
 */
export function selfCheckedTlsHosts(instance: InstanceContext, own: string | undefined): string[] {
  const hosts = servedTlsHosts(instance, own);
  const dialled = selfDialled(instance.listen);
  return hosts.includes(dialled) ? hosts : [...hosts, dialled];
}

export interface InternalTlsRenewal {
  close(): void;
}

/** What a renewal runs with besides the certificate: where it logs and exports, and (in tests) its clock. */
export interface RenewalContext {
  notAfter: Date;
  log: Logger;
  registry: Registry;
  checkMs?: number;
  now?: () => number;
}

/**
 * Keeps a served certificate current: hourly, one that is due is replaced and `reload` has the daemon read it
 * (sessions keep theirs). A failure is logged and tried again the next hour. Exports the served certificate's end as
 * `metric`; `what` names the certificate in the log.
 */
export function renewInternalTls(opts: RenewalContext & {
  issue: () => Date | undefined;
  reload: () => Promise<void>;
  metric: { name: string; help: string };
  what: string;
}): InternalTlsRenewal {
  const now = opts.now ?? Date.now;
  let notAfter = opts.notAfter;
  new Gauge({
    name: opts.metric.name,
    help: opts.metric.help,
    registers: [opts.registry],
    collect() {
      this.set(Math.floor(notAfter.getTime() / 1000));
    },
  });
  let running = false;
  const check = (): void => {
    if (running || !internalTlsDue(notAfter, now())) return;
    running = true;
    void (async () => {
      try {
        const next = opts.issue();
        if (next === undefined) return;
        notAfter = next;
        await opts.reload();
        opts.log.info({ notAfter: next.toISOString() }, `${opts.what} renewed`);
      } catch (err) {
        opts.log.error({ err: errorMessage(err) }, `${opts.what} renewal failed`);
      } finally {
        running = false;
      }
    })();
  };
  const timer = setInterval(check, opts.checkMs ?? INTERNAL_TLS_CHECK_MS);
  timer.unref();
  return { close: () => clearInterval(timer) };
}
