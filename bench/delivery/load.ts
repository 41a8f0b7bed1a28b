/**
 * The load: `smtp-source` sessions against a target's MTA (or, with `starttls`, the same load from mailfleet's
 * own SMTP client, each session upgraded with STARTTLS as a sending MTA does; with `mix`, the filtered mode's
 * messages from that client), timed from the first connection until the last message sits in a recipient's maildir.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { openSmtpSession } from '../../src/protocol/index.ts';
import { mixedMessage } from './mix.ts';
import type { DeliveryTarget } from './target.ts';

const SMTP_SOURCE = '/usr/sbin/smtp-source';
const CLIENT_HELO = 'client.bench.test';
const DELIVERY_POLL_MS = 50;
/** Delivery is declared stuck when the delivered count has not moved for this long. */
const STALL_TIMEOUT_MS = 60_000;

export interface Load {
  messages: number;
  sizeBytes: number;
  /** Parallel SMTP sessions. */
  concurrency: number;
  sender: string;
  recipients: string[];
  /**
   * Send over STARTTLS, a new session (and full handshake) per message, without verifying the certificate
   * (opportunistic, as MTAs send to an MX); smtp-source speaks no TLS, so the client is mailfleet's own.
   */
  starttls?: boolean;
  /**
   * Send the filtered mode's mix (mix.ts: every message different, a quarter with an attachment) of this batch
   * from mailfleet's SMTP client, a session per message as smtp-source does, instead of smtp-source's one body.
   */
  mix?: { batch: number };
}

export interface LoadResult {
  messages: number;
  /** First connection → last message accepted by the MTA. */
  acceptedSeconds: number;
  /** First connection → last message delivered into a maildir. */
  deliveredSeconds: number;
}

/** Every delivered message file (`new/` and `cur/`) of the recipients' maildirs. */
function deliveredFiles(mailRoot: string, recipients: string[]): string[] {
  const out: string[] = [];
  for (const r of recipients) {
    const [local, domain] = r.split('@');
    const maildir = join(mailRoot, domain ?? '', local ?? '', 'Maildir');
    for (const sub of ['new', 'cur']) {
      const d = join(maildir, sub);
      try {
        for (const name of readdirSync(d)) out.push(join(d, name));
      } catch {
        // mailbox not created yet
      }
    }
  }
  return out;
}

function countDelivered(mailRoot: string, recipients: string[]): number {
  return deliveredFiles(mailRoot, recipients).length;
}

/** One smtp-source run: `count` messages to `rcpt`, one session at a time, a new connection per message. */
function smtpSource(target: DeliveryTarget, load: Load, rcpt: string, count: number, signal: AbortSignal): Promise<void> {
  const args = ['-l', String(load.sizeBytes), '-m', String(count), '-s', '1', '-M', CLIENT_HELO, '-f', load.sender, '-t', rcpt, `${target.smtpHost}:${target.smtpPort}`];
  return new Promise((resolve, reject) => {
    const child = spawn(SMTP_SOURCE, args, { stdio: ['ignore', 'ignore', 'pipe'], signal });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4000) stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code, sig) => {
      if (code === 0) resolve();
      else reject(new Error(`smtp-source to ${rcpt} failed (${code ?? sig}): ${stderr.trim() || 'no output'} (logs: ${target.logs})`));
    });
  });
}

/** A message of about `sizeBytes` like smtp-source's: a few headers and lines of `x`. */
function body(load: Load, rcpt: string, n: number): string {
  const line = 'x'.repeat(78);
  const lines = Math.max(1, Math.ceil(load.sizeBytes / (line.length + 2)));
  return [`From: <${load.sender}>`, `To: <${rcpt}>`, `Subject: bench ${n}`, `Message-ID: <bench-${n}-${Date.now()}@${CLIENT_HELO}>`, '', ...Array<string>(lines).fill(line), ''].join('\r\n');
}

/**
 * A job's messages from mailfleet's SMTP client, one session per message: over STARTTLS with `load.starttls`,
 * the mix's messages (made before the timed window) with `load.mix`.
 */
async function clientSource(target: DeliveryTarget, load: Load, job: Job, signal: AbortSignal): Promise<void> {
  const { rcpt } = job;
  for (let i = 0; i < job.count; i++) {
    signal.throwIfAborted();
    const data = job.data?.[i] ?? body(load, rcpt, job.first + i);
    const session = await openSmtpSession({ host: target.smtpHost, port: target.smtpPort, heloName: CLIENT_HELO, timeoutMs: 60_000, signal, ...(load.starttls ? { tls: STARTTLS } : {}) });
    try {
      const result = await session.send({ from: load.sender, to: [rcpt], data });
      if (result.data?.code !== 250) throw new Error(`${target.name}: message to ${rcpt} refused: ${JSON.stringify(result)} (logs: ${target.logs})`);
    } finally {
      await session.quit();
    }
  }
}

