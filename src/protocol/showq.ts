/**
 * Postfix 3.x showq stream → queued messages. Pure and incremental: chunks of bytes in, messages out.
 *
 * The stream (what `public/showq` sends, Postfix's attribute protocol in its NUL form) is a series of
 * records; a record is `key NUL value NUL` pairs ended by an empty key (one more NUL):
 *
 *     protocol NUL mail_queue_list_protocol NUL NUL                        (the server's greeting)
 *     queue_name NUL deferred NUL queue_id NUL 974F643E1C3 NUL time NUL 1796533512 NUL size NUL 422 NUL
 *     forced_expire NUL 0 NUL sender NUL a@example.test NUL recipient NUL z@example.test NUL reason NUL … NUL NUL
 *     …
 *     NUL                                                                   (an empty record: the end)
 *
 * - Memory is bounded: a key or value longer than `maxFieldBytes` is an error; a message keeps at most
 *   `maxRecipients` recipient addresses (`recipientCount` counts them all).
 * - After an error (an over-long field, a message without `queue_name`, `time` or `size`, a malformed
 *   number, bytes after the end) the decoder returns nothing more: the reader should drop the stream.
 */
import { parsed, parseFailure, type ParseResult } from './result.ts';

/** Longest key or value accepted, in bytes. */
export const DEFAULT_SHOWQ_MAX_FIELD_BYTES = 16_384;
/** Recipient addresses kept per message. */
export const DEFAULT_SHOWQ_MAX_RECIPIENTS = 100;

export interface ShowqMessage {
  /** `maildrop`, `incoming`, `active`, `deferred`, `hold` (or whatever the server names). */
  readonly queueName: string;
  readonly queueId: string;
  /** Arrival time, seconds since the epoch. */
  readonly arrivalTime: number;
  /** Message size in bytes as Postfix counts it. */
  readonly size: number;
  readonly sender: string;
  /** The first `maxRecipients` recipients. */
  readonly recipients: readonly string[];
  readonly recipientCount: number;
  /** `postsuper -e` marked the message expired. */
  readonly forcedExpire: boolean;
}

export interface ShowqDecoderOptions {
  /** Longest key or value, in bytes. Default {@link DEFAULT_SHOWQ_MAX_FIELD_BYTES}. */
  readonly maxFieldBytes?: number;
  /** Recipient addresses kept per message. Default {@link DEFAULT_SHOWQ_MAX_RECIPIENTS}. */
  readonly maxRecipients?: number;
}

export interface ShowqDecoder {
  /** Feeds the next chunk; returns the messages it completed, then at most one error (after which nothing more). */
  push(chunk: Uint8Array): ParseResult<ShowqMessage>[];
  /** The stream ended: an error when it stopped before the end record. */
  end(): ParseResult<ShowqMessage>[];
  /** The end record was seen: the listing is complete. */
  readonly done: boolean;
}

const EMPTY = Buffer.alloc(0);
const WHOLE = /^(0|[1-9][0-9]{0,14})$/;

interface Draft {
  queueName?: string;
  queueId: string;
  arrivalTime?: number;
  size?: number;
  sender: string;
  recipients: string[];
  recipientCount: number;
  forcedExpire: boolean;
  greeting: boolean;
}

function draft(): Draft {
  return { queueId: '', sender: '', recipients: [], recipientCount: 0, forcedExpire: false, greeting: false };
}

export function createShowqDecoder(options: ShowqDecoderOptions = {}): ShowqDecoder {
  const maxFieldBytes = options.maxFieldBytes ?? DEFAULT_SHOWQ_MAX_FIELD_BYTES;
  const maxRecipients = options.maxRecipients ?? DEFAULT_SHOWQ_MAX_RECIPIENTS;
  let pending: Buffer = EMPTY;
  let key: string | undefined;
  let record = draft();
  /** Fields read in the current record: 0 at its start, where an empty key ends the whole listing. */
  let fields = 0;
  let done = false;
  let failed = false;

  function fail(results: ParseResult<ShowqMessage>[], message: string, input?: string): void {
    failed = true;
    pending = EMPTY;
    results.push(parseFailure('PROTOCOL_MALFORMED_REPLY', message, input));
  }

  function finishRecord(results: ParseResult<ShowqMessage>[]): void {
    const r = record;
    record = draft();
    fields = 0;
    if (r.greeting) return;
    if (r.queueName === undefined || r.arrivalTime === undefined || r.size === undefined) {
      fail(results, 'showq record without queue_name, time or size', r.queueId);
      return;
    }
    results.push(parsed({
      queueName: r.queueName,
      queueId: r.queueId,
      arrivalTime: r.arrivalTime,
      size: r.size,
      sender: r.sender,
      recipients: r.recipients,
      recipientCount: r.recipientCount,
      forcedExpire: r.forcedExpire,
    }));
  }

  function value(name: string, text: string, results: ParseResult<ShowqMessage>[]): void {
    switch (name) {
      case 'protocol':
        record.greeting = true;
        return;
      case 'queue_name':
        record.queueName = text;
        return;
      case 'queue_id':
        record.queueId = text;
        return;
      case 'time':
      case 'size': {
        if (!WHOLE.test(text)) return fail(results, `showq ${name} is not a whole number`, text);
        if (name === 'time') record.arrivalTime = Number(text);
        else record.size = Number(text);
        return;
      }
      case 'sender':
        record.sender = text;
        return;
      case 'recipient':
        if (record.recipients.length < maxRecipients) record.recipients.push(text);
        record.recipientCount++;
        return;
      case 'forced_expire':
        record.forcedExpire = text !== '0' && text !== '';
        return;
      default:
        // reason, and attributes a later Postfix adds: not needed, skipped.
        return;
    }
  }

  /** One NUL-terminated field (without its NUL). */
  function field(bytes: Buffer, results: ParseResult<ShowqMessage>[]): void {
    if (done) return fail(results, 'bytes after the end of the showq listing');
    if (key === undefined) {
      if (bytes.length === 0) {
        if (fields === 0) done = true;
        else finishRecord(results);
        return;
      }
      key = bytes.toString('latin1');
      return;
    }
    const name = key;
    key = undefined;
    fields++;
    value(name, bytes.toString('utf8'), results);
  }

  return {
    get done() {
      return done;
    },
    push(chunk) {
      const results: ParseResult<ShowqMessage>[] = [];
      if (failed) return results;
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let start = 0;
      while (start < bytes.length && !failed) {
        const nul = bytes.indexOf(0, start);
        if (nul === -1) {
          const rest = bytes.subarray(start);
          if (pending.length + rest.length > maxFieldBytes) {
            fail(results, `showq field longer than ${maxFieldBytes} bytes`);
            break;
          }
          pending = pending.length === 0 ? Buffer.from(rest) : Buffer.concat([pending, rest]);
          break;
        }
        const piece = bytes.subarray(start, nul);
        const whole = pending.length === 0 ? piece : Buffer.concat([pending, piece]);
        pending = EMPTY;
        if (whole.length > maxFieldBytes) {
          fail(results, `showq field longer than ${maxFieldBytes} bytes`);
          break;
        }
        field(whole, results);
        start = nul + 1;
      }
      return results;
    },
    end() {
      if (failed || done) return [];
      failed = true;
      return [parseFailure('PROTOCOL_MALFORMED_REPLY', 'showq stream ended before the end of the listing')];
    },
  };
}
