import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, MailfleetError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { TlsIssuer, TlsSpec } from './sources.ts';
import type { RenewalReason } from './due.ts';
import { renewalTime } from './due.ts';
import { readInstalled, type Installed } from './installed.ts';
import { issueFromLocalCa, loadOrCreateLocalCa, type LocalCa } from './local-ca.ts';
import type { TlsMetrics } from './metrics.ts';
import { checkKeyMatches, hostsMissing, parseChain, parsePrivateKey, type CertificateFacts } from './pem.ts';
import { filesSource, localSource, type CertificateSource, type WantedCertificate } from './sources.ts';
import { installCertificate, prepareTlsDirs, tlsPaths, type TlsPaths } from './store.ts';

/** After a failed issuance (or while a stand-in serves), try again this soon, or at the next check if sooner. */
export const RETRY_AFTER_FAILURE_MS = 60_000;
const DAY_MS = 86_400_000;

/** One certificate as `mailfleet status` shows it: names and dates, never key material. */
export interface CertificateStatus {
  name: string;
  /** The hosts the spec asks for. */
  hosts: string[];
  issuer: TlsIssuer;
  /** A stand-in from the local CA serves until the issuer (ACME) delivers. */
  standIn: boolean;
  /** The certificate being served (absent when none is). */
  notBefore?: string;
  notAfter?: string;
  daysLeft?: number;
  /** When the platform renews it (absent for `issuer: files`, renewed by their owner). */
  renewAt?: string;
  lastError?: { at: string; reason: string; message: string };
}

export interface CertificateRenewal {
  /**
   * Before any daemon starts: creates the directories (and the local CA where the issuer needs it), then makes
   * every certificate servable: kept when valid, else issued by the local CA or copied from files; for ACME a
   * stand-in from the local CA serves until the first order succeeds in `start`. Throws when that is impossible.
   */
  prepare(): Promise<{ caCertFile?: string; caCreated: boolean }>;
  /** Checks at once and then every `checkSeconds` (sooner after a failure); resolves once `signal` aborts. */
  start(signal: AbortSignal): Promise<void>;
  /** One check of every certificate (what `start` runs each time). */
  check(): Promise<void>;
  status(): CertificateStatus[];
}

export interface RenewalOptions {
  platformName: string;
  tls: TlsSpec;
  stateDir: string;
  /** The instances' `tlsDir`. */
  certsDir: string;
  log: Logger;
  metrics: TlsMetrics;
  now?: () => number;
}

