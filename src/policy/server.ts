/**
 * The policy server: the one assembly of listener, sessions, rules, Redis limiter and metrics, for every place it
 * runs (`mailfleet policy`, the single-host runtime, tests). Each request is judged against the rules in force when
 * it arrived; `reload` swaps them for later requests without touching a connection.
 *
 * It never stalls mail: a request whose buckets Redis has not counted within `deadlineMs` is answered with the
 * rules' `defaultAction` (DUNNO unless set), as is every request while Redis is down; both are counted in
 * `mailfleet_policy_fail_open_total` and logged at most once per `LOG_INTERVAL_MS`.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import { longestIdle } from '../eviction.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { PolicyDecoderOptions, PolicyRequest } from '../protocol/index.ts';
import { createDeadlineQueue } from './deadlines.ts';
import { compileAuthPolicy, type CompiledAuthPolicy } from './auth-evaluate.ts';
import { createAuthJudge } from './auth-judge.ts';
import { startAuthListener, type AuthListener, type AuthListenerTuning } from './auth-listener.ts';
import { createAuthPolicyMetrics } from './auth-metrics.ts';
import { compilePolicy, decide, PASS, planRequest, scriptCall, type CompiledPolicy, type Decision } from './evaluate.ts';
import { createLeaseStore } from './leases.ts';
import { createHeldBudget } from './held-budget.ts';
import { createRedisLimiter, LimiterUnavailable, type RedisOptions } from './limiter.ts';
import { createLogThrottle } from './log-throttle.ts';
import { createPolicyMetrics, type FailOpenReason, type PolicyMetrics } from './metrics.ts';
import type { PolicyRules } from './rules-schema.ts';
import { startSession, type Session } from './session.ts';

export interface PolicyServerOptions {
  /** Validated rules (`validatePolicyRules`, `loadPolicyRulesFile`). */
  readonly rules: PolicyRules;
  readonly redis: RedisOptions;
  /** Where Postfix connects; port 0 takes any free port (see `listening`). */
  readonly listen: { readonly host: string; readonly port: number };
  readonly log: Logger;
  /** Registry for the policy metrics. Default a new one (`server.metrics.registry`). */
  readonly registry?: Registry;
  /** Prefix of every Redis key; one per platform sharing a Redis. Default {@link DEFAULT_KEY_PREFIX}. */
  readonly keyPrefix?: string;
  /** Time from a complete request to its reply at most; past it, the default action. Default {@link DEADLINE_MS}. */
  readonly deadlineMs?: number;
  /** Tests shorten these; production takes the defaults below. */
  readonly tuning?: Partial<PolicyTuning>;
  /**
   * Dovecot's auth policy listener (HTTP), judged by the rules' `auth` section; absent: none. Every request must
   * carry `Authorization: Bearer <apiKey>`.
   */
  readonly auth?: {
    readonly listen: { readonly host: string; readonly port: number };
    readonly apiKey: string;
    readonly tuning?: Partial<AuthListenerTuning>;
    /** HTTPS for these names (auth-tls.ts); absent: plain HTTP. */
    readonly tlsNames?: readonly string[];
  };
}

export interface PolicyTuning {
  /**
   * Open connections at most. Past it a newcomer takes the place of the connection idle longest (at least
   * EVICT_IDLE_MS: a Postfix smtpd reconnects when it needs it again), else it is closed at once. Default 2000.
   */
  maxConnections: number;
  /** Requests judged at once per connection (Postfix sends one at a time). Default 16. */
  maxPending: number;
  /** From a request's first byte, time to send the rest. Default 10 s. */
  requestTimeoutMs: number;
  /** A connection with no request for this long is closed. Default 330 s, above Postfix's smtpd_policy_service_max_idle (300 s), so Postfix closes first. */
  idleTimeoutMs: number;
  /** On stop, time for answers in progress before connections are cut. Default 2 s. */
  closeGraceMs: number;
  /** Redis checks in flight at most; see limiter.ts. */
  maxInFlight: number;
  /** Redis silence, with checks waiting, after which the connection is replaced. Default 3 s. */
  stallMs: number;
  decoder: PolicyDecoderOptions;
}

