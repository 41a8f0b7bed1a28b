import type { Logger } from '../log.ts';

/**
 * Warnings that can come once per request (Redis down, a broken client) are logged at most once per interval per
 * kind: the first at once, then one line per interval saying how many were left out.
 */
export interface LogThrottle {
  warn(kind: string, fields: Record<string, unknown>, message: string): void;
}

export function createLogThrottle(log: Logger, intervalMs: number, now: () => number = Date.now): LogThrottle {
  const kinds = new Map<string, { last: number; suppressed: number }>();
  return {
    warn(kind, fields, message) {
      const t = now();
      const state = kinds.get(kind);
      if (state && t - state.last < intervalMs) {
        state.suppressed++;
        return;
      }
      const suppressed = state?.suppressed ?? 0;
      kinds.set(kind, { last: t, suppressed: 0 });
      log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, message);
    },
  };
}
