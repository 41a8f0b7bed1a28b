/**
 * An agent in a pod whose daemon cannot start yet waits instead of failing: clamd before the platform's updater
 * has put the first signatures on the shared volume. Meanwhile its HTTP port answers as the pod is: `/readyz`
 * 503 naming what it waits for (the Service sends it nothing), `/livez` 200 (nothing is hung, a restart would
 * only wait again), `/metrics` the agent's registry with `mailfleet_agent_waiting_to_start` 1 and
 * `mailfleet_agent_ready` 0. A log line names
 * the directory at once and every WAIT_LOG_INTERVAL_MS after. The single host does not wait: its runtime
 * restarts a failed start with backoff.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import { Gauge, type Registry } from '../metrics/index.ts';
import type { StartBlocker } from './daemon.ts';
import { AGENT_FLAGS } from './health.ts';
import { refuseMethod, startHttpResponder } from '../http-responder.ts';

/** How often the agent looks again (a directory listing: cheap). */
export const START_POLL_MS = 1000;
/** How often the wait is logged again. */
export const WAIT_LOG_INTERVAL_MS = 30_000;

/** The health server's flags (health.ts) that are 0 while waiting. */
const HEALTH_FLAGS = ['mailfleet_agent_daemon_up', 'mailfleet_agent_ready'] as const;

export interface StartWaitOptions {
  /** What keeps the daemon from starting, or undefined once it can. */
  blocker: () => StartBlocker | undefined;
  host: string;
  port: number;
  registry: Registry;
  log: Logger;
  /** Default START_POLL_MS. */
  pollMs?: number;
  /** Default WAIT_LOG_INTERVAL_MS. */
  logEveryMs?: number;
}

/**
 * Resolves true as soon as the daemon can start (at once when nothing blocks it, without opening the port), false
 * when `signal` aborted the wait. The HTTP port is closed again before it resolves.
 */
export async function waitUntilStartable(opts: StartWaitOptions, signal: AbortSignal): Promise<boolean> {
  let blocked = opts.blocker();
  if (blocked === undefined) return true;
  const started = Date.now();
  const waiting = new Gauge({ name: 'mailfleet_agent_waiting_to_start', help: 'Whether the agent waits for something its daemon needs before it can start (clamd: signatures).', registers: [opts.registry] });
  waiting.set(1);
  // The health server's flags, 0 until it takes over (it registers them anew): alerts on an unready or stopped
  // daemon see a waiting instance too.
  for (const name of HEALTH_FLAGS) new Gauge({ name, help: AGENT_FLAGS[name], registers: [opts.registry] }).set(0);
  const http = startHttpResponder({
    host: opts.host,
    port: opts.port,
    onError: (err) => opts.log.error({ err }, 'health server error'),
    handle: (req, reply) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuseMethod(reply, ['GET', 'HEAD']);
      const what = `waiting: ${blocked?.detail ?? 'starting'}\n`;
      if (req.path === '/livez') return reply(200, what);
      if (req.path === '/readyz') return reply(503, what);
      if (req.path === '/metrics') {
        opts.registry.metrics().then((text) => reply(200, text, opts.registry.contentType), () => reply(500, 'metrics failed\n'));
        return;
      }
      return reply(404, 'not found\n');
    },
  });
  const logEveryMs = opts.logEveryMs ?? WAIT_LOG_INTERVAL_MS;
  let loggedAt = 0;
  try {
    while (blocked !== undefined) {
      if (Date.now() - loggedAt >= logEveryMs) {
        loggedAt = Date.now();
        opts.log.warn({ directory: blocked.directory, detail: blocked.detail, waitedMs: loggedAt - started }, 'waiting to start the daemon');
      }
      try {
        await delay(opts.pollMs ?? START_POLL_MS, undefined, { signal });
      } catch {
        opts.log.info({ waitedMs: Date.now() - started }, 'stopped while waiting to start the daemon');
        return false;
      }
      blocked = opts.blocker();
    }
    opts.log.info({ waitedMs: Date.now() - started }, 'daemon can start');
    waiting.set(0);
    return true;
  } finally {
    for (const name of HEALTH_FLAGS) opts.registry.removeSingleMetric(name);
    await http.close();
  }
}
