/**
 * When an agent counts as alive: the rule behind `/livez`, apart from any socket or clock so that it can be
 * tested on its own. A failing `/livez` makes the kubelet restart the container.
 */

/** How long a drain may outlive its budget (`spec.drainSeconds`) before the agent counts as stuck. */
export const DRAIN_OVERRUN_MS = 10_000;

export interface LivenessInput {
  now: number;
  daemonRunning: boolean;
  /** When the drain began; undefined while none was asked for. */
  drainStartedAt: number | undefined;
  drainBudgetMs: number;
  /** When the daemon last answered its protocol dialogue. */
  lastReadyAt: number;
  /** A daemon that has not answered for this long while its process lives counts as hung. */
  hungAfterMs: number;
}

export interface Liveness {
  ok: boolean;
  detail: string;
}

/**
 * Alive: the daemon runs and either answers its dialogue (a hung daemon fails after `hungAfterMs`) or is
 * draining within its budget plus DRAIN_OVERRUN_MS. A drain never ends in a pod that stays up: once the
 * budget and the margin are spent, the instance is restarted and serves again.
 */
export function liveness(input: LivenessInput): Liveness {
  if (!input.daemonRunning) return { ok: false, detail: 'daemon not running' };
  if (input.drainStartedAt !== undefined) {
    const drainingMs = input.now - input.drainStartedAt;
    const limitMs = input.drainBudgetMs + DRAIN_OVERRUN_MS;
    if (drainingMs > limitMs) return { ok: false, detail: `draining for ${drainingMs} ms, past the drain budget of ${input.drainBudgetMs} ms and its margin` };
    // Readiness fails on purpose while draining: it says nothing about a hung daemon.
    return { ok: true, detail: 'draining' };
  }
  const silentMs = input.now - input.lastReadyAt;
  if (silentMs > input.hungAfterMs) return { ok: false, detail: `daemon unresponsive for ${silentMs} ms` };
  return { ok: true, detail: 'ok' };
}
