/** What one prober works with: where it dials, as whom, whom it trusts, and its pace. */
import type { TlsMode } from '../protocol/index.ts';
import type { ProbePath } from '../spec/index.ts';

export interface Endpoint {
  host: string;
  port: number;
}

/** Where one cycle dials. A path without an endpoint (its role has no running instance now) fails at `connect`. */
export interface ProbeTargets {
  /** Submission: implicit TLS on 465 by default, STARTTLS on 587 when `msaTls` says so. */
  msa?: Endpoint;
  /** Inbound MX, STARTTLS on 25. */
  mta?: Endpoint;
  /** IMAP with implicit TLS (993) through the proxy. */
  imap?: Endpoint;
  /** POP3 with implicit TLS (995) through the proxy. */
  pop3?: Endpoint;
}

/** The endpoints a prober dials, named as the certificate metric and the logs name them. */
export const ENDPOINTS = ['msa', 'mta', 'imap', 'pop3'] as const;
export type EndpointName = (typeof ENDPOINTS)[number];

export interface ProbeSettings {
  /** The instance (pod) name: in every tag, and the `instance` label of the metrics. */
  instance: string;
  /** The paths every cycle runs. */
  paths: readonly ProbePath[];
  /** The account mail goes to and the msa path authenticates as; IMAP and POP3 log in as it. */
  account: { address: string; password: string };
  tls: {
    /** PEM certificates to trust; undefined: Node's bundled roots. */
    ca?: string;
    /** SNI name sent and verified on every endpoint (a name on the platform's certificate); default: the host dialled. */
    servername?: string;
    /** TLS mode of the msa endpoint: implicit (465, default) or starttls (587). */
    msaMode: TlsMode;
  };
  /** Name sent with EHLO. */
  heloName: string;
  /** From the start of one cycle to the start of the next. */
  intervalMs: number;
  /** Deadline of each stage. */
  timeoutMs: number;
}

/** Stages of a path, in order: the names of `mailfleet_probe_stage_duration_seconds{stage}` and of failures. */
export const STAGES = ['connect', 'smtp', 'delivery_imap', 'fetch_imap', 'delivery_pop3', 'fetch_pop3'] as const;
export type Stage = (typeof STAGES)[number];

/** Probe messages older than this many intervals are stale (a crashed or failed cycle's) and removed. */
export const STALE_AFTER_INTERVALS = 3;

/**
 * How old a probe message must be before any prober removes it: a few intervals, and never less than the
 * longest a cycle of another prober (a second replica during a rollout) may still be working on its own.
 */
export function staleAfterMs(settings: Pick<ProbeSettings, 'intervalMs' | 'timeoutMs'>): number {
  return Math.max(STALE_AFTER_INTERVALS * settings.intervalMs, settings.intervalMs + (STAGES.length + 1) * settings.timeoutMs);
}
