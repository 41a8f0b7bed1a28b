/**
 * The Postfix exporter: log lines in (from whatever reads them: the CLI's file follower, or the agent
 * that already relays the daemon's stdout), metrics out in the caller's registry; the queue is read
 * from showq when the registry is scraped.
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import { parsePostfixLogLine, POSTSCREEN_ACTIONS, type PostfixLogEvent } from '../protocol/index.ts';
import { capped, relayLabel, type LabelBound } from './labels.ts';
import { createPostfixLogMetrics, type PostfixLogMetrics } from './postfix-metrics.ts';
import { createQueueMetrics, type QueueMetrics, type QueueReadOptions } from './queue.ts';
import { createTallies } from './tally.ts';

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

/** A per-key cache of a histogram's children (prom-client builds one on every `labels()` call). */
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
  const tallies = createTallies();
  const m = createPostfixLogMetrics(options.registry, () => tallies.flush());
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
  const dnsbl = bound();
  // Every action's series exists from the start (0), so a rate over it reads 0 rather than nothing before the first
  // event; on an msa, which runs no postscreen, they stay 0.
  for (const action of POSTSCREEN_ACTIONS) m.postscreenActions.inc({ action }, 0);

  const delays = cache((transport) => STAGES.map((stage) => m.delay.labels(transport, stage)));
  const count = {
    lines: tallies.one(m.lines, 'service'),
    unsupported: tallies.two(m.unsupported, ['service', 'level']),
    truncated: tallies.one(m.truncated, 'service'),
    smtpdConnects: tallies.plain(m.smtpdConnects),
    smtpdDisconnects: tallies.plain(m.smtpdDisconnects),
    smtpdLost: tallies.one(m.smtpdLost, 'after_stage'),
    smtpdMessages: tallies.one(m.smtpdMessages, 'sasl_method'),
    smtpdRejects: tallies.two(m.smtpdRejects, ['stage', 'code']),
    smtpdSaslFailures: tallies.plain(m.smtpdSaslFailures),
    smtpdTls: tallies.two(m.smtpdTls, ['protocol', 'cipher']),
    smtpdFcrdns: tallies.plain(m.smtpdFcrdns),
    deliveries: tallies.two(m.deliveries, ['transport', 'status']),
    deferred: tallies.three(m.deferred, ['transport', 'dsn', 'relay']),
    bounced: tallies.three(m.bounced, ['transport', 'dsn', 'relay']),
    smtpTls: tallies.three(m.smtpTls, ['trust', 'protocol', 'cipher']),
    smtpTimeouts: tallies.plain(m.smtpTimeouts),
    qmgrInserted: tallies.plain(m.qmgrInserted),
    qmgrRemoved: tallies.plain(m.qmgrRemoved),
    qmgrExpired: tallies.plain(m.qmgrExpired),
    cleanupProcessed: tallies.plain(m.cleanupProcessed),
    cleanupRejected: tallies.plain(m.cleanupRejected),
    cleanupNotAccepted: tallies.plain(m.cleanupNotAccepted),
    bounceNotifications: tallies.plain(m.bounceNotifications),
    milterFailures: tallies.two(m.milterFailures, ['stage', 'reason']),
    postscreenActions: tallies.one(m.postscreenActions, 'action'),
    postscreenRejects: tallies.two(m.postscreenRejects, ['reason', 'code']),
    dnsblListings: tallies.one(m.dnsblListings, 'domain'),
  };

  function record(event: PostfixLogEvent): void {
    switch (event.kind) {
      case 'smtpd-connect':
        return count.smtpdConnects();
      case 'smtpd-disconnect':
        return count.smtpdDisconnects();
      case 'smtpd-lost-connection':
        return count.smtpdLost(event.afterStage);
      case 'smtpd-message':
        return count.smtpdMessages(event.saslMethod === undefined ? 'none' : sasl(event.saslMethod));
      case 'smtpd-action':
        if (event.action === 'reject' || event.action === 'milter-reject') count.smtpdRejects(event.stage, event.code === undefined ? 'none' : code(event.code));
        return;
      case 'smtpd-sasl-failure':
        return count.smtpdSaslFailures();
      case 'smtpd-tls':
        return count.smtpdTls(protocol(event.protocol), cipher(event.cipher));
      case 'smtpd-fcrdns-error':
        return count.smtpdFcrdns();
      case 'delivery': {
        count.deliveries(event.transport, event.status);
        if (event.status === 'deferred' || event.status === 'bounced') {
          const tally = event.status === 'deferred' ? count.deferred : count.bounced;
          tally(event.transport, event.dsn === undefined ? 'none' : dsn(event.dsn), relay(event.relay));
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
        return count.smtpTls(event.trust, protocol(event.protocol), cipher(event.cipher));
      case 'smtp-connect-failed':
        if (event.timedOut) count.smtpTimeouts();
        return;
      case 'qmgr-insert':
        count.qmgrInserted();
        m.qmgrRecipients.observe(event.recipients);
        m.qmgrSize.observe(event.size);
        return;
      case 'qmgr-removed':
        return count.qmgrRemoved();
      case 'qmgr-expired':
        return count.qmgrExpired();
      case 'cleanup-message':
        if (!event.resent) count.cleanupProcessed();
        return;
      case 'cleanup-reject':
        // The client got it at the end of DATA: a reject of that stage too. cleanup logs the DSN only, so the
        // code is its class (4xx, 5xx).
        count.smtpdRejects(event.stage, event.dsn === undefined ? 'none' : `${event.dsn[0]}xx`);
        return count.cleanupRejected();
      case 'cleanup-not-accepted':
        return count.cleanupNotAccepted();
      case 'bounce-notification':
        if (event.notification.endsWith('non-delivery')) count.bounceNotifications();
        return;
      case 'milter-failure':
        return count.milterFailures(event.stage, event.reason);
      case 'postscreen-action':
        return count.postscreenActions(event.action);
      case 'postscreen-reject':
        return count.postscreenRejects(event.reason, event.code === undefined ? 'none' : code(event.code));
      case 'postscreen-dnsbl-rank':
        m.postscreenDnsblRank.observe(event.rank);
        return;
      case 'dnsbl-listed':
        return count.dnsblListings(dnsbl(event.domain));
      case 'unsupported':
        return count.unsupported(event.service, event.level);
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
      count.lines(event.service);
      if (event.truncated) count.truncated(event.service);
      try {
        record(event);
      } catch {
        // A metric operation failed (a histogram refusing a value): the line counts as not understood.
        count.unsupported(event.service, event.level);
      }
    },
  };
}

type DelayChild = ReturnType<PostfixLogMetrics['delay']['labels']>;
