import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { POLICY_STAGES } from './evaluate.ts';

/** Why a request got the default action instead of a judgement. */
export type FailOpenReason = 'redis_down' | 'timeout' | 'overload' | 'error';

/**
 * Why the server closed a client connection that had broken no rule: the idle one that made room for a newcomer at
 * the connection cap (`idle_at_cap`), a newcomer turned away at the cap with none idle (`refused_at_cap`), one of
 * those holding most when all together held more than the budget of undecoded requests and unread replies
 * (`held_budget`).
 */
export type ShedReason = 'idle_at_cap' | 'refused_at_cap' | 'held_budget';

export interface PolicyMetrics {
  readonly registry: Registry;
  /** Counts one answered request and its time from complete request to reply. */
  answered(stage: string, verb: string, rule: string, seconds: number): void;
  failOpen(reason: FailOpenReason): void;
  /** Counts a request passed on allowance lent ahead (leases.ts), without asking Redis. */
  leased(): void;
  protocolError(code: string): void;
  /** Counts `count` connections closed for `reason`. */
  shed(reason: ShedReason, count?: number): void;
  redisUp(up: boolean): void;
  connections: Gauge;
  rules: Gauge;
}

/** Latency buckets: a judged request takes a Redis round trip (a fraction of a millisecond); 0.1 s is the default deadline. */
const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** The policy server's metrics, in their own registry (the caller may pass one). */
export function createPolicyMetrics(registry = new Registry()): PolicyMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'mailfleet_policy_requests_total',
    help: 'Policy requests answered, by protocol stage, action (DUNNO when no limit was hit) and the rule that decided ("" for none).',
    labelNames: ['stage', 'action', 'rule'],
    registers,
  });
  const duration = new Histogram({
    name: 'mailfleet_policy_request_duration_seconds',
    help: 'Time from a complete policy request to its reply being written.',
    buckets: DURATION_BUCKETS,
    registers,
  });
  const failOpen = new Counter({
    name: 'mailfleet_policy_fail_open_total',
    help: 'Requests answered with the default action because they could not be judged: Redis down, past the deadline, too many in flight, or a script error.',
    labelNames: ['reason'],
    registers,
  });
  const protocolErrors = new Counter({
    name: 'mailfleet_policy_protocol_errors_total',
    help: 'Connections closed without a reply because the client broke the protocol (malformed, oversized, or too slow a request).',
    labelNames: ['code'],
    registers,
  });
  const shed = new Counter({
    name: 'mailfleet_policy_connections_shed_total',
    help: 'Client connections the server closed to protect itself: the idle one making room at the connection cap, a newcomer turned away there, or those holding most past the budget of undecoded requests and unread replies.',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of ['idle_at_cap', 'refused_at_cap', 'held_budget']) shed.inc({ reason }, 0);
  const leased = new Counter({
    name: 'mailfleet_policy_leased_total',
    help: 'Requests passed on allowance Redis lent this server ahead (counted there when lent), without a round trip.',
    registers,
  });
  const redisUp = new Gauge({ name: 'mailfleet_policy_redis_up', help: 'Whether the connection to Redis is ready (1) or not (0).', registers });
  const connections = new Gauge({ name: 'mailfleet_policy_connections', help: 'Open policy client connections.', registers });
  const rules = new Gauge({ name: 'mailfleet_policy_rules', help: 'Rules in force.', registers });
  for (const reason of ['redis_down', 'timeout', 'overload', 'error']) failOpen.inc({ reason }, 0);
  redisUp.set(0);
  // Children cached by label values: the label lookup is the dearest part of counting a request.
  const children = new Map<string, Counter.Internal>();
  return {
    registry,
    answered(stage, verb, rule, seconds) {
      const s = POLICY_STAGES.has(stage) ? stage : 'other';
      const id = `${s}\u0000${verb}\u0000${rule}`;
      let child = children.get(id);
      if (!child) {
        child = requests.labels({ stage: s, action: verb, rule });
        children.set(id, child);
      }
      child.inc();
      duration.observe(seconds);
    },
    failOpen: (reason) => failOpen.inc({ reason }),
    leased: () => leased.inc(),
    protocolError: (code) => protocolErrors.inc({ code }),
    shed: (reason, count = 1) => shed.inc({ reason }, count),
    redisUp: (up) => redisUp.set(up ? 1 : 0),
    connections,
    rules,
  };
}
