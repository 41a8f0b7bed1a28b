/**
 * Host pack: the machines under the platform, from node_exporter (standard names). Not scoped to the
 * platform's namespace: node_exporter's series describe a node, not a namespace, and a node running out
 * of disk or memory harms every pod on it.
 */
import { sourceMissing, type AlertRule, type RuleGroup } from './rule.ts';

const MIN = 60;
const HOUR = 3600;
/** Real filesystems only: not tmpfs, overlays or squashfs images. */
const FS = 'fstype!~"tmpfs|overlay|squashfs|ramfs|nsfs",mountpoint!~"/(run|boot)(/.*)?"';
/** Postfix refuses mail below queue_minfree and Dovecot deliveries fail on a full disk: warn early. */
const DISK_FREE_WARNING = 0.1;
const DISK_FREE_CRITICAL = 0.05;
const INODES_FREE_WARNING = 0.1;
const MEMORY_AVAILABLE_WARNING = 0.1;
/** Load per CPU: mail daemons are mostly waiting on disk and network, so twice the CPUs for half an hour is trouble. */
const LOAD_PER_CPU = 2;
/**
 * Dovecot stops (or sleeps) when the clock moves backwards, TLS and DKIM check times, and logs are
 * correlated across hosts: 50 ms is what NTP keeps without effort.
 */
const CLOCK_OFFSET_S = 0.05;
const FILE_DESCRIPTORS_USED = 0.8;

function hosts(): AlertRule[] {
  const free = `node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}}`;
  const disk = (severity: 'warning' | 'critical', limit: number): AlertRule => ({
    alert: 'MailfleetHostDiskFilling',
    expr: `${free} < ${limit} and node_filesystem_readonly{${FS}} == 0`,
    forSeconds: severity === 'critical' ? 5 * MIN : 15 * MIN,
    severity,
    summary: 'Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} free',
    description: `Under ${limit * 100} % free: Postfix stops accepting mail and Dovecot deliveries fail when it is full.`,
    runbook: 'du on the mount point; a growing deferred queue or logs are the usual cause.',
  });
  return [
    disk('warning', DISK_FREE_WARNING),
    disk('critical', DISK_FREE_CRITICAL),
    {
      alert: 'MailfleetHostDiskWillFill',
      expr: `predict_linear(node_filesystem_avail_bytes{${FS}}[6h], 24 * 3600) < 0 and ${free} < 0.4 and node_filesystem_readonly{${FS}} == 0`,
      forSeconds: HOUR,
      severity: 'warning',
      summary: 'Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} fills within a day',
      description: 'At the rate of the last six hours it is full within 24 hours.',
      runbook: 'Find what grows (queue, mailboxes, logs) before it is full.',
    },
    {
      alert: 'MailfleetHostInodesLow',
      expr: `node_filesystem_files_free{${FS}} / node_filesystem_files{${FS}} < ${INODES_FREE_WARNING}`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: 'Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} of its inodes free',
      description: 'Every queued message and Maildir file takes an inode: when they run out, writes fail with space left.',
      runbook: 'find the directory with the most files (a queue or a mailbox); expunge or move it.',
    },
    {
      alert: 'MailfleetHostMemoryLow',
      expr: `node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < ${MEMORY_AVAILABLE_WARNING}`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: 'Host {{ $labels.instance }} has {{ $value | humanizePercentage }} of its memory available',
      description: 'The kernel will soon reclaim page cache the mail stores live on, then kill processes.',
      runbook: 'ps by resident size; Dovecot imap processes and the Argon2 hashing of logins are the usual users.',
    },
    {
      alert: 'MailfleetHostLoadHigh',
      expr: `node_load15 / on (instance, job) count by (instance, job) (node_cpu_seconds_total{mode="idle"}) > ${LOAD_PER_CPU}`,
      forSeconds: 30 * MIN,
      severity: 'warning',
      summary: 'Host {{ $labels.instance }} has a load of {{ $value | humanize }} per CPU',
      description: 'Processes queue for CPU or disk: deliveries and logins slow down.',
      runbook: 'top and iostat: CPU-bound (hashing, TLS) or waiting on disk (the mail store).',
    },
    {
      alert: 'MailfleetHostClockSkew',
      expr: `abs(node_timex_offset_seconds) > ${CLOCK_OFFSET_S}`,
      forSeconds: 10 * MIN,
      severity: 'warning',
      summary: 'Clock of host {{ $labels.instance }} is off by {{ $value | humanizeDuration }}',
      description: 'Dovecot refuses to run when time goes backwards; TLS and DKIM check times; logs no longer line up across hosts.',
      runbook: 'chronyc tracking (or timedatectl timesync-status): is NTP reachable?',
    },
    {
      alert: 'MailfleetHostClockNotSynchronising',
      expr: 'min_over_time(node_timex_sync_status[5m]) == 0 and node_timex_maxerror_seconds >= 16',
      forSeconds: 10 * MIN,
      severity: 'warning',
      summary: 'Clock of host {{ $labels.instance }} is not synchronised',
      description: 'NTP has lost its sources; the clock drifts from here on.',
      runbook: 'chronyc sources: are the NTP servers reachable from the host?',
    },
    {
      alert: 'MailfleetHostFileDescriptorsHigh',
      expr: `node_filefd_allocated / node_filefd_maximum > ${FILE_DESCRIPTORS_USED}`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: 'Host {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its file descriptors',
      description: 'Every SMTP, IMAP and LMTP connection takes descriptors: at the limit new connections fail.',
      runbook: 'Which process holds them (ls /proc/*/fd | wc); raise fs.file-max if the load is real.',
    },
  ];
}

export function hostGroups(): RuleGroup[] {
  return [{ name: 'mailfleet-host', rules: [...hosts(), sourceMissing('host', [{ selector: 'node_uname_info', source: 'node_exporter' }])] }];
}
