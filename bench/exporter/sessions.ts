/**
 * SMTP server sessions as smtpd logs them: connect, TLS, transactions, rejects, SASL failures and the
 * `disconnect … commands=` summary, with one queue id per accepted message.
 */
import type { LogEvent } from './kinds.ts';
import { client, heloName, messageId, messageSize, queueId, tlsParameters } from './people.ts';
import type { Random } from './random.ts';

/** One Postfix instance's processes: `name` is its syslog_name (`postfix`, or `postfix-mx` for a second instance). */
export interface Instance {
  name: string;
  qmgr: number;
  anvil: number;
  cleanup: number[];
  lmtp: number[];
  smtp: number[];
  bounce: number[];
  error: number[];
  smtpd: number[];
}

export function instance(rng: Random, name: string): Instance {
  const pids = (n: number) => Array.from({ length: n }, () => rng.int(1000, 500_000));
  return { name, qmgr: rng.int(300, 900), anvil: rng.int(900, 1200), cleanup: pids(4), lmtp: pids(8), smtp: pids(12), bounce: pids(2), error: pids(2), smtpd: pids(60) };
}

/** The whole log's shared state: the random source and the queue id counter. */
export interface Cast {
  rng: Random;
  nextQueueId(): string;
  main: Instance;
  mx: Instance;
}

export function cast(rng: Random): Cast {
  let counter = 1;
  return { rng, nextQueueId: () => queueId(rng, counter++), main: instance(rng, 'postfix'), mx: instance(rng, 'postfix-mx') };
}

/** An event of `inst`'s `program` (`qmgr`, `cleanup`, …) from one of its processes. */
export function event(inst: Instance, program: string, pid: number, text: string, kind: LogEvent['kind'], extra: Partial<LogEvent> = {}): LogEvent {
  return { tag: `${inst.name}/${program}`, pid, text, kind, ...extra };
}

/** smtpd's command order in its `disconnect` summary. */
const COMMAND_ORDER = ['helo', 'ehlo', 'starttls', 'auth', 'mail', 'rcpt', 'data', 'bdat', 'rset', 'noop', 'vrfy', 'quit', 'unknown'];

export interface Session {
  events: LogEvent[];
  inst: Instance;
  client: { name: string; address: string; text: string };
  helo: string;
  /** Appends an smtpd line. */
  say(text: string, kind: LogEvent['kind'], extra?: Partial<LogEvent>): void;
  /** Counts a command for the disconnect summary. */
  cmd(name: string, ok?: boolean): void;
  /** EHLO, and STARTTLS with its TLS line and a second EHLO when `starttls`. */
  greet(starttls: boolean): void;
  /** The `disconnect from …` line. */
  disconnect(): LogEvent;
}

/**
 * A session on `service` (`smtpd`, `submission/smtpd`, `submissions/smtpd`, `mailout/smtpd`): an FCrDNS warning now
 * and then, `connect from`, and for implicit TLS (`wrapper`) the TLS line at once.
 */
export function open(c: Cast, inst: Instance, service: string, wrapper = false, from = client(c.rng)): Session {
  const { rng } = c;
  const tag = `${inst.name}/${service}`;
  const pid = rng.pick(inst.smtpd);
  const events: LogEvent[] = [];
  const counts = new Map<string, { ok: number; all: number }>();
  const s: Session = {
    events, inst, client: from, helo: heloName(rng, from),
    say: (text, kind, extra = {}) => void events.push({ tag, pid, text, kind, ...extra }),
    cmd(name, ok = true) {
      const n = counts.get(name) ?? { ok: 0, all: 0 };
      n.all++;
      if (ok) n.ok++;
      counts.set(name, n);
    },
    greet(starttls) {
      s.cmd('ehlo');
      if (!starttls) return;
      s.cmd('starttls');
      tls(s, rng);
      s.cmd('ehlo');
    },
    disconnect() {
      const used = COMMAND_ORDER.filter((n) => counts.has(n));
      const parts = used.map((n) => {
        const { ok, all } = counts.get(n) as { ok: number; all: number };
        return ok === all ? `${n}=${ok}` : `${n}=${ok}/${all}`;
      });
      const ok = used.reduce((sum, n) => sum + (counts.get(n)?.ok ?? 0), 0);
      const all = used.reduce((sum, n) => sum + (counts.get(n)?.all ?? 0), 0);
      const summary = [...parts, ok === all ? `commands=${ok}` : `commands=${ok}/${all}`].join(' ');
      return { tag, pid, text: `disconnect from ${from.text} ${summary}`, kind: 'smtpd_disconnect' };
    },
  };
  if (from.name === 'unknown' && rng.chance(0.15)) {
    s.say(`warning: hostname ${rng.pick(['dsl-187.isp.example', 'host.invalid.example', 'static.203-0-113.example'])} does not resolve to address ${from.address}: Name or service not known`, 'smtpd_fcrdns');
  }
  s.say(`connect from ${from.text}`, 'smtpd_connect');
  if (wrapper) tls(s, rng);
  return s;
}

