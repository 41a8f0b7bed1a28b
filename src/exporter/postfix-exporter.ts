/**
 * The Postfix exporter: log lines in (from whatever reads them: the CLI's file follower, or the agent
 * that already relays the daemon's stdout), metrics out in the caller's registry; the queue is read
 * from showq when the registry is scraped.
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import { parsePostfixLogLine, type PostfixLogEvent } from '../protocol/index.ts';
import { capped, relayLabel, type LabelBound } from './labels.ts';
import { createPostfixLogMetrics, type PostfixLogMetrics } from './postfix-metrics.ts';
import { createQueueMetrics, type QueueMetrics, type QueueReadOptions } from './queue.ts';

/** Distinct next hops kept as `relay` label values; the rest are `other`. */
export const DEFAULT_MAX_RELAYS = 100;
/** Distinct values kept for each other label read from log text (DSN, reply code, cipher, SASL method). */
export const DEFAULT_MAX_LABEL_VALUES = 50;

export interface PostfixExporterOptions extends QueueReadOptions {
  /** Where every metric is registered (the agent's registry, or one of the exporter's own). */
  readonly registry: Registry;
  /** showq's socket (`<queue_directory>/public/showq`); without it no queue metric has a value. */
  readonly showqPath?: string;
  /** Wall clock in ms (for message ages and the queue cache). Default `Date.now`. */
  readonly now?: () => number;
  /** Told (at warn) why a read of the queue failed. Default: nobody. */
  readonly log?: Logger;
  /** Distinct `relay` label values. Default {@link DEFAULT_MAX_RELAYS}. */
  readonly maxRelays?: number;
  /** Distinct values of each other label read from log text. Default {@link DEFAULT_MAX_LABEL_VALUES}. */
  readonly maxLabelValues?: number;
}

export interface PostfixExporter {
  /** One log line without its terminator (a string, or the bytes as read). Never throws. */
  line(text: string | Uint8Array): void;
  /** The metrics of the log lines, for tests and the agent's own bookkeeping. */
  readonly metrics: PostfixLogMetrics;
  /** The queue metrics (read from showq at scrape time). */
  readonly queue: QueueMetrics;
}

const STAGES = ['before_qmgr', 'in_qmgr', 'conn_setup', 'transmission'] as const;

/** A per-key cache of a metric's children: prom-client hashes the label set on every `labels()` call. */
function cache<T>(make: (key: string) => T): (key: string) => T {
  const children = new Map<string, T>();
  return (key) => {
    let child = children.get(key);
    if (child === undefined) {
      child = make(key);
      children.set(key, child);
    }
    return child;
  };
}

export function createPostfixExporter(options: PostfixExporterOptions): PostfixExporter {
  const m = createPostfixLogMetrics(options.registry);
  const { log } = options;
  const queue = createQueueMetrics(options.registry, {
    ...options,
    now: options.now ?? Date.now,
    ...(log === undefined ? {} : { onError: (err: unknown) => log.warn({ err, showq: options.showqPath }, 'postfix queue read failed') }),
  });
  const maxValues = options.maxLabelValues ?? DEFAULT_MAX_LABEL_VALUES;
  const bound = (): LabelBound => capped(maxValues);
  const relay = relayLabel(capped(options.maxRelays ?? DEFAULT_MAX_RELAYS));
  const dsn = bound();
  const code = bound();
  const cipher = bound();
  const protocol = bound();
  const sasl = bound();

  const lines = cache((service) => m.lines.labels(service));
  const deliveries = cache((key) => m.deliveries.labels(...(key.split(' ') as [string, string])));
  const delays = cache((transport) => STAGES.map((stage) => m.delay.labels(transport, stage)));

  function count(event: PostfixLogEvent): void {
    switch (event.kind) {
      case 'smtpd-connect':
        return m.smtpdConnects.inc();
      case 'smtpd-disconnect':
        return m.smtpdDisconnects.inc();
      case 'smtpd-lost-connection':
        return m.smtpdLost.labels(event.afterStage).inc();
      case 'smtpd-message':
        return m.smtpdMessages.labels(event.saslMethod === undefined ? 'none' : sasl(event.saslMethod)).inc();
      case 'smtpd-action':
        if (event.action === 'reject' || event.action === 'milter-reject') m.smtpdRejects.labels(event.stage, event.code === undefined ? 'none' : code(event.code)).inc();
        return;
      case 'smtpd-sasl-failure':
        return m.smtpdSaslFailures.inc();
      case 'smtpd-tls':
        return m.smtpdTls.labels(protocol(event.protocol), cipher(event.cipher)).inc();
      case 'smtpd-fcrdns-error':
        return m.smtpdFcrdns.inc();
      case 'delivery': {
        deliveries(`${event.transport} ${event.status}`).inc();
        if (event.status === 'deferred' || event.status === 'bounced') {
          const counter = event.status === 'deferred' ? m.deferred : m.bounced;
          counter.labels(event.transport, event.dsn === undefined ? 'none' : dsn(event.dsn), relay(event.relay)).inc();
        }
        if (event.delays !== undefined && event.status !== 'deferred') {
          const [a, b, c, d] = delays(event.transport) as [DelayChild, DelayChild, DelayChild, DelayChild];
          a.observe(event.delays.beforeQmgr);
          b.observe(event.delays.inQmgr);
          c.observe(event.delays.connSetup);
          d.observe(event.delays.transmission);
        }
        return;
      }
      case 'smtp-tls':
        return m.smtpTls.labels(event.trust, protocol(event.protocol), cipher(event.cipher)).inc();
      case 'smtp-connect-failed':
        if (event.timedOut) m.smtpTimeouts.inc();
        return;
      case 'qmgr-insert':
        m.qmgrInserted.inc();
        m.qmgrRecipients.observe(event.recipients);
        m.qmgrSize.observe(event.size);
        return;
      case 'qmgr-removed':
        return m.qmgrRemoved.inc();
      case 'qmgr-expired':
        return m.qmgrExpired.inc();
      case 'cleanup-message':
        if (!event.resent) m.cleanupProcessed.inc();
        return;
      case 'cleanup-reject':
        return m.cleanupRejected.inc();
      case 'cleanup-not-accepted':
        return m.cleanupNotAccepted.inc();
      case 'bounce-notification':
        if (event.notification.endsWith('non-delivery')) m.bounceNotifications.inc();
        return;
      case 'unsupported':
        return m.unsupported.labels(event.service, event.level).inc();
      default:
        // Understood, and no metric of its own (pickup, master, postsuper, statistics, timeouts, …).
        return;
    }
  }

  return {
    metrics: m,
    queue,
    line(text) {
      let event: PostfixLogEvent;
      try {
        event = parsePostfixLogLine(text);
      } catch {
        event = { service: 'unknown', level: 'info', truncated: false, kind: 'unsupported' };
      }
      try {
        lines(event.service).inc();
        if (event.truncated) m.truncated.labels(event.service).inc();
        count(event);
      } catch {
        // A metric operation failed (a label the registry refuses): the line still counts, as not understood.
        try {
          m.unsupported.labels(event.service, event.level).inc();
        } catch {
          // Nothing more to do: never let one line stop the others.
        }
      }
    },
  };
}

type DelayChild = ReturnType<PostfixLogMetrics['delay']['labels']>;
