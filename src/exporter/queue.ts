/**
 * Queue metrics, read from Postfix's showq socket when the registry is scraped (prom-client `collect`),
 * at most once per `cacheMs`. A read has a deadline and a byte bound; a failed read never fails the
 * scrape: it counts in `mailfleet_postfix_queue_scrape_errors_total` and the previous values stay.
 */
import { Counter, Gauge, Histogram, type Registry } from '../metrics/index.ts';
import { readShowq } from './showq-reader.ts';

/** The queues Postfix has; each is always present once a read succeeded (0 when empty). */
export const POSTFIX_QUEUES = ['maildrop', 'incoming', 'active', 'deferred', 'hold'] as const;
export type PostfixQueue = (typeof POSTFIX_QUEUES)[number];

/** How long a read of the queue is reused by later scrapes. */
export const DEFAULT_QUEUE_CACHE_MS = 5_000;
/** Deadline of one showq read. */
export const DEFAULT_SHOWQ_TIMEOUT_MS = 5_000;
/** Most bytes read from showq at once (about 300,000 queued messages). */
export const DEFAULT_SHOWQ_MAX_BYTES = 64 * 1024 * 1024;

const AGE_BUCKETS_SECONDS = [60, 300, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400, 172_800, 432_000];
const SIZE_BUCKETS_BYTES = [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

export interface QueueReadOptions {
  /** Reuse a read for this long. Default {@link DEFAULT_QUEUE_CACHE_MS}. */
  readonly queueCacheMs?: number;
  /** Deadline of one showq read. Default {@link DEFAULT_SHOWQ_TIMEOUT_MS}. */
  readonly showqTimeoutMs?: number;
  /** Byte bound of one showq read. Default {@link DEFAULT_SHOWQ_MAX_BYTES}. */
  readonly showqMaxBytes?: number;
}

export interface QueueMetrics {
  /** Reads showq now unless a read is younger than the cache time (or one is running); never rejects. */
  refresh(): Promise<void>;
  readonly errors: Counter;
}

/** One read, gathered before any metric changes, so that a failed read leaves the previous values. */
interface Census {
  count: Record<PostfixQueue, number>;
  bytes: Record<PostfixQueue, number>;
  oldest: Record<PostfixQueue, number>;
  queue: number[];
  age: number[];
  size: number[];
}

function census(): Census {
  const zero = (): Record<PostfixQueue, number> => ({ maildrop: 0, incoming: 0, active: 0, deferred: 0, hold: 0 });
  return { count: zero(), bytes: zero(), oldest: zero(), queue: [], age: [], size: [] };
}

export interface QueueSource {
  readonly showqPath?: string;
  readonly now: () => number;
  /** Told why a read failed (it is counted either way). */
  readonly onError?: (err: unknown) => void;
}

export function createQueueMetrics(registry: Registry, options: QueueReadOptions & QueueSource): QueueMetrics {
  const registers = [registry];
  const cacheMs = options.queueCacheMs ?? DEFAULT_QUEUE_CACHE_MS;
  let lastRead = -Infinity;
  let running: Promise<void> | undefined;

  const collect = async (): Promise<void> => refresh();
  const gauge = (name: string, help: string) => new Gauge({ name: `mailfleet_postfix_queue_${name}`, help, labelNames: ['queue'], registers, collect });
  const messages = gauge('messages', 'Messages in each Postfix queue (maildrop, incoming, active, deferred, hold).');
  const bytes = gauge('size_bytes', 'Bytes of the messages in each Postfix queue.');
  const oldest = gauge('oldest_message_age_seconds', 'Age of the oldest message in each Postfix queue (0 when empty).');
  const ageHistogram = new Histogram({
    name: 'mailfleet_postfix_queue_message_age_seconds',
    help: 'Age of the messages in each Postfix queue at the last read.',
    labelNames: ['queue'],
    buckets: AGE_BUCKETS_SECONDS,
    registers,
    collect,
  });
  const sizeHistogram = new Histogram({
    name: 'mailfleet_postfix_queue_message_size_bytes',
    help: 'Size of the messages in each Postfix queue at the last read.',
    labelNames: ['queue'],
    buckets: SIZE_BUCKETS_BYTES,
    registers,
    collect,
  });
  const errors = new Counter({
    name: 'mailfleet_postfix_queue_scrape_errors_total',
    help: 'Reads of the Postfix queue (showq) that failed: unreachable, too slow, too large or malformed.',
    registers,
    collect,
  });

  function apply(c: Census): void {
    ageHistogram.reset();
    sizeHistogram.reset();
    for (const queue of POSTFIX_QUEUES) {
      messages.labels(queue).set(c.count[queue]);
      bytes.labels(queue).set(c.bytes[queue]);
      oldest.labels(queue).set(c.oldest[queue]);
      ageHistogram.zero({ queue });
      sizeHistogram.zero({ queue });
    }
    const ages = POSTFIX_QUEUES.map((queue) => ageHistogram.labels(queue));
    const sizes = POSTFIX_QUEUES.map((queue) => sizeHistogram.labels(queue));
    for (let i = 0; i < c.queue.length; i++) {
      const q = c.queue[i] as number;
      ages[q]?.observe(c.age[i] as number);
      sizes[q]?.observe(c.size[i] as number);
    }
  }

  async function read(path: string): Promise<void> {
    const nowSeconds = options.now() / 1000;
    const c = census();
    try {
      await readShowq(path, { timeoutMs: options.showqTimeoutMs ?? DEFAULT_SHOWQ_TIMEOUT_MS, maxBytes: options.showqMaxBytes ?? DEFAULT_SHOWQ_MAX_BYTES }, (message) => {
        const index = POSTFIX_QUEUES.indexOf(message.queueName as PostfixQueue);
        if (index === -1) return;
        const queue = POSTFIX_QUEUES[index] as PostfixQueue;
        const age = Math.max(0, nowSeconds - message.arrivalTime);
        c.count[queue]++;
        c.bytes[queue] += message.size;
        if (age > c.oldest[queue]) c.oldest[queue] = age;
        c.queue.push(index);
        c.age.push(age);
        c.size.push(message.size);
      });
    } catch (err) {
      errors.inc();
      options.onError?.(err);
      return;
    }
    apply(c);
  }

  function refresh(): Promise<void> {
    const path = options.showqPath;
    if (path === undefined) return Promise.resolve();
    if (running !== undefined) return running;
    if (options.now() - lastRead < cacheMs) return Promise.resolve();
    lastRead = options.now();
    running = read(path).finally(() => {
      running = undefined;
    });
    return running;
  }

  return { refresh, errors };
}