function tls(s: Session, rng: Random): void {
  const p = tlsParameters(rng);
  s.say(`${rng.pick(['Anonymous', 'Anonymous', 'Anonymous', 'Untrusted', 'Trusted'])} TLS connection established from ${s.client.text}: ${p.text}`, 'smtpd_tls');
}

export interface Accepted {
  qid: string;
  from: string;
  rcpts: string[];
  size: number;
  /** cleanup and qmgr lines once the message is in the queue. */
  queued: LogEvent[];
}

/**
 * MAIL, RCPTs (the first accepted one creates the queue file: `client=`; an unknown recipient is refused with the
 * queue id), DATA: cleanup's `message-id` and qmgr's `from=… (queue active)`. With `refused`, DATA counts as
 * failed and `queued` holds only cleanup's line (the message reached cleanup, never the queue).
 */
export function transaction(c: Cast, s: Session, from: string, rcpts: string[], opts: { sasl?: { method: string; user: string }; unknownRcpt?: string; refused?: boolean } = {}): Accepted {
  const { rng } = c;
  const qid = c.nextQueueId();
  s.cmd('mail');
  rcpts.forEach((rcpt, i) => {
    s.cmd('rcpt');
    if (i === 0) s.say(`${qid}: client=${s.client.text}${opts.sasl ? `, sasl_method=${opts.sasl.method}, sasl_username=${opts.sasl.user}` : ''}`, 'smtpd_client');
  });
  if (opts.unknownRcpt) {
    s.cmd('rcpt', false);
    s.say(`${qid}: reject: RCPT from ${s.client.text}: 550 5.1.1 <${opts.unknownRcpt}>: Recipient address rejected: User unknown in virtual mailbox table; from=<${from}> to=<${opts.unknownRcpt}> proto=ESMTP helo=<${s.helo}>`, 'smtpd_reject', { stage: 'RCPT' });
  }
  s.cmd('data', opts.refused !== true);
  const size = messageSize(rng);
  const inst = s.inst;
  const queued = [event(inst, 'cleanup', rng.pick(inst.cleanup), `${qid}: message-id=${messageId(rng)}`, 'cleanup_message_id')];
  if (opts.refused !== true) queued.push(event(inst, 'qmgr', inst.qmgr, `${qid}: from=<${from}>, size=${size}, nrcpt=${rcpts.length} (queue active)`, 'qmgr_inserted', { size, nrcpt: rcpts.length }));
  return { qid, from, rcpts, size, queued };
}

/** A NOQUEUE (or, once a queue file exists, queue id) reject at `stage`, with the fields smtpd adds that it knows by then. */
export function reject(s: Session, id: string, stage: string, reply: string, fields: { from?: string; to?: string; proto?: string }): void {
  const parts = [
    fields.from === undefined ? '' : ` from=<${fields.from}>`,
    fields.to === undefined ? '' : ` to=<${fields.to}>`,
    ` proto=${fields.proto ?? 'ESMTP'}`,
    stage === 'CONNECT' ? '' : ` helo=<${s.helo}>`,
  ];
  s.say(`${id}: reject: ${stage} from ${s.client.text}: ${reply};${parts.join('')}`, 'smtpd_reject', { stage });
}

/** Merges two event lists at random, each keeping its own order (a session goes on while its message is delivered). */
export function interleave(rng: Random, a: LogEvent[], b: LogEvent[]): LogEvent[] {
  const out: LogEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const fromA = j >= b.length || (i < a.length && rng.chance((a.length - i) / (a.length - i + b.length - j)));
    out.push((fromA ? a[i++] : b[j++]) as LogEvent);
  }
  return out;
}
