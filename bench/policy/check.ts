/**
 * The rule check: proof that a server really evaluates the bench's rule rather than answering DUNNO to
 * everything. On one connection, RCPT requests from one client address the load never uses, until the first
 * reply that is not DUNNO. A fixed window or a sliding log refuses request `limit + 1` exactly; a GCRA bucket
 * (mailfleet) may let through what it has leaked meanwhile (`limit / seconds` per second of the check).
 */
import { connect } from 'node:net';
import { ReplyReader } from './framing.ts';
import { probeRequest } from './requests.ts';
import { RULE } from './rule.ts';

export interface RuleCheck {
  /** The request (1-based) that got the first reply other than DUNNO; undefined when none did. */
  firstRefusal: number | undefined;
  /** Its verb (`DEFER_IF_PERMIT`). */
  verb: string | undefined;
  seconds: number;
  /** Whether the refusal came where the rule puts it. */
  holds: boolean;
}

/** The latest request at which a rule of `limit` per `seconds` may first refuse, `elapsedS` into the check. */
export function latestRefusal(limit: number, seconds: number, elapsedS: number): number {
  return limit + 1 + Math.ceil((elapsedS * limit) / seconds);
}

export function checkRule(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<RuleCheck> {
  const maxRequests = 2 * RULE.limit + 10;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const reader = new ReplyReader();
    const t0 = performance.now();
    let sent = 0;
    let done = false;
    const finish = (err: Error | undefined, result?: RuleCheck) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(result as RuleCheck);
    };
    const onAbort = () => finish(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => finish(new Error(`rule check: not finished after ${timeoutMs / 1000} s (${sent} requests)`)), timeoutMs);
    const next = () => socket.write(probeRequest(++sent));
    socket.on('connect', next);
    socket.on('data', (chunk: Buffer) => {
      const err = reader.feed(chunk, (verb) => {
        const name = reader.verbs[verb] as string;
        const seconds = (performance.now() - t0) / 1000;
        if (name !== 'DUNNO') {
          const holds = sent > RULE.limit && sent <= latestRefusal(RULE.limit, RULE.seconds, seconds);
          finish(undefined, { firstRefusal: sent, verb: name, seconds, holds });
        } else if (sent >= maxRequests) {
          finish(undefined, { firstRefusal: undefined, verb: undefined, seconds, holds: false });
        } else {
          next();
        }
      });
      if (err !== undefined) finish(new Error(`rule check: ${err}`));
    });
    socket.on('error', (err) => finish(new Error(`rule check: ${err.message}`)));
    socket.on('close', () => finish(new Error(`rule check: connection closed after ${sent} requests`)));
  });
}
