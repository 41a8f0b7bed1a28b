/**
 * Watches the certificates an instance serves and has its daemon pick up new ones without dropping a
 * session. Two ways to notice: `fs.watch` on the certificate directories (quick, but an inotify watch
 * can miss a directory that is replaced), and a `stat` of the files every `pollMs` (inode, size and
 * times; the files are read only when those change), which also sees the kubelet swap a Secret volume's
 * `..data` symlink. A change waits `settleMs` for the writer to finish
 * (a renewal writes two files), then each changed pair is checked: one that is missing, does not parse or
 * whose key is not the certificate's is logged once and not installed; the daemon keeps serving the old.
 * Valid ones are installed (one rename each) and the daemon reloads once: open sessions finish on the old
 * certificate, new ones get the new.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Counter, Gauge, type Registry } from '../metrics/index.ts';
import { installServed, readCertificate, sourceFingerprint, sourceSignature, type CertificateFacts, type CertificateSource } from './certificates.ts';

/** How often the files are read for a change fs.watch did not report. */
export const CERTIFICATE_POLL_MS = 2000;
/** Quiet time after a change before the files are checked: the writer of a renewal is done by then. */
export const CERTIFICATE_SETTLE_MS = 500;

export type ReloadResult = 'ok' | 'failed' | 'rejected';

export interface CertificateWatch {
  close(): void;
}

export interface CertificateWatchOptions {
  sources: readonly CertificateSource[];
  /** What is served now (from `installCertificates`). */
  serving: readonly CertificateFacts[];
  /** Makes the daemon load the installed files (`postfix reload`, `doveadm reload`). */
  reload: () => Promise<void>;
  log: Logger;
  /** Where the watch's `mailfleet_agent_certificate_*` metrics are registered: the agent's registry. */
  registry: Registry;
  pollMs?: number;
  settleMs?: number;
}

/** Reloads by result, and the expiry of what is served now (read at each scrape). */
function registerWatchMetrics(registry: Registry, serving: ReadonlyMap<string, CertificateFacts>): Counter<'result'> {
  const reloads = new Counter({
    name: 'mailfleet_agent_certificate_reloads_total',
    help: 'Certificate changes handled: daemon reloaded (ok), reload failed, or the new pair refused (rejected).',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of ['ok', 'failed', 'rejected'] satisfies ReloadResult[]) reloads.inc({ result }, 0);
  new Gauge({
    name: 'mailfleet_agent_certificate_expiry_timestamp_seconds',
    help: 'When the certificate the daemon serves expires.',
    labelNames: ['certificate'],
    registers: [registry],
    collect() {
      for (const f of serving.values()) this.set({ certificate: f.name }, Math.floor(f.notAfter.getTime() / 1000));
    },
  });
  return reloads;
}

export function startCertificateWatch(opts: CertificateWatchOptions): CertificateWatch {
  const pollMs = opts.pollMs ?? CERTIFICATE_POLL_MS;
  const settleMs = opts.settleMs ?? CERTIFICATE_SETTLE_MS;
  const serving = new Map(opts.serving.map((f) => [f.name, f]));
  /** The last content refused per certificate: logged and counted once, not at every poll. */
  const rejected = new Map<string, string>();
  const reloads = registerWatchMetrics(opts.registry, serving);
  let settle: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const changed = (source: CertificateSource): boolean => {
    const now = sourceFingerprint(source);
    return now !== serving.get(source.name)?.fingerprint && now !== rejected.get(source.name);
  };

  async function apply(): Promise<void> {
    const installed: CertificateFacts[] = [];
    for (const source of opts.sources) {
      if (!changed(source)) continue;
      const reading = readCertificate(source);
      if (!reading.ok) {
        if (rejected.get(source.name) === reading.fingerprint) continue;
        rejected.set(source.name, reading.fingerprint);
        reloads.inc({ result: 'rejected' });
        opts.log.warn({ certificate: source.name, reason: reading.reason }, 'new certificate refused; the old one stays in service');
        continue;
      }
      rejected.delete(source.name);
      installServed(source, reading.served);
      serving.set(source.name, reading.facts);
      installed.push(reading.facts);
    }
    if (installed.length === 0 || closed) return;
    const certificates = installed.map((f) => ({ name: f.name, dnsNames: f.dnsNames, notAfter: f.notAfter.toISOString() }));
    try {
      await opts.reload();
      reloads.inc({ result: 'ok' });
      opts.log.info({ certificates }, 'certificates reloaded');
    } catch (err) {
      reloads.inc({ result: 'failed' });
      opts.log.error({ certificates, err: errorMessage(err) }, 'certificate reload failed');
    }
  }

  /** One check at a time; a change noticed meanwhile runs another after it. */
  function run(): void {
    settle = undefined;
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = apply()
      .catch((err: unknown) => opts.log.error({ err: errorMessage(err) }, 'certificate check failed'))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          schedule();
        }
      });
  }

  function schedule(): void {
    if (closed) return;
    if (settle) clearTimeout(settle);
    settle = setTimeout(run, settleMs);
    settle.unref();
  }

  // What the files looked like at the last poll; a difference schedules a check of their content.
  let signature = opts.sources.map(sourceSignature).join('|');
  const poll = setInterval(() => {
    const now = opts.sources.map(sourceSignature).join('|');
    if (now === signature) return;
    signature = now;
    schedule();
  }, pollMs);
  poll.unref();
  // A change between the install before the daemon started and now would otherwise wait for the next one.
  if (opts.sources.some(changed)) schedule();

  // The certificate directories, and the directory holding them (a certificate's directory may appear later).
  const dirs = new Set(opts.sources.flatMap((s) => [dirname(s.cert), dirname(s.key), dirname(dirname(s.cert))]));
  const watchers: FSWatcher[] = [];
  for (const dir of dirs) {
    try {
      const w = watch(dir, { persistent: false }, () => schedule());
      // A watched directory that goes away ends its watch; the poll still sees what follows.
      w.on('error', () => w.close());
      watchers.push(w);
    } catch {
      // Not there (yet): the poll covers it.
    }
  }

  return {
    close() {
      closed = true;
      clearInterval(poll);
      if (settle) clearTimeout(settle);
      for (const w of watchers) w.close();
    },
  };
}