/** The certificates of `spec.tls` on the single host: issued, kept, renewed, with metrics and a status. */
export function createCertificateRenewal(opts: RenewalOptions): CertificateRenewal {
  const { tls, log, metrics } = opts;
  const now = opts.now ?? Date.now;
  const paths: TlsPaths = tlsPaths(opts.stateDir, opts.certsDir);
  const wanted: WantedCertificate[] = tls.certificates.map((spec, i) => ({ spec, field: `spec.tls.certificates[${i}]` }));
  const errors = new Map<string, CertificateStatus['lastError']>();
  const served = new Map<string, { facts: CertificateFacts; standIn: boolean }>();
  let ca: LocalCa | undefined;
  let source: CertificateSource | undefined;
  let failing = false;

  function record(name: string, facts: CertificateFacts, standIn: boolean): void {
    served.set(name, { facts, standIn });
    metrics.expiry.set({ certificate: name }, facts.notAfter.getTime() / 1000);
    metrics.issued.set({ certificate: name }, facts.notBefore.getTime() / 1000);
    metrics.standIn.set({ certificate: name }, standIn ? 1 : 0);
  }

  /** Checks a new chain and key before it replaces anything: parses, matches, names every host, not expired. */
  function checked(want: WantedCertificate, pem: { cert: string; key: string }, at: number): CertificateFacts {
    const certWhere = source?.issuer === 'files' ? `${want.field}.certFile` : `${want.field} (${source?.issuer ?? 'local'} issuer)`;
    const parsed = parseChain(pem.cert, certWhere);
    checkKeyMatches(parsed, parsePrivateKey(pem.key, source?.issuer === 'files' ? `${want.field}.keyFile` : certWhere), certWhere);
    const missing = hostsMissing(parsed.leaf, want.spec.hosts);
    if (missing.length > 0) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${certWhere}: the certificate does not name ${missing.join(', ')} (${want.field}.hosts)`);
    if (parsed.facts.notAfter.getTime() <= at) throw new MailfleetError('TLS_CERTIFICATE_INVALID', `${certWhere}: the certificate expired on ${parsed.facts.notAfter.toISOString()}`);
    return parsed.facts;
  }

  async function standIn(want: WantedCertificate, at: number): Promise<void> {
    if (!ca) return;
    const pem = await issueFromLocalCa(ca, { hosts: want.spec.hosts, validityDays: tls.validityDays, keyType: tls.keyType }, at);
    installCertificate(paths, want.spec.name, pem);
    record(want.spec.name, checked(want, pem, at), true);
    log.warn({ certificate: want.spec.name, issuer: tls.issuer }, 'serving a stand-in certificate from the local CA until the issuer delivers');
  }

  /** Brings one certificate up to date; `offlineOnly`: leave network issuers (ACME) for later. Returns false on failure. */
  async function renew(want: WantedCertificate, offlineOnly: boolean): Promise<boolean> {
    if (!source) throw new Error('prepare() first');
    const { name } = want.spec;
    const at = now();
    const installed: Installed = readInstalled(paths, name, ca?.cert);
    const reason: RenewalReason | undefined = installed.state === 'usable' ? source.reason(want, installed, at) : installed.state;
    if (installed.state === 'usable') record(name, installed.parsed.facts, source.issuer === 'acme' && installed.fromLocalCa);
    if (reason === undefined) return true;
    if (installed.state === 'unusable') log.warn({ certificate: name, problem: installed.problem }, 'installed certificate is unusable; replacing it');
    if (offlineOnly && !source.offline) {
      if (installed.state !== 'usable') await standIn(want, at);
      return true;
    }
    try {
      const pem = await source.obtain(want, at);
      const facts = checked(want, pem, now());
      installCertificate(paths, name, pem);
      record(name, facts, false);
      errors.delete(name);
      metrics.renewals.inc({ certificate: name, issuer: source.issuer, result: 'success' });
      log.info({ certificate: name, issuer: source.issuer, reason, hosts: facts.hosts, notAfter: facts.notAfter.toISOString() }, 'certificate issued');
      return true;
    } catch (err) {
      const message = errorMessage(err);
      errors.set(name, { at: new Date(at).toISOString(), reason, message });
      metrics.renewals.inc({ certificate: name, issuer: source.issuer, result: 'failure' });
      const serving = installed.state === 'usable' ? (installed.fromLocalCa && source.issuer === 'acme' ? 'stand-in' : 'installed') : 'stand-in';
      log.warn({ certificate: name, issuer: source.issuer, reason, err: message, serving }, 'certificate renewal failed');
      if (installed.state !== 'usable') {
        // Nothing servable: the daemons must still start. Files have no stand-in: their owner must fix them.
        if (source.issuer === 'files') throw err;
        await standIn(want, at);
      }
      return false;
    }
  }

  async function check(offlineOnly = false): Promise<void> {
    let ok = true;
    for (const want of wanted) ok = (await renew(want, offlineOnly)) && ok;
    failing = !ok || [...served.values()].some((s) => s.standIn);
  }

  return {
    async prepare() {
      prepareTlsDirs(paths);
      let caCreated = false;
      if (tls.issuer !== 'files') {
        const loaded = await loadOrCreateLocalCa(paths, opts.platformName, now());
        ca = loaded.ca;
        caCreated = loaded.created;
      }
      if (tls.issuer === 'files') source = filesSource();
      // acme-client (axios, node-forge) is loaded only when the spec asks for ACME.
      else if (tls.issuer === 'acme') source = (await import('./acme.ts')).acmeSource({ tls, accountKeyFile: paths.acmeAccountKey, log });
      else source = localSource(ca as LocalCa, tls);
      await check(true);
      return { ...(ca ? { caCertFile: paths.caCert } : {}), caCreated };
    },

    async start(signal) {
      while (!signal.aborted) {
        try {
          await check();
        } catch (err) {
          log.error({ err: errorMessage(err) }, 'certificate check failed');
          failing = true;
        }
        const waitMs = failing ? Math.min(RETRY_AFTER_FAILURE_MS, tls.checkSeconds * 1000) : tls.checkSeconds * 1000;
        await sleep(waitMs, undefined, { signal }).catch(() => undefined);
      }
    },

    check: () => check(),

    status() {
      const at = now();
      return wanted.map(({ spec }) => {
        const s = served.get(spec.name);
        const err = errors.get(spec.name);
        return {
          name: spec.name,
          hosts: [...spec.hosts],
          issuer: tls.issuer,
          standIn: s?.standIn ?? false,
          ...(s
            ? {
                notBefore: s.facts.notBefore.toISOString(),
                notAfter: s.facts.notAfter.toISOString(),
                daysLeft: Math.floor((s.facts.notAfter.getTime() - at) / DAY_MS),
                ...(tls.issuer === 'files' ? {} : { renewAt: new Date(s.standIn ? at : renewalTime(s.facts, tls.renewAfter)).toISOString() }),
              }
            : {}),
          ...(err ? { lastError: err } : {}),
        };
      });
    },
  };
}