export interface PolicyServer {
  /** Listens and serves until `signal` aborts, then drains; resolves once every connection and Redis are closed. */
  start(signal: AbortSignal): Promise<void>;
  /** The bound address, once listening. */
  readonly listening: Promise<{ host: string; port: number }>;
  /** The auth policy listener's bound address, once listening (rejects when none is asked for). */
  readonly authListening: Promise<{ host: string; port: number }>;
  /** Rules for requests from now on; connections stay open. */
  reload(rules: PolicyRules): void;
  /**
   * Redis from now on (the single host's kvs came back on another address): a new connection replaces the old
   * one, whose checks in flight fail open. The same address and credentials change nothing.
   */
  redirect(redis: RedisOptions): void;
  /** Listening and not draining. Redis being down does not make it unready: it still answers, at once. */
  ready(): boolean;
  readonly metrics: PolicyMetrics;
}

export const DEFAULT_KEY_PREFIX = 'mailfleet:policy:';
export const DEADLINE_MS = 100;
const LOG_INTERVAL_MS = 10_000;
const SWEEP_MS = 1000;
/** A connection idle this long may be closed to make room at the connection cap. */
const EVICT_IDLE_MS = 1000;
/**
 * Bytes a connection may hold for its client (see held-budget.ts), on average over `maxConnections`: 8 MiB for
 * all 2,000. Twice the largest request a Postfix smtpd sends, which it sends only once it has read the reply to the
 * one before: a Postfix client never holds this much, so it is never closed for the budget. A flooding client holds
 * a read of up to 64 KiB and more (a paused connection is counted for the read it still makes): the budget
 * keeps a few dozen of them, where 2,000 at the per-connection bounds held hundreds of MB.
 */
const HELD_BYTES_PER_CONNECTION = 4 * 1024;
/**
 * The sockets' own buffers: none. A paused socket stops reading from the kernel after the one read it has under way
 * (64 KiB at most) instead of reading on until Node's default 64 KiB are buffered; replies wait in the session,
 * which has one write under way at a time.
 */
const SOCKET_HIGH_WATER_MARK = 0;
const TUNING: PolicyTuning = {
  maxConnections: 2000,
  maxPending: 16,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 330_000,
  closeGraceMs: 2000,
  maxInFlight: 4096,
  stallMs: 3000,
  decoder: {},
};

function reasonOf(err: unknown): FailOpenReason {
  return err instanceof LimiterUnavailable ? err.reason : 'error';
}

