import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `probe` until it returns a value (not undefined) or `timeoutMs` passes. A probe that throws
 * counts as "not yet" (a daemon restarting refuses connections); the error of the last try is in the
 * timeout's message.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const v = await probe().catch((err: unknown) => {
      last = err;
      return undefined;
    });
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    }
    await delay(intervalMs);
  }
}
