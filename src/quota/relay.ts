/**
 * The quota relay of a `proxy` instance: a Postfix policy service the MTAs ask at RCPT time whether a recipient's
 * mailbox has room. Quota is known only on the user's backend, and which backend serves a user is the director's
 * decision, so for each question it asks the local director (the LMTP router's lookup) and then that backend's
 * Dovecot quota-status, and passes the answer on: DUNNO when the message fits, the backend's refusal (`552 5.2.2`)
 * when it does not.
 *
 * It never stalls mail: every question is answered within `deadlineMs` of arriving, and whatever goes wrong on the
 * way (the director does not answer, the backend is down, slow or says something else) is answered DUNNO, the mail is
 * then accepted as it would be without the check; counted in `mailfleet_quota_relay_fail_open_total` and logged at
 * most once a minute per reason. The client side (framing, bounds, deadlines, hanging up on a broken request without
 * a reply) is the policy server's own session.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { longestIdle } from '../eviction.ts';
import type { BackendLookup } from '../lmtp/index.ts';
import type { Logger } from '../log.ts';
import type { Registry } from '../metrics/index.ts';
import { createLogThrottle } from '../policy/log-throttle.ts';
import { startSession, type Session, type SessionLimits } from '../policy/session.ts';
import { formatPolicyRequest, recipientUser, type PolicyRequest } from '../protocol/index.ts';
import { listenOn } from '../sockets.ts';
import { createQuotaBackends, type QuotaBackendOptions } from './backends.ts';
import { registerRelayMetrics, type FailOpenReason, type RelayAnswer } from './metrics.ts';
import { createRoomCache, HEADROOM_BYTES } from './room.ts';

export interface QuotaRelayOptions {
  /** Where the MTAs connect. */
  host: string;
  port: number;
  /** Which backend serves a user: the director, asked as the LMTP router asks it. */
  lookup: BackendLookup;
  /** The backends' quota-status port. */
  backendPort: number;
  /** Source address of backend connections, when the instance has its own. */
  localAddress?: string;
  /** From a complete question to its answer at most; past it, DUNNO. */
  deadlineMs: number;
  log: Logger;
  /** Where the `mailfleet_quota_relay_*` metrics are registered: the agent's registry. */
  registry: Registry;
  /** Tests shorten these; production takes the defaults below. */
  tuning?: Partial<RelayTuning>;
}

export interface RelayTuning {
  /** Client connections at most; past it a newcomer takes the place of the one idle longest, else it is closed. */
  maxConnections: number;
  session: SessionLimits;
  backends: Pick<QuotaBackendOptions, 'maxPerBackend' | 'idleMs'>;
  /** How long a backend's answer about a mailbox's room is believed, and for how many mailboxes (room.ts). */
  room: { ttlMs?: number; maxEntries?: number };
}

export interface QuotaRelay {
  /** The port it listens on (the one asked for, or the one given for port 0). */
  readonly port: number;
  /** Stops accepting, answers the questions in progress (within `budgetMs`, at most 2 s), then closes everything. */
  close(budgetMs: number): Promise<void>;
}

const TUNING: RelayTuning = {
  // One connection per smtpd process of every MTA that asked lately (Postfix keeps it up to 300 s idle).
  maxConnections: 1024,
  session: {
    // Postfix asks one question at a time per connection.
    maxPending: 4,
    requestTimeoutMs: 10_000,
    // Above Postfix's smtpd_policy_service_max_idle (300 s), so that Postfix closes first.
    idleTimeoutMs: 330_000,
    decoder: {},
  },
  // Each connection is one quota-status process on the backend; a question takes about a millisecond.
  backends: { maxPerBackend: 16, idleMs: 20_000 },
  room: {},
};

/** A connection idle this long may be closed to make room at the connection cap. */
const EVICT_IDLE_MS = 2000;
const SWEEP_MS = 1000;
const LOG_INTERVAL_MS = 60_000;
const CLOSE_GRACE_MS = 2000;
/** A `size` attribute as Postfix sends it (the client's SIZE=, else 0); anything else counts as 0. */
const SIZE = /^[0-9]{1,15}$/;
const MAX_SIZE_BYTES = 2 ** 40;
/** The share of the deadline a backend gets to answer in, counted from the question's arrival. */
const BACKEND_SHARE = 0.9;

type Outcome = { answer: Exclude<RelayAnswer, 'fail_open'>; action: string } | { reason: FailOpenReason; detail: string };

const DUNNO = 'DUNNO';
/** A refusal the MTA may pass on: a 5xx reply or REJECT. Anything temporary or permissive from the backend is not the relay's to give. */
const REFUSAL = /^(5[0-9][0-9]|REJECT)(\s|$)/i;

