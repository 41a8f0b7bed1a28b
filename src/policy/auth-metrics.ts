import { Counter, Histogram, type Registry } from 'prom-client';
import type { FailOpenReason } from './metrics.ts';

/** Why a request to the auth policy listener got no judgement. */
export type AuthRefusalReason = 'unauthorized' | 'malformed' | 'timeout' | 'too_large' | 'not_found' | 'method' | 'draining';

export interface AuthPolicyMetrics {
  /** One answered request: its command, verdict and deciding rule, and its time. */
  answered(command: string, verdict: string, rule: string, seconds: number): void;
  /** A failed login counted against `rule`. */
  counted(rule: string): void;
  failOpen(reason: FailOpenReason): void;
  refused(reason: AuthRefusalReason): void;
}

const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** The auth policy listener's metrics, in the policy server's registry. */
export function createAuthPolicyMetrics(registry: Registry): AuthPolicyMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'mailfleet_policy_auth_requests_total',
    help: 'Dovecot auth policy requests answered, by command (allow, report), verdict (allow, reject, tarpit; reported) and the rule that decided ("" for none). Fail-open answers are allow.',
    labelNames: ['command', 'verdict', 'rule'],
    registers,
  });
  const duration = new Histogram({
    name: 'mailfleet_policy_auth_request_duration_seconds',
    help: 'Time from a complete auth policy request to its reply.',
    buckets: DURATION_BUCKETS,
    registers,
  });
  const failures = new Counter({
    name: 'mailfleet_policy_auth_failures_counted_total',
    help: 'Failed logins counted against each auth rule (a login rule counting distinct passwords counts a repeated one once).',
    labelNames: ['rule'],
    registers,
  });
  const failOpen = new Counter({
    name: 'mailfleet_policy_auth_fail_open_total',
    help: 'Auth policy requests answered allow (or not counted) because Redis could not be asked in time: down, past the deadline, too many in flight, or a script error.',
    labelNames: ['reason'],
    registers,
  });
  const refused = new Counter({
    name: 'mailfleet_policy_auth_refused_requests_total',
    help: 'Auth policy HTTP requests refused without a judgement: no or a wrong credential (401), malformed (400), too large (413), unknown path or command (404), wrong method (405), server stopping (503).',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of ['redis_down', 'timeout', 'overload', 'error']) failOpen.inc({ reason }, 0);
  for (const reason of ['unauthorized', 'malformed', 'timeout', 'too_large', 'not_found', 'method', 'draining']) refused.inc({ reason }, 0);
  for (const command of ['allow', 'report']) requests.inc({ command, verdict: command === 'allow' ? 'allow' : 'reported', rule: '' }, 0);
  return {
    answered(command, verdict, rule, seconds) {
      requests.inc({ command, verdict, rule });
      duration.observe(seconds);
    },
    counted: (rule) => failures.inc({ rule }),
    failOpen: (reason) => failOpen.inc({ reason }),
    refused: (reason) => refused.inc({ reason }),
  };
}
