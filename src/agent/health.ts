import type { Server } from 'node:net';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { startHttpResponder } from './http-responder.ts';
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

/**
 * `/livez`, `/readyz` and `/metrics` of one agent, open to the kubelet and the scraper; nothing here changes the
 * instance (a drain is asked on the control socket, see control.ts). Liveness depends on nothing outside the
 * pod (see liveness.ts); readiness runs the role's protocol dialogue, at most once per READINESS_CACHE_MS.
 */
export function startHealth(opts: {
  host: string;
  port: number;
  role: string;
  instance: string;
  check: ReadinessCheck;
  state: HealthState;
  log: Logger;
  hungAfterMs?: number;
  /** The drain budget (`spec.drainSeconds`): a drain running past it and a margin fails /livez. */
  drainBudgetMs: number;
  /** More metric families for /metrics, given the `role,instance` label pairs. */
  extraMetrics?: (labels: string) => string;
}): Health {
  const hungAfterMs = opts.hungAfterMs ?? LIVENESS_HUNG_MS;
  let last: CheckResult | undefined;
  let inflight: Promise<CheckResult> | undefined;
  let lastOkAt = Date.now();
  const draining = (): boolean => opts.state.drainStartedAt() !== undefined;
  const counts = { ok: 0, fail: 0 };

  async function runCheck(): Promise<CheckResult> {
    const started = Date.now();
    const signal = AbortSignal.timeout(READINESS_TIMEOUT_MS);
    try {
      await opts.check(signal);
      lastOkAt = Date.now();
      counts.ok++;
      return { ok: true, at: Date.now(), detail: 'ok', durationMs: Date.now() - started };
    } catch (err) {
      counts.fail++;
      return { ok: false, at: Date.now(), detail: errorMessage(err), durationMs: Date.now() - started };
    }
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

  function metrics(readyNow: boolean): string {
    const labels = `role="${opts.role}",instance="${opts.instance}"`;
    return [
      '# HELP mailfleet_agent_daemon_up Whether the supervised daemon process is running.',
      '# TYPE mailfleet_agent_daemon_up gauge',
      `mailfleet_agent_daemon_up{${labels}} ${opts.state.daemonRunning() ? 1 : 0}`,
      '# HELP mailfleet_agent_ready Whether the daemon answered its protocol dialogue (cached).',
      '# TYPE mailfleet_agent_ready gauge',
      `mailfleet_agent_ready{${labels}} ${readyNow ? 1 : 0}`,
      '# HELP mailfleet_agent_draining Whether the agent is draining.',
      '# TYPE mailfleet_agent_draining gauge',
      `mailfleet_agent_draining{${labels}} ${draining() ? 1 : 0}`,
      '# HELP mailfleet_agent_readiness_checks_total Protocol readiness dialogues run, by result.',
      '# TYPE mailfleet_agent_readiness_checks_total counter',
      `mailfleet_agent_readiness_checks_total{${labels},result="ok"} ${counts.ok}`,
      `mailfleet_agent_readiness_checks_total{${labels},result="fail"} ${counts.fail}`,
      '# HELP mailfleet_agent_readiness_check_duration_seconds Duration of the last readiness dialogue.',
      '# TYPE mailfleet_agent_readiness_check_duration_seconds gauge',
      `mailfleet_agent_readiness_check_duration_seconds{${labels}} ${((last?.durationMs ?? 0) / 1000).toFixed(3)}`,
      '',
    ].join('\n') + (opts.extraMetrics?.(labels) ?? '');
  }

  const http = startHttpResponder({
    host: opts.host,
    port: opts.port,
    onError: (err) => opts.log.error({ err }, 'health server error'),
    handle: (req, reply) => {
      if (req.path === '/drain') return reply(403, DRAIN_REFUSED);
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
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
      if (req.path === '/metrics') return reply(200, metrics(last?.ok === true && opts.state.daemonRunning() && !draining()), 'text/plain; version=0.0.4');
      return reply(404, 'not found\n');
    },
  });

  return { server: http.server, ready, close: () => http.close() };
}
