/**
 * Framing of the Postfix policy protocol as the bench needs it, byte by byte and without allocating per message:
 * the load generator reads `action=…` replies (a line, then an empty line) from a server, and the no-op
 * responder finds where each request (`name=value` lines, then an empty line) ends. Both are bounded: a reply
 * longer than {@link MAX_REPLY_BYTES} or a request longer than {@link MAX_REQUEST_BYTES} is an error, not a
 * growing buffer.
 */

const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const ACTION = Buffer.from('action=', 'latin1');

/** Longest reply accepted, both lines included: Postfix reads a reply line of up to `line_length_limit` (2048). */
export const MAX_REPLY_BYTES = 2048;
/** Distinct action verbs told apart; any further verb is counted as {@link OTHER_VERB}. */
export const MAX_VERBS = 16;
export const OTHER_VERB = 'OTHER';

/**
 * Reads the replies of one connection. `feed` copies each byte into a fixed buffer until the empty line that
 * ends a reply, then reports the reply's verb (the first word of `action=`, upper-cased: `DUNNO`,
 * `DEFER_IF_PERMIT`, `450`, …) as an index into `verbs`.
 */
export class ReplyReader {
  /** Verbs seen so far, upper-case, interned: `verbs[i]` for the index `feed` reports. */
  readonly verbs: string[];
  private readonly verbBytes: Uint8Array[];
  private readonly scratch = Buffer.allocUnsafe(MAX_REPLY_BYTES);
  private length = 0;
  private failed: string | undefined;

  /** `verbs` may be shared by the readers of several connections, so their indices agree. */
  constructor(verbs: string[] = []) {
    this.verbs = verbs;
    this.verbBytes = [];
  }

  /** Bytes of a reply that has not ended yet. */
  get pending(): number {
    return this.length;
  }

  /**
   * Feeds bytes from the server; calls `onReply(verb)` for every reply they complete. Returns why the stream is
   * not a sequence of replies (then and afterwards), or undefined.
   */
  feed(chunk: Uint8Array, onReply: (verb: number) => void): string | undefined {
    if (this.failed !== undefined) return this.failed;
    const scratch = this.scratch;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (b === LF && this.length > 0 && scratch[this.length - 1] === LF) {
        const verb = this.verbOf();
        if (typeof verb === 'string') return (this.failed = verb);
        this.length = 0;
        onReply(verb);
        continue;
      }
      if (this.length === MAX_REPLY_BYTES) return (this.failed = `reply longer than ${MAX_REPLY_BYTES} bytes`);
      scratch[this.length++] = b;
    }
    return undefined;
  }

  /** The verb of the reply in `scratch` (its lines, the last LF of the empty line not included), or why it is none. */
  private verbOf(): number | string {
    const s = this.scratch;
    const end = this.length;
    for (let i = 0; i < ACTION.length; i++) {
      if (i >= end || s[i] !== ACTION[i]) return `reply does not start with "action=": ${JSON.stringify(s.subarray(0, Math.min(end, 40)).toString('latin1'))}`;
    }
    let stop = ACTION.length;
    while (stop < end && s[stop] !== SPACE && s[stop] !== TAB && s[stop] !== LF && s[stop] !== CR) stop++;
    if (stop === ACTION.length) return 'reply with an empty action';
    const firstLineEnd = s.indexOf(LF, ACTION.length);
    if (firstLineEnd !== end - 1) return 'reply of more than one line';
    this.syncVerbs();
    for (let v = 0; v < this.verbBytes.length; v++) if (this.sameVerb(this.verbBytes[v] as Uint8Array, stop)) return v;
    const verb = this.verbs.length >= MAX_VERBS ? OTHER_VERB : s.subarray(ACTION.length, stop).toString('latin1').toUpperCase();
    const known = this.verbs.indexOf(verb);
    if (known >= 0) return known;
    this.verbs.push(verb);
    this.syncVerbs();
    return this.verbs.length - 1;
  }

  /** Another reader sharing `verbs` may have added some. */
  private syncVerbs(): void {
    while (this.verbBytes.length < this.verbs.length) this.verbBytes.push(Buffer.from(this.verbs[this.verbBytes.length] as string, 'latin1'));
  }

  private sameVerb(verb: Uint8Array, stop: number): boolean {
    if (verb.length !== stop - ACTION.length) return false;
    for (let i = 0; i < verb.length; i++) {
      let b = this.scratch[ACTION.length + i] as number;
      if (b >= 0x61 && b <= 0x7a) b -= 0x20;
      if (b !== verb[i]) return false;
    }
    return true;
  }
}

/** Longest request the no-op responder accepts: Postfix's own `line_length_limit` (2048) × its 1024 attributes would be far more, but smtpd sends under 1 KiB. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** Where a stream of requests stands between chunks. */
export interface RequestScan {
  /** The last byte seen was a LF. */
  lastWasLf: boolean;
  /** Bytes of the request not ended yet. */
  pending: number;
}

export const newRequestScan = (): RequestScan => ({ lastWasLf: false, pending: 0 });

/**
 * How many requests `chunk` ends: each LF straight after a LF ends one (and the next LF starts afresh, so
 * `\n\n\n\n` ends two). Returns -1 once a request grows past {@link MAX_REQUEST_BYTES}.
 */
export function countRequestEnds(chunk: Uint8Array, scan: RequestScan): number {
  let ends = 0;
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] === LF) {
      if (scan.lastWasLf) {
        ends++;
        scan.lastWasLf = false;
        scan.pending = 0;
        continue;
      }
      scan.lastWasLf = true;
    } else {
      scan.lastWasLf = false;
    }
    if (++scan.pending > MAX_REQUEST_BYTES) return -1;
  }
  return ends;
}
