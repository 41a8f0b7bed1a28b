import { Counter, Gauge, Histogram, type Registry } from '../metrics/index.ts';
import type { BackendFailure } from './backends.ts';

/** What the relay answered: the backend's DUNNO (or no recipient to ask about), its refusal, or DUNNO because asking failed. */
export type RelayAnswer = 'dunno' | 'reject' | 'fail_open';

/** Why a question went unanswered: the director lookup, the backend (see {@link BackendFailure}), its answer, or the relay's deadline. */
export type FailOpenReason = 'lookup' | BackendFailure | 'backend_error' | 'deadline';

export const RELAY_ANSWERS: readonly RelayAnswer[] = ['dunno', 'reject', 'fail_open'];
export const FAIL_OPEN_REASONS: readonly FailOpenReason[] = ['lookup', 'connect', 'timeout', 'closed', 'protocol', 'busy', 'backend_error', 'deadline'];

export interface RelayMetrics {
  answered(answer: RelayAnswer, seconds: number): void;
  failOpen(reason: FailOpenReason): void;
  protocolError(): void;
  connection(delta: 1 | -1): void;
}

/** A counter whose label values are all exported from the start, at 0, so that dashboards find them before the first failure. */
function counter<L extends string>(registry: Registry, name: string, help: string, label?: { name: L; values: readonly string[] }): Counter<L> {
  const c = new Counter<L>({ name, help, labelNames: label ? [label.name] : [], registers: [registry] });
  if (label) for (const value of label.values) c.inc({ [label.name]: value } as Partial<Record<L, string>>, 0);
  return c;
}

/** Registers the relay's `mailfleet_quota_relay_*` metrics in `registry` (the proxy agent's). */
export function registerRelayMetrics(registry: Registry, read: { backendConnections: () => number }): RelayMetrics {
  const requests = counter(registry, 'mailfleet_quota_relay_requests_total', 'Quota questions from the MTAs by answer: dunno (fits, or nothing to ask), reject (the backend said the mailbox is full), fail_open (DUNNO because asking failed).', { name: 'answer', values: RELAY_ANSWERS });
  const failures = counter(registry, 'mailfleet_quota_relay_fail_open_total', 'Quota questions answered DUNNO because asking failed, by reason.', { name: 'reason', values: FAIL_OPEN_REASONS });
  const protocolErrors = counter(registry, 'mailfleet_quota_relay_protocol_errors_total', 'Client connections hung up on for breaking the policy protocol.');
  const duration = new Histogram({
    name: 'mailfleet_quota_relay_request_duration_seconds',
    help: 'Time from a complete question to its answer.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [registry],
  });
  const connections = new Gauge({ name: 'mailfleet_quota_relay_connections', help: 'Open client connections (one per MTA smtpd process that asked lately).', registers: [registry] });
  new Gauge({
    name: 'mailfleet_quota_relay_backend_connections',
    help: 'Open connections to the backends\' quota-status, in use or idle.',
    registers: [registry],
    collect() {
      this.set(read.backendConnections());
    },
  });
  return {
    answered(answer, seconds) {
      requests.inc({ answer });
      duration.observe(seconds);
    },
    failOpen: (reason) => failures.inc({ reason }),
    protocolError: () => protocolErrors.inc(),
    connection: (delta) => connections.inc(delta),
  };
}
