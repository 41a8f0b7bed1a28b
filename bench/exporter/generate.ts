/**
 * A seeded generator of realistic Postfix 3.7 logs, as the platform's instances write them (`maillog_file =
 * /dev/stdout`, with a share in classic syslog and RFC 3339 form): whole message lifecycles with consistent queue
 * ids, interleaved as concurrent sessions interleave, rejects at every stage, SASL failures, TLS, bounces and
 * expiry, the submission services, a second instance (`postfix-mx/…`), and hostile lines (binary noise, invalid
 * UTF-8, lines up to 1 MiB, lines cut short). The same seed and line count give the same bytes.
 *
 *   node_modules/.bin/node bench/exporter/generate.ts [--lines 1000000] [--seed 1] [--out FILE]
 *
 * Writes the log to FILE (or stdout) and what it wrote, counted by kind (`Totals`), as JSON to stderr. A line is
 * everything up to a newline; no line contains one.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { setImmediate } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { countEvent, countHostile, emptyTotals, FORMATS, type Format, type LogEvent, type Totals } from './kinds.ts';
import { client } from './people.ts';
import { seededRandom, type Random } from './random.ts';
import { story, STORY_WEIGHTS } from './scripts.ts';
import { cast } from './sessions.ts';

export interface GenerateOptions {
  /** Lines to write. */
  lines: number;
  /** Seed of the pseudo-random source (only its low 32 bits count). */
  seed: number;
}

/** Stories told at once: how many sessions and queue runs interleave in the log. */
const IN_FLIGHT = 40;
/** Share of each hostile kind among the lines (very long lines are counted apart: `longLines`). */
const HOSTILE_SHARE = { noise: 0.002, invalid_utf8: 0.002, truncated: 0.002 } as const;
const HOSTILE_TOTAL = Object.values(HOSTILE_SHARE).reduce((a, b) => a + b, 0);
const MIB = 1024 * 1024;
/** The log starts here (UTC); lines are 1 to 400 ms apart. */
const START_MS = Date.UTC(2026, 2, 1, 0, 0, 0);
const HOST = 'mail';
const CHUNK_CHARS = 1 << 20;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** How many 16 KiB – 1 MiB lines a log of `lines` holds: one per 100,000 lines, at least one (the first is exactly 1 MiB). */
export function longLines(lines: number): number {
  return Math.min(lines, Math.max(1, Math.round(lines / 100_000)));
}

const pad = (n: number, width = 2, fill = '0') => String(n).padStart(width, fill);

/** `timestamp host ` for a line at `us` (µs since the epoch), in `format`; the seconds part is cached, as lines come many per second. */
function stamper(): (format: Format, us: number) => string {
  let second = -1;
  let parts = { mon: '', d: 0, hms: '', date: '' };
  return (format, us) => {
    const s = Math.floor(us / 1e6);
    if (s !== second) {
      second = s;
      const t = new Date(s * 1000);
      parts = {
        mon: MONTHS[t.getUTCMonth()] ?? 'Jan', d: t.getUTCDate(),
        hms: `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}`,
        date: `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`,
      };
    }
    if (format === 'maillog') return `${parts.mon} ${pad(parts.d)} ${parts.hms} ${HOST} `;
    if (format === 'syslog') return `${parts.mon} ${pad(parts.d, 2, ' ')} ${parts.hms} ${HOST} `;
    return `${parts.date}T${parts.hms}.${pad(us % 1e6, 6)}+00:00 ${HOST} `;
  };
}

/** Any bytes but a newline (one char per byte: the log is assembled in latin1). */
function noise(rng: Random, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) {
    const b = rng.int(0, 254);
    s += String.fromCharCode(b >= 10 ? b + 1 : b);
  }
  return s;
}

const INVALID_UTF8 = ['\xff', '\xfe', '\xc3\x28', '\xe2\x28\xa1', '\xf0\x28\x8c\x28', '\xc0\xaf', '\xed\xa0\x80', '\xf8\x88\x80\x80\x80', '\x80\x80'];

/** Text with invalid UTF-8 sequences (stray continuation bytes, overlong forms, surrogates), some cut at the end. */
function invalidUtf8(rng: Random, prefix: string): string {
  let s = rng.chance(0.5) ? `${prefix}postfix/smtpd[${rng.int(1000, 99999)}]: warning: non-SMTP command from ${client(rng).text}: ` : '';
  for (let n = rng.int(1, 6); n > 0; n--) s += `${rng.pick(['EHLO ', 'caf', 'user', ' ', 'Gr'])}${rng.pick(INVALID_UTF8)}`;
  return rng.chance(0.3) ? `${s}\xe2\x82` : s;
}

/** A line of `length` bytes: a Postfix warning carrying a huge argument, or printable junk without any tag. */
function longLine(rng: Random, prefix: string, length: number): string {
  const head = rng.chance(0.5) ? `${prefix}postfix/smtpd[${rng.int(1000, 99999)}]: warning: ${client(rng).text}: ` : '';
  const unit = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789=+/';
  let body = '';
  while (body.length < length - head.length) body += unit[rng.int(0, unit.length - 1)]?.repeat(rng.int(1, 64)) ?? '';
  return (head + body).slice(0, length);
}

