/**
 * The shared counters: one Redis connection (node-redis; commands from every client connection are pipelined on
 * it) running the limiter script by EVALSHA, with EVAL when Redis does not have it (after a restart or SCRIPT FLUSH).
 *
 * It never makes a request wait for Redis to come back: while the connection is not ready a check fails at once
 * (`redis_down`), and the client reconnects by itself with capped, jittered backoff. Checks in flight are bounded
 * (`overload` past the bound). A Redis that accepts commands but stops answering (stopped, swapping, a long
 * script) is given up after `stallMs` without a reply: the connection is dropped and a new one made.
 */
import { createClient, ErrorReply } from '@redis/client';
import { createHash } from 'node:crypto';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { LIMITER_SCRIPT } from './limiter-script.ts';
import type { LogThrottle } from './log-throttle.ts';
import type { FailOpenReason } from './metrics.ts';

export interface RedisOptions {
  readonly host: string;
  readonly port: number;
  /** The Redis password (`requirepass`, or the ACL user's). Default none. */
  readonly password?: string;
  /** The ACL user. Default none (the `default` user). */
  readonly username?: string;
  /**
   * TLS (1.3) to Redis, trusting `ca` alone for `host` (or `servername`); absent: plaintext, which the CLI allows
   * only to a loopback address (the password would cross the network in clear).
   */
  readonly tls?: { readonly ca: string; readonly servername?: string };
}

export interface LimiterOptions extends RedisOptions {
  readonly log: Logger;
  readonly throttle: LogThrottle;
  /** Told whenever the connection becomes ready or stops being so. */
  readonly onUp: (up: boolean) => void;
  /** Checks waiting for Redis at most; more fail at once. Default {@link MAX_IN_FLIGHT}. */
  readonly maxInFlight?: number;
  /** Time without any reply, while checks wait, after which the connection is replaced. Default {@link STALL_MS}. */
  readonly stallMs?: number;
  /** TCP connect timeout. Default {@link CONNECT_TIMEOUT_MS}. */
  readonly connectTimeoutMs?: number;
}

/** A check that could not be made: the request gets the default action. */
export class LimiterUnavailable extends Error {
  readonly reason: FailOpenReason;
  constructor(reason: FailOpenReason, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'LimiterUnavailable';
    this.reason = reason;
  }
}

/** Why the limiter would refuse a check at once. */
export type LimiterRefusal = Extract<FailOpenReason, 'redis_down' | 'overload'>;

export interface Limiter {
  /**
   * Why a check made now would fail at once (not connected, or `maxInFlight` checks already waiting), or undefined
   * when it would be sent. The server answers such a request on the spot instead of through a rejected promise.
   */
  refusal(): { reason: LimiterRefusal; message: string } | undefined;
  /**
   * Runs the script (the limiter's, or `script`); resolves with the indexes of the buckets over their limit (what
   * `script` returns), rejects with {@link LimiterUnavailable}.
   */
  check(keys: readonly string[], args: readonly string[], script?: LimiterScriptText): Promise<number[]>;
  isUp(): boolean;
  close(): Promise<void>;
}

export const MAX_IN_FLIGHT = 4096;
export const STALL_MS = 3000;
export const CONNECT_TIMEOUT_MS = 1000;
/** Reconnect backoff: from 50 ms, doubling, at most 2 s, each with up to half again of jitter. */
const BACKOFF_FIRST_MS = 50;
const BACKOFF_MAX_MS = 2000;

export const LIMITER_SCRIPT_SHA1 = createHash('sha1').update(LIMITER_SCRIPT).digest('hex');

/** A Lua script the limiter's connection runs: its text and SHA-1 (EVALSHA first, EVAL when Redis lacks it). */
export interface LimiterScriptText {
  readonly text: string;
  readonly sha1: string;
}

const LIMITER: LimiterScriptText = { text: LIMITER_SCRIPT, sha1: LIMITER_SCRIPT_SHA1 };

function backoff(retries: number): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(retries, 10));
  return Math.round(base * (1 + Math.random() / 2));
}

