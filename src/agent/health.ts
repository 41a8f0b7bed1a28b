import type { Server } from 'node:net';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Counter, Gauge, type Registry } from '../metrics/index.ts';
import { refuseMethod, startHttpResponder } from '../http-responder.ts';
import { liveness } from './liveness.ts';
import type { ReadinessCheck } from './readiness.ts';

/** How long a readiness result is reused, so probes never hammer the daemon. */
export const READINESS_CACHE_MS = 1000;
export const READINESS_TIMEOUT_MS = 2000;
/** A daemon whose readiness has failed this long while its process lives counts as hung: /livez fails. */
export const LIVENESS_HUNG_MS = 30_000;

export interface HealthState {
  daemonRunning(): boolean;
  /** When the drain began; undefined while none was asked for. */
  drainStartedAt(): number | undefined;
}

/** The answer to `POST /drain` on the HTTP port: control actions are taken on the control socket only. */
export const DRAIN_REFUSED = 'drain is not taken on the HTTP port; ask on the agent\'s control socket (mailfleet agent drain)\n';

interface CheckResult {
  ok: boolean;
  at: number;
  detail: string;
  durationMs: number;
}

export interface Health {
  server: Server;
  ready(): Promise<CheckResult>;
  close(): Promise<void>;
}

/** What /readyz and /livez know, read when /metrics is asked. */
interface HealthReadings {
  daemonRunning: () => boolean;
  ready: () => boolean;
  draining: () => boolean;
}

interface HealthMetrics {
  checks: Counter<'result'>;
  checkDuration: Gauge;
}

/** The agent's state flags (gauges, 1 or 0) and their help; start-wait.ts exports the first two, at 0, before this server runs. */
export const AGENT_FLAGS = {
  mailfleet_agent_daemon_up: 'Whether the supervised daemon process is running.',
  mailfleet_agent_ready: 'Whether the daemon answered its protocol dialogue (cached).',
  mailfleet_agent_draining: 'Whether the agent is draining.',
} as const;

function registerHealthMetrics(registry: Registry, read: HealthReadings): HealthMetrics {
  const registers = [registry];
  const flag = (name: keyof typeof AGENT_FLAGS, value: () => boolean): Gauge => new Gauge({
    name,
    help: AGENT_FLAGS[name],
    registers,
    collect() {
      this.set(value() ? 1 : 0);
    },
  });
  flag('mailfleet_agent_daemon_up', read.daemonRunning);
  flag('mailfleet_agent_ready', read.ready);
  flag('mailfleet_agent_draining', read.draining);
  const checks = new Counter({ name: 'mailfleet_agent_readiness_checks_total', help: 'Protocol readiness dialogues run, by result.', labelNames: ['result'], registers });
  for (const result of ['ok', 'fail']) checks.inc({ result }, 0);
  const checkDuration = new Gauge({ name: 'mailfleet_agent_readiness_check_duration_seconds', help: 'Duration of the last readiness dialogue.', registers });
  return { checks, checkDuration };
}

/**
 * `/livez`, `/readyz` and `/metrics` of one agent, open to the kubelet and the scraper; nothing here changes the
 * instance (a drain is asked on the control socket, see control.ts). Liveness depends on nothing outside the
 * pod (see liveness.ts); readiness runs the role's protocol dialogue, at most once per READINESS_CACHE_MS.
 */
export function startHealth(opts: {
  host: string;
  port: number;
  check: ReadinessCheck;
  state: HealthState;
  log: Logger;
  hungAfterMs?: number;
  /** The drain budget (`spec.drainSeconds`): a drain running past it and a margin fails /livez. */
  drainBudgetMs: number;
  /** The agent's registry (`role` and `instance` default labels): /metrics serves it; the health metrics join it here. */
  registry: Registry;
  /**
   * Exposition text appended to the registry's at each scrape (the daemon's own metrics, relayed). It must resolve,
   * whatever happens to its source. Default: nothing.
   */
  relay?: () => Promise<string>;
}): Health {
  const hungAfterMs = opts.hungAfterMs ?? LIVENESS_HUNG_MS;
  let last: CheckResult | undefined;
  let inflight: Promise<CheckResult> | undefined;
  let lastOkAt = Date.now();
  const draining = (): boolean => opts.state.drainStartedAt() !== undefined;
  const metrics = registerHealthMetrics(opts.registry, {
    daemonRunning: () => opts.state.daemonRunning(),
    ready: () => last?.ok === true && opts.state.daemonRunning() && !draining(),
    draining,
  });

  async function runCheck(): Promise<CheckResult> {
    const started = Date.now();
    const signal = AbortSignal.timeout(READINESS_TIMEOUT_MS);
    try {
      await opts.check(signal);
      lastOkAt = Date.now();
      return checked({ ok: true, at: Date.now(), detail: 'ok', durationMs: Date.now() - started });
    } catch (err) {
      return checked({ ok: false, at: Date.now(), detail: errorMessage(err), durationMs: Date.now() - started });
    }
  }

  function checked(result: CheckResult): CheckResult {
    metrics.checks.inc({ result: result.ok ? 'ok' : 'fail' });
    metrics.checkDuration.set(result.durationMs / 1000);
    return result;
  }

  async function ready(): Promise<CheckResult> {
    if (!opts.state.daemonRunning()) return { ok: false, at: Date.now(), detail: 'daemon not running', durationMs: 0 };
    if (draining()) return { ok: false, at: Date.now(), detail: 'draining', durationMs: 0 };
    if (last && Date.now() - last.at < READINESS_CACHE_MS) return last;
    inflight ??= runCheck().then((r) => {
      last = r;
      inflight = undefined;
      return r;
    });
    return inflight;
  }

  const live = () => liveness({
    now: Date.now(),
    daemonRunning: opts.state.daemonRunning(),
    drainStartedAt: opts.state.drainStartedAt(),
    drainBudgetMs: opts.drainBudgetMs,
    lastReadyAt: lastOkAt,
    hungAfterMs,
  });

  /** The relayed text first: what fetching it counts (its errors) is then in the same scrape. */
  async function exposition(): Promise<string> {
    const relayed = (await opts.relay?.()) ?? '';
    return (await opts.registry.metrics()) + relayed;
  }

  const http = startHttpResponder({
    host: opts.host,
    port: opts.port,
    onError: (err) => opts.log.error({ err }, 'health server error'),
    handle: (req, reply) => {
      if (req.path === '/drain') return reply(403, DRAIN_REFUSED);
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuseMethod(reply, ['GET', 'HEAD']);
      if (req.path === '/livez') {
        // Liveness needs a fresh-enough protocol answer to tell a hung daemon from a live one.
        const answer = () => {
          const l = live();
          reply(l.ok ? 200 : 503, `${l.detail}\n`);
        };
        ready().then(answer, answer);
        return;
      }
      if (req.path === '/readyz') {
        ready().then(
          (r) => reply(r.ok ? 200 : 503, `${r.detail}\n`),
          (err: unknown) => reply(503, `${errorMessage(err)}\n`),
        );
        return;
      }
      if (req.path === '/metrics') {
        exposition().then(
          (text) => reply(200, text, opts.registry.contentType),
          (err: unknown) => {
            opts.log.error({ err: errorMessage(err) }, 'metrics failed');
            reply(500, 'metrics failed\n');
          },
        );
        return;
      }
      return reply(404, 'not found\n');
    },
  });

  return { server: http.server, ready, close: () => http.close() };
}