/** A line cut before its message could be read: inside the timestamp, the tag, or the first word of the message. */
function truncated(rng: Random, prefix: string): string {
  const whole = `${prefix}${rng.pick(['postfix/smtpd', 'postfix/qmgr', 'postfix/lmtp', 'postfix/submission/smtpd'])}[${rng.int(1000, 99999)}]: ${rng.pick(['connect from ', 'disconnect from ', '3F2A1B9C0D: to=<', 'NOQUEUE: reject: '])}`;
  return whole.slice(0, rng.int(5, whole.indexOf(']: ') + 4));
}

/** Generates the log in chunks of about 1 MiB; returns (as the generator's result) what it wrote. */
export function* chunks(opts: GenerateOptions): Generator<Buffer, Totals, void> {
  const rng = seededRandom(opts.seed);
  const c = cast(rng);
  const totals = emptyTotals(opts.seed);
  const stamp = stamper();
  const long = new Map<number, number>();
  while (long.size < longLines(opts.lines)) {
    const at = rng.int(0, opts.lines - 1);
    if (!long.has(at)) long.set(at, long.size === 0 ? MIB : Math.round(rng.logUniform(16 * 1024, MIB)));
  }
  const inFlight: { events: LogEvent[]; at: number }[] = [];
  let clock = START_MS * 1000;
  let buffer = '';
  for (let i = 0; i < opts.lines; i++) {
    clock += rng.int(1000, 400_000);
    const format = rng.weighted(FORMATS);
    const prefix = stamp(format, clock);
    let line: string;
    const longLength = long.get(i);
    if (longLength !== undefined) {
      line = longLine(rng, prefix, longLength);
      countHostile(totals, 'long', line.length + 1);
    } else if (rng.chance(HOSTILE_TOTAL)) {
      const kind = rng.weighted(HOSTILE_SHARE);
      line = kind === 'noise' ? noise(rng, rng.int(1, 400)) : kind === 'invalid_utf8' ? invalidUtf8(rng, prefix) : truncated(rng, prefix);
      countHostile(totals, kind, line.length + 1);
    } else {
      while (inFlight.length < IN_FLIGHT) {
        const events = story(c, rng.weighted(STORY_WEIGHTS), stamp('syslog', clock).slice(0, 15));
        if (events.length > 0) inFlight.push({ events, at: 0 });
      }
      const k = rng.int(0, inFlight.length - 1);
      const current = inFlight[k] as { events: LogEvent[]; at: number };
      const e = current.events[current.at++] as LogEvent;
      if (current.at >= current.events.length) {
        inFlight[k] = inFlight[inFlight.length - 1] as { events: LogEvent[]; at: number };
        inFlight.pop();
      }
      line = `${prefix}${e.tag}[${e.pid}]: ${e.text}`;
      countEvent(totals, e, format, line.length + 1);
    }
    buffer += `${line}\n`;
    if (buffer.length >= CHUNK_CHARS) {
      yield Buffer.from(buffer, 'latin1');
      buffer = '';
    }
  }
  if (buffer.length > 0) yield Buffer.from(buffer, 'latin1');
  return totals;
}

/** Generates the log, handing each chunk to `write`; returns what it wrote. */
export function generate(opts: GenerateOptions, write: (chunk: Buffer) => void): Totals {
  const it = chunks(opts);
  for (let r = it.next(); ; r = it.next()) {
    if (r.done === true) return r.value;
    write(r.value);
  }
}

/**
 * Writes the log to `path` (created or truncated); returns what it wrote. Yields to the event loop between
 * chunks, so `signal` (a Ctrl-C) can stop it.
 */
export async function writeLog(path: string, opts: GenerateOptions, signal?: AbortSignal): Promise<Totals> {
  const fd = openSync(path, 'w', 0o644);
  try {
    const it = chunks(opts);
    for (let r = it.next(); ; r = it.next()) {
      if (r.done === true) return r.value;
      for (let off = 0; off < r.value.length;) off += writeSync(fd, r.value, off);
      await setImmediate();
      signal?.throwIfAborted();
    }
  } finally {
    closeSync(fd);
  }
}

const USAGE = 'usage: node bench/exporter/generate.ts [--lines N] [--seed S] [--out FILE]';

async function main(argv: string[]): Promise<number> {
  let opts: GenerateOptions & { out?: string };
  try {
    const { values } = parseArgs({ args: argv, options: { lines: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const lines = Number(values.lines ?? 1_000_000);
    const seed = Number(values.seed ?? 1);
    if (!Number.isInteger(lines) || lines < 1 || lines > 1e9) throw new Error(`--lines: expected an integer from 1 to 1000000000, got ${values.lines}`);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`--seed: expected an integer from 0 to 4294967295, got ${values.seed}`);
    opts = { lines, seed, ...(values.out === undefined ? {} : { out: values.out }) };
  } catch (err) {
    console.error(`generate: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const totals = opts.out === undefined
    ? generate(opts, (chunk) => {
      for (let off = 0; off < chunk.length;) {
        try {
          off += writeSync(1, chunk, off);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
      }
    })
    : await writeLog(opts.out, opts);
  console.error(JSON.stringify(totals, null, 2));
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