export async function startQuotaRelay(opts: QuotaRelayOptions): Promise<QuotaRelay> {
  const tuning = { ...TUNING, ...opts.tuning };
  const { log, lookup } = opts;
  const throttle = createLogThrottle(log, LOG_INTERVAL_MS);
  const backends = createQuotaBackends({ port: opts.backendPort, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}), ...tuning.backends });
  const metrics = registerRelayMetrics(opts.registry, { backendConnections: () => backends.open() });
  const sessions = new Set<Session>();
  const room = createRoomCache(tuning.room);
  let draining = false;

  /** One question to the user's backend about `bytes`: DUNNO, a refusal, or why it could not be asked. */
  async function askBackend(host: string, user: string, bytes: number, deadline: number): Promise<Outcome> {
    let request: Buffer;
    try {
      request = formatPolicyRequest({ protocol_state: 'RCPT', recipient: user, size: String(bytes) });
    } catch {
      return { reason: 'protocol', detail: 'recipient cannot be passed on' };
    }
    const reply = await backends.ask(host, request, deadline);
    if (reply.kind === 'failed') return { reason: reply.reason, detail: `${host}: ${reply.detail}` };
    if (reply.action.toUpperCase() === DUNNO) return { answer: 'dunno', action: DUNNO };
    if (REFUSAL.test(reply.action)) return { answer: 'reject', action: reply.action };
    return { reason: 'backend_error', detail: `${host} answered ${reply.action.slice(0, 120)}` };
  }

  /**
   * From the room remembered (room.ts), else the director, then the user's backend: first about the message and the
   * headroom, which lets the next ones be answered from memory, and only when that is refused about the message alone.
   * Never rejects.
   */
  async function ask(recipient: string, size: string, deadline: number): Promise<Outcome> {
    const user = recipientUser(recipient);
    const bytes = SIZE.test(size) ? Math.min(Number(size), MAX_SIZE_BYTES) : 0;
    if (room.take(user, bytes, Date.now())) return { answer: 'dunno', action: DUNNO };
    const found = await lookup.lookup(user);
    // The director knows every user its passdb does; one it does not know is the MTA's to refuse, not ours.
    if (found.kind === 'unknown') return { answer: 'dunno', action: DUNNO };
    if (found.kind === 'failed') return { reason: 'lookup', detail: found.reason };
    const padded = bytes + HEADROOM_BYTES;
    const roomy = await askBackend(found.host, user, padded, deadline);
    if ('answer' in roomy && roomy.answer === 'dunno') room.remember(user, padded, bytes, Date.now());
    if (!('answer' in roomy) || roomy.answer === 'dunno') return roomy;
    return askBackend(found.host, user, bytes, deadline);
  }

  function judge(request: PolicyRequest, answer: (action: string) => void): void {
    const started = performance.now();
    const finish = (kind: RelayAnswer, action: string): void => {
      metrics.answered(kind, (performance.now() - started) / 1000);
      answer(action);
    };
    const recipient = request.attributes.recipient;
    if (!recipient) return finish('dunno', DUNNO);
    let settled = false;
    const failOpen = (reason: FailOpenReason, detail: string): void => {
      metrics.failOpen(reason);
      throttle.warn(`fail-open-${reason}`, { reason, detail }, 'quota not checked, recipient let through');
      finish('fail_open', DUNNO);
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      failOpen('deadline', `no answer within ${opts.deadlineMs} ms`);
    }, opts.deadlineMs);
    timer.unref();
    // The backend gets most of the time and its own timeout, so a silent backend is told apart from a slow director;
    // the timer above is the backstop.
    void ask(recipient, request.attributes.size || '0', Date.now() + opts.deadlineMs * BACKEND_SHARE).then((outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if ('reason' in outcome) return failOpen(outcome.reason, outcome.detail);
      if (outcome.answer === 'reject' && log.isLevelEnabled('debug')) log.debug({ rcpt: recipient, size: request.attributes.size }, 'mailbox full, recipient refused');
      finish(outcome.answer, outcome.action);
    });
  }

  const sessionDeps = {
    limits: tuning.session,
    judge,
    protocolError(code: string, detail: Record<string, unknown>) {
      metrics.protocolError();
      throttle.warn(`protocol-${code}`, { code, ...detail }, 'quota relay client broke the protocol, disconnected without reply');
    },
    holding: () => {},
  };

  function accept(socket: Socket): void {
    if (draining) return void socket.destroy();
    if (sessions.size >= tuning.maxConnections) {
      const found = longestIdle(sessions, EVICT_IDLE_MS, Date.now());
      if (!found) {
        throttle.warn('connection-cap', { maxConnections: tuning.maxConnections }, 'quota relay connection cap reached and none idle: a new connection closed');
        return void socket.destroy();
      }
      found.item.destroy();
      sessions.delete(found.item);
    }
    const session = startSession(socket, { ...sessionDeps, log: log.child({ client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}` }) });
    sessions.add(session);
    metrics.connection(1);
    void session.closed.then(() => {
      sessions.delete(session);
      metrics.connection(-1);
    });
  }

  const server: Server = createServer({ noDelay: true }, accept);
  const port = await listenOn(server, opts.port, opts.host);
  server.on('error', (err) => log.error({ err: err.message }, 'quota relay listener error'));
  // One sweep enforces every session's deadlines: no timer per session, none restarted per byte.
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const s of sessions) s.tick(now);
  }, SWEEP_MS).unref();
  log.info({ listen: `${opts.host}:${port}`, backendPort: opts.backendPort, deadlineMs: opts.deadlineMs }, 'quota relay listening');

  return {
    port,
    async close(budgetMs) {
      if (draining) return;
      draining = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const allClosed = (): Promise<unknown> => Promise.all([...sessions].map((s) => s.closed));
      for (const s of sessions) s.close();
      await Promise.race([allClosed(), delay(Math.min(budgetMs, CLOSE_GRACE_MS), undefined, { ref: false })]);
      for (const s of sessions) s.destroy();
      await allClosed();
      await stopped;
      clearInterval(sweeper);
      backends.close();
      log.info('quota relay stopped');
    },
  };
}