function newClient(opts: LimiterOptions, maxInFlight: number) {
  return createClient({
    socket: {
      host: opts.host, port: opts.port, connectTimeout: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, noDelay: true, keepAlive: true, reconnectStrategy: backoff,
      ...(opts.tls === undefined ? {} : { tls: true as const, ca: opts.tls.ca, minVersion: 'TLSv1.3' as const, ...(opts.tls.servername === undefined ? {} : { servername: opts.tls.servername }) }),
    },
    ...(opts.password === undefined ? {} : { password: opts.password }),
    ...(opts.username === undefined ? {} : { username: opts.username }),
    name: 'mailfleet-policy',
    disableOfflineQueue: true,
    commandsQueueMaxLength: maxInFlight,
  });
}

type Client = ReturnType<typeof newClient>;

export function createRedisLimiter(opts: LimiterOptions): Limiter {
  const { log, throttle } = opts;
  const maxInFlight = opts.maxInFlight ?? MAX_IN_FLIGHT;
  const stallMs = opts.stallMs ?? STALL_MS;
  let inFlight = 0;
  /** The last time a reply came, or checks started waiting after none were. */
  let progressAt = Date.now();
  let closed = false;
  let up = false;

  function setUp(next: boolean): void {
    if (next === up) return;
    up = next;
    opts.onUp(next);
    if (next) log.info({ redis: `${opts.host}:${opts.port}` }, 'redis ready');
    else log.warn({ redis: `${opts.host}:${opts.port}` }, 'redis connection lost');
  }

  function connect(): Client {
    const client = newClient(opts, maxInFlight);
    client.on('error', (err: unknown) => throttle.warn('redis-error', { redis: `${opts.host}:${opts.port}`, err: errorMessage(err) }, 'redis error'));
    client.on('ready', () => {
      if (client === current) setUp(true);
    });
    for (const event of ['end', 'reconnecting']) {
      client.on(event, () => {
        if (client === current) setUp(false);
      });
    }
    // The first connection retries like any other, so this settles only when the client is closed.
    client.connect().catch(() => {});
    return client;
  }

  let current: Client | undefined;
  current = connect();

  const watchdog = setInterval(() => {
    if (closed || inFlight === 0 || Date.now() - progressAt <= stallMs) return;
    log.warn({ redis: `${opts.host}:${opts.port}`, inFlight, silentMs: Date.now() - progressAt }, 'redis stopped answering, reconnecting');
    const stalled = current;
    setUp(false);
    progressAt = Date.now();
    current = connect();
    stalled?.destroy();
  }, Math.max(100, Math.floor(stallMs / 3)));
  watchdog.unref();

  /** The script by its digest, by its text when Redis does not have it. */
  function run(client: Client, keys: readonly string[], args: readonly string[], script: LimiterScriptText): Promise<number[]> {
    const tail = [String(keys.length), ...keys, ...args];
    return client.sendCommand<number[]>(['EVALSHA', script.sha1, ...tail]).catch((err: unknown) => {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.sendCommand<number[]>(['EVAL', script.text, ...tail]);
    });
  }

  // Shared by every check (no closures per request at thousands a second).
  function answered(over: number[]): number[] {
    inFlight--;
    progressAt = Date.now();
    return over;
  }
  function failed(err: unknown): never {
    inFlight--;
    progressAt = Date.now();
    if (err instanceof ErrorReply) throw new LimiterUnavailable('error', `redis refused the script: ${err.message}`, err);
    throw new LimiterUnavailable('redis_down', `redis: ${errorMessage(err)}`, err);
  }

  function refusal(): { reason: LimiterRefusal; message: string } | undefined {
    if (closed || current === undefined || !current.isReady) return { reason: 'redis_down', message: 'redis is not connected' };
    return inFlight >= maxInFlight ? { reason: 'overload', message: `${inFlight} checks already wait for redis` } : undefined;
  }

  return {
    refusal,
    check(keys, args, script = LIMITER) {
      const refused = refusal();
      if (refused !== undefined) return Promise.reject(new LimiterUnavailable(refused.reason, refused.message));
      const client = current as Client;
      if (inFlight === 0) progressAt = Date.now();
      inFlight++;
      let pending: Promise<number[]>;
      try {
        pending = run(client, keys, args, script);
      } catch (err) {
        // node-redis refuses at once when its queue is full or the socket just closed.
        pending = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      return pending.then(answered, failed);
    },
    isUp: () => up,
    async close() {
      closed = true;
      clearInterval(watchdog);
      const client = current;
      current = undefined;
      setUp(false);
      client?.destroy();
    },
  };
}