/** One options object for every session, so they share one TLS context. */
const STARTTLS = Object.freeze({ mode: 'starttls' as const, rejectUnauthorized: false });

/** Messages `first` … `first + count - 1` of a load, all to `rcpt`; `data`: the mix's messages, made in advance. */
export interface Job {
  rcpt: string;
  count: number;
  first: number;
  data?: string[];
}

/**
 * `messages` spread over the recipients as evenly as they go: one job per recipient, numbered in recipient order
 * (so message n goes to the same recipient on both paths). With the mix, each job's messages are made here, before
 * the timed window, so that making them costs the sender nothing while it is timed.
 */
export function jobs(load: Load): Job[] {
  const { messages, recipients, mix } = load;
  const per = Math.floor(messages / recipients.length);
  const extra = messages % recipients.length;
  let first = 0;
  const out: Job[] = [];
  recipients.forEach((rcpt, i) => {
    const count = per + (i < extra ? 1 : 0);
    if (count === 0) return;
    const job: Job = { rcpt, count, first };
    if (mix) job.data = Array.from({ length: count }, (_, k) => mixedMessage({ from: load.sender, to: rcpt, batch: mix.batch, n: first + k, size: load.sizeBytes }));
    out.push(job);
    first += count;
  });
  return out;
}

/** Runs the jobs on `concurrency` workers; the first failure aborts the others. */
async function send(target: DeliveryTarget, load: Load, queue: Job[], signal: AbortSignal): Promise<void> {
  const failed = new AbortController();
  const both = AbortSignal.any([signal, failed.signal]);
  const worker = async () => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      both.throwIfAborted();
      if (load.starttls || load.mix) await clientSource(target, load, job, both);
      else await smtpSource(target, load, job.rcpt, job.count, both);
    }
  };
  const workers = Array.from({ length: Math.min(load.concurrency, queue.length) }, () =>
    worker().catch((err: unknown) => {
      failed.abort(err);
      throw err;
    }),
  );
  const results = await Promise.allSettled(workers);
  signal.throwIfAborted();
  const first = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (first) throw failed.signal.reason ?? first.reason;
}

/** Polls the maildirs until `expected` messages are there; throws when the count stops moving. */
async function waitDelivered(target: DeliveryTarget, recipients: string[], expected: number, signal: AbortSignal): Promise<void> {
  let last = -1;
  let movedAt = Date.now();
  for (;;) {
    signal.throwIfAborted();
    const n = countDelivered(target.mailRoot, recipients);
    if (n >= expected) return;
    if (n !== last) {
      last = n;
      movedAt = Date.now();
    } else if (Date.now() - movedAt > STALL_TIMEOUT_MS) {
      throw new Error(`${target.name}: ${n} of ${expected} messages delivered, no progress for ${STALL_TIMEOUT_MS / 1000} s (logs: ${target.logs})`);
    }
    await delay(DELIVERY_POLL_MS);
  }
}

/**
 * Sends the load (`queue`: its jobs, when the caller made them before measuring) and waits until every message is delivered. The end time is the newest ctime among the new
 * maildir files (set when Dovecot moves a message into `new/`), so the poll interval adds no error.
 */
export async function deliver(target: DeliveryTarget, load: Load, signal: AbortSignal, queue: Job[] = jobs(load)): Promise<LoadResult> {
  const before = new Set(deliveredFiles(target.mailRoot, load.recipients));
  const startMs = Date.now();
  await send(target, load, queue, signal);
  const acceptedMs = Date.now();
  await waitDelivered(target, load.recipients, before.size + load.messages, signal);
  const observedMs = Date.now();
  let lastMs = 0;
  let delivered = 0;
  for (const file of deliveredFiles(target.mailRoot, load.recipients)) {
    if (before.has(file)) continue;
    delivered++;
    try {
      lastMs = Math.max(lastMs, statSync(file).ctimeMs);
    } catch {
      // moved from new/ to cur/ meanwhile; the poll time bounds it
    }
  }
  if (delivered !== load.messages) throw new Error(`${target.name}: ${delivered} messages delivered for ${load.messages} sent (logs: ${target.logs})`);
  const endMs = lastMs > startMs && lastMs <= observedMs ? lastMs : observedMs;
  return { messages: load.messages, acceptedSeconds: (acceptedMs - startMs) / 1000, deliveredSeconds: (endMs - startMs) / 1000 };
}
