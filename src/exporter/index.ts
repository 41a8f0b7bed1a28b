/**
 * Postfix metrics from the daemon's own log lines and its queue. `createPostfixExporter` takes lines
 * from whoever has them (the agent relaying Postfix's stdout, or the `mailfleet exporter postfix`
 * process following a file or stdin) and registers every metric in the registry it is given.
 */
export {
  DEFAULT_MAX_LABEL_VALUES,
  DEFAULT_MAX_RELAYS,
  createPostfixExporter,
  type PostfixExporter,
  type PostfixExporterOptions,
} from './postfix-exporter.ts';
export { DELAY_BUCKETS_SECONDS, type PostfixLogMetrics } from './postfix-metrics.ts';
export {
  DEFAULT_QUEUE_CACHE_MS,
  DEFAULT_SHOWQ_MAX_BYTES,
  DEFAULT_SHOWQ_TIMEOUT_MS,
  POSTFIX_QUEUES,
  type PostfixQueue,
  type QueueMetrics,
  type QueueReadOptions,
} from './queue.ts';
export { DEFAULT_POLL_MS, followFile, readLines, type FollowFileOptions } from './follow.ts';
