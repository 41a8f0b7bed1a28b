/**
 * The two exporters under test: how to start each on a log file, how to know it will see every line appended
 * from then on, and how many lines its /metrics says it has read.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { scrape, total, type Families } from './metrics.ts';

/** Loopback addresses of the bench (pool 127.116.0.0/16). */
export const ANCHOR_ADDRESS = { host: '127.116.0.1', port: 9154 };
export const MAILFLEET_ADDRESS = { host: '127.116.0.2', port: 9155 };

const ANCHOR_BINARY = '/usr/bin/prometheus-postfix-exporter';
const MAILFLEET = fileURLToPath(new URL('../../bin/mailfleet', import.meta.url));
const READY_POLL_MS = 20;

export interface Exporter {
  /** Its name in the tables. */
  name: string;
  host: string;
  port: number;
  /** The command line that reads `log` and serves /metrics on host:port. */
  command(log: string, dir: string): string[];
  /** Resolves once every line appended to `log` from now on will be read; `signal` aborts the wait. */
  ready(pid: number, log: string, signal: AbortSignal): Promise<void>;
  /** Lines read so far, from the exporter's own /metrics. */
  linesSeen(metrics: Families): number;
}

/**
 * prometheus-postfix-exporter (Debian package, kumina/postfix_exporter 0.3.0). Its file source (hpcloud/tail)
 * opens the log, seeks to its end and only then, at the end, asks inotify to watch it: the watch on the log's
 * inode (`/proc/PID/fdinfo` of its inotify descriptor) is the sign that the seek is behind it. The showq path
 * leads nowhere, so no Postfix queue is read; it listens only on the bench's loopback address.
 */
export const anchor: Exporter = {
  name: 'prometheus-postfix-exporter',
  ...ANCHOR_ADDRESS,
  command: (log, dir) => [
    ANCHOR_BINARY,
    `--web.listen-address=${ANCHOR_ADDRESS.host}:${ANCHOR_ADDRESS.port}`,
    `--postfix.logfile_path=${log}`,
    `--postfix.showq_path=${join(dir, 'no-showq')}`,
  ],
  async ready(pid, log, signal) {
    const inode = statSync(log).ino;
    while (!watchesInode(pid, inode)) {
      signal.throwIfAborted();
      await delay(READY_POLL_MS, undefined, { signal });
    }
  },
  linesSeen: anchorLines,
};

/** Whether one of `pid`'s inotify descriptors watches `inode`. */
function watchesInode(pid: number, inode: number): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:inotify') continue;
      const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      for (const m of info.matchAll(/^inotify wd:\S+ ino:([0-9a-f]+) /gm)) if (parseInt(m[1] as string, 16) === inode) return true;
    } catch {
      // the descriptor closed while we looked
    }
  }
  return false;
}

/** Counters the anchor increments for a line it has already counted elsewhere (a deferred SMTP delivery). */
const ANCHOR_SECOND_COUNT = new Set(['postfix_smtp_status_deferred', 'postfix_smtp_deferred_messages_total']);

/**
 * Lines the anchor has read. Its CollectFromLogLine takes each line down exactly one branch: a counter increment,
 * or four delay observations (lmtp, smtp, pipe: one per stage), or one qmgr insert (size and recipient
 * histograms), or `unsupported_log_entries_total`. So the lines are the sum of its log counters, a quarter of
 * its delay observations and its qmgr size observations.
 */
export function anchorLines(m: Families): number {
  let lines = 0;
  for (const f of m.values()) {
    if (!/^(postfix|opendkim)_/.test(f.name)) continue;
    if (f.type === 'counter' && !ANCHOR_SECOND_COUNT.has(f.name)) lines += total(m, f.name) ?? 0;
    else if (/^postfix_(lmtp|smtp|pipe)_delivery_delay_seconds$/.test(f.name)) lines += (total(m, f.name) ?? 0) / 4;
    else if (f.name === 'postfix_qmgr_messages_inserted_size_bytes') lines += total(m, f.name) ?? 0;
  }
  return lines;
}

/**
 * mailfleet's exporter, through its CLI: `mailfleet exporter postfix --log FILE --from-start --listen HOST:PORT`.
 * Reading from the start of the file, it misses nothing appended after it starts; /metrics answering is enough.
 * `mailfleet_postfix_log_lines_total` counts every line it has read.
 */
export const mailfleet: Exporter = {
  name: 'mailfleet',
  ...MAILFLEET_ADDRESS,
  command: (log) => [MAILFLEET, 'exporter', 'postfix', '--log', log, '--from-start', '--listen', `${MAILFLEET_ADDRESS.host}:${MAILFLEET_ADDRESS.port}`],
  async ready(_pid, _log, signal) {
    for (;;) {
      signal.throwIfAborted();
      if (await scrape(MAILFLEET_ADDRESS.host, MAILFLEET_ADDRESS.port, 1000).then(() => true, () => false)) return;
      await delay(READY_POLL_MS, undefined, { signal });
    }
  },
  linesSeen: (m) => total(m, 'mailfleet_postfix_log_lines_total') ?? 0,
};

/**
 * Throws unless this checkout's CLI has the exporter command (its usage lists `mailfleet exporter`); running it
 * also builds dist/ when a source changed, outside any timed window.
 */
export function assertMailfleetHasExporter(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(MAILFLEET, ['--help'], { timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`bin/mailfleet --help failed: ${String(stderr).trim().split('\n').slice(-3).join(' ') || err.message}`));
      if (!/^\s*mailfleet exporter\b/m.test(String(stdout))) return reject(new Error('bin/mailfleet has no `exporter` command (mailfleet --help lists none); measure the anchor alone with --only anchor'));
      resolve();
    });
  });
}