export function createPolicyServer(opts: PolicyServerOptions): PolicyServer {
  const tuning = { ...TUNING, ...opts.tuning };
  const { log } = opts;
  const keyPrefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const metrics = createPolicyMetrics(opts.registry);
  const throttle = createLogThrottle(log, LOG_INTERVAL_MS);
  const deadlines = createDeadlineQueue(opts.deadlineMs ?? DEADLINE_MS);
  // Dovecot's auth policy requests share the Redis connection, the deadline queue (the same time for every entry) and the log throttle.
  let policy: CompiledPolicy = compilePolicy(opts.rules);
  const leases = createLeaseStore();
  let authPolicy: CompiledAuthPolicy = compileAuthPolicy(opts.rules.auth);
  metrics.rules.set(policy.rules.length);
  const authMetrics = createAuthPolicyMetrics(metrics.registry);
  const deadlineMs = opts.deadlineMs ?? DEADLINE_MS;
  let authBound: (address: { host: string; port: number }) => void = () => {};
  let authFailed: (err: unknown) => void = () => {};
  const authAddress = new Promise<{ host: string; port: number }>((resolve, reject) => {
    authBound = resolve;
    authFailed = reject;
  });
  authAddress.catch(() => {});
  const sessions = new Set<Session>();
  const held = createHeldBudget({
    perHolder: HELD_BYTES_PER_CONNECTION,
    maxHolders: tuning.maxConnections,
    holders: () => sessions,
    shed: (report) => {
      metrics.shed('held_budget', report.closed);
      throttle.warn('held-budget', { ...report, heldBudget: held.limit }, 'policy clients held more undecoded requests and unread replies than the budget, those holding most disconnected');
    },
  });
  let listening = false;
  let draining = false;
  let limiter: ReturnType<typeof createRedisLimiter> | undefined;
  let redis = opts.redis;
  const newLimiter = () => createRedisLimiter({
    ...redis,
    log,
    throttle,
    onUp: (up) => metrics.redisUp(up),
    maxInFlight: tuning.maxInFlight,
    stallMs: tuning.stallMs,
  });
  let bound: (address: { host: string; port: number }) => void = () => {};
  let failedToBind: (err: unknown) => void = () => {};
  const boundAddress = new Promise<{ host: string; port: number }>((resolve, reject) => {
    bound = resolve;
    failedToBind = reject;
  });
  boundAddress.catch(() => {});

  function judge(request: PolicyRequest, answer: (action: string) => void): void {
    const started = performance.now();
    const stage = request.attributes.protocol_state ?? '';
    const rules = policy;
    const finish = (decision: Decision): void => {
      metrics.answered(stage, decision.verb, decision.rule, (performance.now() - started) / 1000);
      answer(decision.reply);
    };
    const buckets = planRequest(rules, request.attributes);
    if (buckets.length === 0) return finish(PASS);
    // Allowance this server was lent for these buckets (leases.ts): a request every bucket of which has some
    // passes here; the rest are asked of Redis, and what was spent is given back if the request is not counted.
    const keys = buckets.map((b) => keyPrefix + b.key);
    const spent = leases.spend(keys, buckets.map((b) => b.cost));
    if (spent.every(Boolean)) {
      metrics.leased();
      return finish(PASS);
    }
    const asked = buckets.filter((_, i) => !spent[i]);
    const failOpen = (reason: FailOpenReason, detail: string): void => {
      leases.refund(keys, spent);
      metrics.failOpen(reason);
      throttle.warn(`fail-open-${reason}`, { reason, detail, action: rules.failOpen.reply }, 'policy request not judged, default action');
      finish(rules.failOpen);
    };
    const active = limiter as NonNullable<typeof limiter>;
    // Answered here and now when Redis cannot take the check. Through a rejected promise each answer came in a
    // microtask that went on to judge the client's next request: a flood was worked through, every byte of every
    // client, without the event loop turning once (no Redis reply read, no timer run, no other client served).
    const refused = active.refusal();
    if (refused !== undefined) return failOpen(refused.reason, refused.message);
    let settled = false;
    const deadline = deadlines.add(() => {
      if (settled) return;
      settled = true;
      failOpen('timeout', `no answer from redis within ${opts.deadlineMs ?? DEADLINE_MS} ms`);
    });
    const asking: string[] = [];
    const call = scriptCall(keyPrefix, asked, (key) => {
      const units = leases.ask(key);
      if (units > 0) asking.push(key);
      return units;
    });
    const answered = (): void => {
      for (const key of asking) leases.settled(key);
    };
    active.check(call.keys, call.args).then(
      (result) => {
        answered();
        if (settled) return;
        settled = true;
        deadline.end();
        const over: number[] = [];
        result.forEach((lent, i) => {
          if (lent < 0) over.push(i);
          else if (lent > 0) leases.lend(call.keys[i] as string, lent);
        });
        const decision = decide(asked, over);
        // Refused, the request counted nowhere: what it spent of its leases goes back.
        if (over.some((i) => asked[i]?.rule.hard === true)) leases.refund(keys, spent);
        if (decision !== PASS && log.isLevelEnabled('debug')) {
          log.debug({ rule: decision.rule, key: asked.find((b) => b.rule.name === decision.rule)?.key, stage }, 'policy limit exceeded');
        }
        finish(decision);
      },
      (err: unknown) => {
        answered();
        if (settled) return;
        settled = true;
        deadline.end();
        failOpen(reasonOf(err), err instanceof Error ? err.message : String(err));
      },
    );
  }

  const sessionDeps = {
    limits: { maxPending: tuning.maxPending, requestTimeoutMs: tuning.requestTimeoutMs, idleTimeoutMs: tuning.idleTimeoutMs, decoder: tuning.decoder },
    judge,
    protocolError(code: string, detail: Record<string, unknown>) {
      metrics.protocolError(code);
      throttle.warn(`protocol-${code}`, { code, ...detail }, 'policy client broke the protocol, disconnected without reply');
    },
    holding: (delta: number) => held.change(delta),
  };
  let nextCid = 1;

  /** At the cap: closes the connection idle longest, if one has been idle EVICT_IDLE_MS; false when none has. */
  function evictIdle(): boolean {
    const found = longestIdle(sessions, EVICT_IDLE_MS, Date.now());
    if (!found) return false;
    found.item.destroy();
    sessions.delete(found.item);
    metrics.shed('idle_at_cap');
    return true;
  }

  function accept(socket: Socket): void {
    if (draining) return void socket.destroy();
    if (sessions.size >= tuning.maxConnections && !evictIdle()) {
      metrics.shed('refused_at_cap');
      throttle.warn('connection-cap', { maxConnections: tuning.maxConnections }, 'connection cap reached and none idle: a new connection closed');
      return void socket.destroy();
    }
    const cid = nextCid++;
    const session = startSession(socket, { ...sessionDeps, log: log.child({ cid, client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}` }) });
    sessions.add(session);
    metrics.connections.inc();
    void session.closed.then(() => {
      sessions.delete(session);
      metrics.connections.dec();
    });
  }

  const judgeAuth = createAuthJudge({
    policy: () => authPolicy,
    limiter: () => limiter,
    deadlines,
    deadlineMs,
    keyPrefix,
    metrics: authMetrics,
    throttle,
  });

  return {
    metrics,
    listening: boundAddress,
    authListening: authAddress,
    ready: () => listening && !draining,
    reload(rules) {
      policy = compilePolicy(rules);
      leases.clear();
      authPolicy = compileAuthPolicy(rules.auth);
      metrics.rules.set(policy.rules.length);
      log.info({ rules: policy.rules.map((r) => r.name), authRules: authPolicy.rules.map((r) => r.name), defaultAction: policy.failOpen.reply }, 'policy rules reloaded');
    },
    redirect(next) {
      const same = next.host === redis.host && next.port === redis.port && next.password === redis.password && next.username === redis.username
        && next.tls?.ca === redis.tls?.ca && next.tls?.servername === redis.tls?.servername;
      if (same) return;
      redis = next;
      log.info({ redis: `${next.host}:${next.port}` }, 'redis moved, reconnecting');
      const old = limiter;
      if (old === undefined || draining) return;
      // The old connection goes first, so its last word on the gauge (down) comes before the new one's (up).
      void old.close();
      limiter = newLimiter();
    },
    async start(signal) {
      limiter = newLimiter();
      const server: Server = createServer({ noDelay: true, highWaterMark: SOCKET_HIGH_WATER_MARK }, accept);
      try {
        server.listen(opts.listen.port, opts.listen.host);
        await once(server, 'listening');
      } catch (err) {
        failedToBind(err);
        await limiter.close();
        throw err;
      }
      server.on('error', (err) => log.error({ err: err.message }, 'policy listener error'));
      let authListener: AuthListener | undefined;
      if (opts.auth === undefined) authFailed(new Error('no auth policy listener asked for'));
      else {
        try {
          authListener = await startAuthListener({
            listen: opts.auth.listen,
            apiKey: opts.auth.apiKey,
            judge: judgeAuth,
            metrics: authMetrics,
            throttle,
            ...(opts.auth.tuning ? { tuning: opts.auth.tuning } : {}),
            ...(opts.auth.tlsNames ? { tls: { names: opts.auth.tlsNames, onRenewalError: (err: unknown) => log.error({ err: errorMessage(err) }, 'auth policy TLS certificate renewal failed') } } : {}),
          });
        } catch (err) {
          authFailed(err);
          failedToBind(err);
          server.close();
          await limiter.close();
          throw err;
        }
        authBound(authListener.address);
      }
      const address = server.address() as AddressInfo;
      listening = true;
      bound({ host: address.address, port: address.port });
      log.info({ listen: `${address.address}:${address.port}`, authListen: authListener ? `${authListener.address.host}:${authListener.address.port}` : undefined, authRules: authPolicy.rules.map((r) => r.name), redis: `${redis.host}:${redis.port}`, keyPrefix, deadlineMs: opts.deadlineMs ?? DEADLINE_MS, rules: policy.rules.map((r) => r.name), defaultAction: policy.failOpen.reply }, 'policy server listening');
      // One sweep enforces every session's deadlines: no timer per session, none restarted per byte.
      const sweeper = setInterval(() => {
        const now = Date.now();
        for (const s of sessions) s.tick(now);
      }, SWEEP_MS);
      sweeper.unref();

      if (!signal.aborted) await once(signal, 'abort');
      draining = true;
      const authClosed = authListener?.close();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const allClosed = (): Promise<unknown> => Promise.all([...sessions].map((s) => s.closed));
      for (const s of sessions) s.close();
      await Promise.race([allClosed(), delay(tuning.closeGraceMs, undefined, { ref: false })]);
      for (const s of sessions) s.destroy();
      await allClosed();
      await stopped;
      await authClosed;
      clearInterval(sweeper);
      deadlines.clear();
      await limiter.close();
      log.info('policy server stopped');
    },
  };
}
