/**
 * The prober: a cycle runs every path at once (stages.ts, path.ts) and, beside them, removes stale probe messages,
 * counts the results and logs them; the loop starts a cycle every interval (a cycle that runs longer
 * delays the next, never overlaps it). One assembly for `mailfleet probe`, its `--once`, and the
 * single host's `probe` instance.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { TlsDetail } from '../protocol/index.ts';
import { removeStale } from './mailbox.ts';
import { notAfterSeconds, probeTag } from './message.ts';
import type { ProbeMetrics } from './metrics.ts';
import { pathSteps, pathTls } from './path.ts';
import { STAGES, staleAfterMs, type EndpointName, type ProbeSettings, type ProbeTargets } from './settings.ts';
import { runStages, type PathResult } from './stages.ts';

export interface CycleReport {
  /** ms since the epoch. */
  startedAt: number;
  paths: PathResult[];
  /** Stale probe messages removed before the paths ran. */
  staleRemoved: number;
  /** Why the clean-up did not run through, when it did not. */
  staleError?: string;
}

export interface Health {
  ok: boolean;
  detail: string;
}

export interface Prober {
  /** One cycle now. */
  cycle(signal: AbortSignal): Promise<CycleReport>;
  /** A cycle every interval until `signal` aborts; resolves once the cycle in flight has ended. */
  run(signal: AbortSignal): Promise<void>;
  /** Cycles keep starting: fails once none started for an interval plus the longest a cycle may take. */
  live(): Health;
  /** Running (not stopping). */
  ready(): Health;
}

export interface ProberOptions {
  settings: ProbeSettings;
  /** Where to dial, asked anew at every cycle (the single host's instances move when they restart). */
  targets: () => ProbeTargets;
  metrics: ProbeMetrics;
  log: Logger;
  /** ms since the epoch. Default Date.now. */
  now?: () => number;
}

/** Slack on top of the longest a cycle may take before /livez calls the prober hung. */
const LIVENESS_SLACK_MS = 30_000;

export function createProber(opts: ProberOptions): Prober {
  const { settings, metrics, log } = opts;
  const now = opts.now ?? Date.now;
  const tls = pathTls(settings);
  // Every stage of a path, plus the clean-up before them, may take up to a deadline.
  const longestCycleMs = (STAGES.length + 1) * settings.timeoutMs;
  let lastStart = now();
  let running = false;
  let stopping = false;

  function sawCertificate(endpoint: EndpointName, detail: TlsDetail | undefined): void {
    if (detail === undefined) return;
    const notAfter = notAfterSeconds(detail.validTo);
    if (notAfter !== undefined) metrics.certificate(endpoint, detail.servername ?? '', notAfter);
  }

  function targets(): ProbeTargets {
    try {
      return opts.targets();
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'probe targets unreadable');
      return {};
    }
  }

  async function clean(found: ProbeTargets, signal: AbortSignal): Promise<Pick<CycleReport, 'staleRemoved' | 'staleError'>> {
    if (found.imap === undefined) return { staleRemoved: 0, staleError: 'no imap endpoint' };
    // One deadline for the whole clean-up, and the stop; a controller of its own, so that nothing of it stays
    // attached to the loop's long-lived signal.
    const own = new AbortController();
    const onStop = (): void => own.abort(signal.reason);
    signal.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => own.abort(new Error(`clean-up did not finish within ${settings.timeoutMs} ms`)), settings.timeoutMs);
    try {
      const removed = await removeStale({
        endpoint: found.imap,
        account: settings.account,
        tls: tls.implicit,
        timeoutMs: settings.timeoutMs,
        signal: own.signal,
        olderThanS: staleAfterMs(settings) / 1000,
      });
      if (removed > 0) log.info({ removed }, 'stale probe messages removed');
      return { staleRemoved: removed };
    } catch (err) {
      log.warn({ err: errorMessage(err), endpoint: `${found.imap.host}:${found.imap.port}` }, 'stale probe messages not removed');
      return { staleRemoved: 0, staleError: errorMessage(err) };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onStop);
    }
  }

  function report(result: PathResult, queueId: string | undefined, endpoints: ProbeTargets): void {
    const stages = Object.fromEntries(result.stages.map((s) => [s.stage, Math.round(s.durationMs)]));
    const base = { path: result.path, tag: result.tag, durationMs: Math.round(result.durationMs), stages, ...(queueId === undefined ? {} : { queueId }) };
    if (result.outcome === 'succeeded') return log.info(base, 'probe succeeded');
    if (result.outcome === 'aborted') return log.info(base, 'probe aborted');
    const f = result.failure;
    const target = f === undefined ? undefined : endpoints[f.stage === 'connect' || f.stage === 'smtp' ? result.path : f.stage.endsWith('imap') ? 'imap' : 'pop3'];
    log.warn({
      ...base,
      stage: f?.stage,
      code: f?.code,
      err: f?.message,
      ...(f?.reply === undefined ? {} : { reply: f.reply }),
      ...(f?.step === undefined ? {} : { step: f.step }),
      address: f?.address ?? (target ? `${target.host}:${target.port}` : undefined),
    }, 'probe stage failed');
  }

  async function cycle(signal: AbortSignal): Promise<CycleReport> {
    const startedAt = now();
    lastStart = startedAt;
    const found = targets();
    // The clean-up runs beside the paths, not before them: a backend that does not answer would otherwise hold
    // every probe back by the clean-up's deadline. It removes only messages older than several intervals.
    const cleaning = clean(found, signal);
    const paths = await Promise.all(settings.paths.map(async (path) => {
      const tag = probeTag(settings.instance, path, startedAt, randomBytes(6).toString('hex'));
      let queueId: string | undefined;
      const ctx = { settings, tls, targets: found, tag, now: startedAt, sawCertificate, queued: (id: string) => (queueId = id) };
      const result = await runStages(path, tag, (pathSignal) => pathSteps(ctx, path, pathSignal), settings.timeoutMs, signal);
      metrics.record(result, now());
      report(result, queueId, found);
      return result;
    }));
    return { startedAt, paths, ...(await cleaning) };
  }

  return {
    cycle,
    async run(signal) {
      running = true;
      signal.addEventListener('abort', () => (stopping = true), { once: true });
      log.info({ paths: settings.paths, intervalMs: settings.intervalMs, timeoutMs: settings.timeoutMs, account: settings.account.address }, 'prober started');
      while (!signal.aborted) {
        const started = now();
        await cycle(signal);
        const wait = Math.max(0, settings.intervalMs - (now() - started));
        await delay(wait, undefined, { signal }).catch(() => undefined);
      }
      running = false;
      log.info('prober stopped');
    },
    live() {
      const since = now() - lastStart;
      const limit = settings.intervalMs + longestCycleMs + LIVENESS_SLACK_MS;
      return since <= limit ? { ok: true, detail: 'ok' } : { ok: false, detail: `no cycle started for ${Math.round(since / 1000)} s` };
    },
    ready() {
      if (stopping) return { ok: false, detail: 'stopping' };
      return running ? { ok: true, detail: 'ok' } : { ok: false, detail: 'not running' };
    },
  };
}
