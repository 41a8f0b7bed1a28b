/**
 * The Postfix policy delegation protocol (SMTPD_POLICY_README), both directions, pure: bytes in, typed requests out.
 *
 * A request is `name=value` lines ending with an empty line; the reply is `action=...` and an empty line. Framing
 * is strict, since the peer may be hostile and the protocol says a server in trouble sends no reply and hangs up:
 *
 * - a line ends at LF (one CR right before it is stripped); a line longer than `maxLineBytes` is an error at once,
 *   before its end arrives, so a peer cannot make the decoder hold more than that of one line;
 * - a request with more than `maxAttributes` lines or `maxRequestBytes` bytes is an error, again as soon as it
 *   goes past the bound;
 * - a line without `=`, a name that is empty, too long or not `[A-Za-z0-9_.-]`, a NUL byte, a repeated attribute,
 *   a request without `request=smtpd_access_policy`, a non-numeric `size` or `recipient_count` are errors.
 *
 * After the first error the decoder yields nothing more: the session is over. Attributes this decoder does not
 * know are counted and dropped (the protocol says to ignore them). Values are UTF-8 (Postfix passes SMTPUTF8
 * addresses as they came); invalid sequences become U+FFFD and never throw.
 */
import { parsed, parseFailure, type ParseError, type ParseResult } from './result.ts';

/** Attributes Postfix sends (2.1 to 3.12). Anything else is ignored. */
export const POLICY_ATTRIBUTES = [
  'request', 'protocol_state', 'protocol_name', 'helo_name', 'queue_id', 'sender', 'recipient', 'recipient_count',
  'client_address', 'client_name', 'reverse_client_name', 'instance', 'sasl_method', 'sasl_username', 'sasl_sender',
  'size', 'ccert_subject', 'ccert_issuer', 'ccert_fingerprint', 'encryption_protocol', 'encryption_cipher',
  'encryption_keysize', 'etrn_domain', 'stress', 'ccert_pubkey_fingerprint', 'client_port', 'policy_context',
  'server_address', 'server_port', 'compatibility_level', 'mail_version', 'tls_sni',
] as const;

export type PolicyAttribute = (typeof POLICY_ATTRIBUTES)[number];

/** One decoded request. */
export interface PolicyRequest {
  /** The known attributes that came, by name. */
  readonly attributes: Readonly<Partial<Record<PolicyAttribute, string>>>;
  /** How many attributes of unknown name came and were dropped. */
  readonly unknownAttributes: number;
  /** The request's size on the wire, terminating empty line included. */
  readonly bytes: number;
}

/** Longest attribute line accepted by default, in bytes, terminator not counted. */
export const DEFAULT_POLICY_MAX_LINE_BYTES = 4096;
/** Most attribute lines in one request by default (Postfix 3.12 sends about 30). */
export const DEFAULT_POLICY_MAX_ATTRIBUTES = 256;
/** Largest request accepted by default, in bytes (Postfix's are well under 2 KiB). */
export const DEFAULT_POLICY_MAX_REQUEST_BYTES = 32 * 1024;
/** Longest attribute name. */
const MAX_NAME_BYTES = 64;

export interface PolicyDecoderOptions {
  /** Longest line in bytes, terminator not counted. Default {@link DEFAULT_POLICY_MAX_LINE_BYTES}. */
  readonly maxLineBytes?: number;
  /** Most attribute lines per request. Default {@link DEFAULT_POLICY_MAX_ATTRIBUTES}. */
  readonly maxAttributes?: number;
  /** Largest request in bytes, every line and terminator counted. Default {@link DEFAULT_POLICY_MAX_REQUEST_BYTES}. */
  readonly maxRequestBytes?: number;
}

export interface PolicyDecoder {
  /** Appends bytes the peer sent. The decoder keeps a reference to `chunk` until it is decoded: do not reuse it. */
  push(chunk: Buffer): void;
  /**
   * The next complete request, or the error that ends the session; `undefined` when more bytes are needed, and
   * always after an error. Decoding is lazy: bytes are looked at only here, one request at a time.
   */
  next(): ParseResult<PolicyRequest> | undefined;
  /** The stream ended: the error for a request cut short, if one was in progress. */
  end(): ParseError | undefined;
  /** Bytes held that `next` has not consumed yet. */
  buffered(): number;
  /**
   * Bytes the decoder keeps in memory: those not consumed yet and those consumed before them since the last `push`
   * (they share one string, let go when a `push` brings more or all of it is consumed).
   */
  retained(): number;
  /** Part of a request has been consumed or is waiting: the peer is in the middle of one. */
  inRequest(): boolean;
  /** Lets go of everything held (the peer is gone); the decoder yields nothing more, as after an error. */
  discard(): void;
}

const LF = '\n';
const CR = 0x0d;
/** Each known name to its constant: a property key V8 has interned, where a name cut from the input is not. */
const KNOWN: ReadonlyMap<string, PolicyAttribute> = new Map(POLICY_ATTRIBUTES.map((a) => [a, a]));
const NUMERIC: ReadonlySet<string> = new Set(['size', 'recipient_count', 'client_port', 'server_port', 'encryption_keysize']);
const DIGITS = /^[0-9]{1,20}$/;
/** A byte outside ASCII (the held bytes are a latin1 string: one character per byte). */
const HIGH = /[\x80-\xff]/g;

/** 1 for the bytes a name may hold, `[A-Za-z0-9_.-]`. */
const NAME_BYTES = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-') NAME_BYTES[c.charCodeAt(0)] = 1;

/** The first byte outside ASCII in `text` from `from`, or -1. */
function firstHigh(text: string, from: number): number {
  HIGH.lastIndex = from;
  return HIGH.exec(text)?.index ?? -1;
}

export function createPolicyDecoder(options: PolicyDecoderOptions = {}): PolicyDecoder {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_POLICY_MAX_LINE_BYTES;
  const maxAttributes = options.maxAttributes ?? DEFAULT_POLICY_MAX_ATTRIBUTES;
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_POLICY_MAX_REQUEST_BYTES;
  // The bytes held, as a latin1 string: one character per byte, so every offset below is a byte offset, and lines,
  // names and ASCII values are cut with string operations instead of a native call per attribute.
  let text = '';
  /** Start of the first byte not consumed yet. */
  let pos = 0;
  /** Where the search for the next LF resumes (bytes before it, from `pos`, hold none). */
  let scan = 0;
  /** The first NUL byte held at or after `pos`, or -1. Any NUL ends the session when its line is decoded. */
  let nulAt = -1;
  /** The first byte outside ASCII held at or after `pos`, or -1: a value holding one is decoded as UTF-8. */
  let highAt = -1;
  let failed = false;
  // The request in progress.
  let attributes: Partial<Record<PolicyAttribute, string>> = {};
  /** The attributes of the request in progress whose values are slices of `text` (and so keep all of it alive). */
  const sliced: PolicyAttribute[] = [];
  let lines = 0;
  let unknown = 0;
  let requestBytes = 0;

  function fail(code: Parameters<typeof parseFailure>[0], message: string, input?: string): ParseResult<PolicyRequest> {
    failed = true;
    text = '';
    pos = 0;
    scan = 0;
    return parseFailure(code, message, input);
  }

  /** One attribute line, `text[start, end)` without its terminator; an error result or undefined when fine. */
  function attribute(start: number, end: number): ParseResult<PolicyRequest> | undefined {
    if (++lines > maxAttributes) return fail('PROTOCOL_REQUEST_TOO_LARGE', `more than ${maxAttributes} attributes in one request`);
    const eq = text.indexOf('=', start);
    if (eq === -1 || eq >= end) return fail('PROTOCOL_MALFORMED_REQUEST', 'an attribute line without =', text.slice(start, Math.min(end, start + 200)));
    if (eq === start || eq - start > MAX_NAME_BYTES) return fail('PROTOCOL_MALFORMED_REQUEST', 'an attribute name empty or too long', text.slice(start, Math.min(end, start + 200)));
    for (let i = start; i < eq; i++) {
      if (NAME_BYTES[text.charCodeAt(i)] !== 1) return fail('PROTOCOL_MALFORMED_REQUEST', 'an attribute name with a character outside [A-Za-z0-9_.-]', text.slice(start, Math.min(end, start + 200)));
    }
    if (nulAt !== -1 && nulAt < end) return fail('PROTOCOL_MALFORMED_REQUEST', 'a NUL byte in an attribute value', text.slice(start, Math.min(end, start + 200)));
    const name = text.slice(start, eq);
    let value: string | undefined;
    if (highAt !== -1 && highAt < end) {
      value = Buffer.from(text.slice(eq + 1, end), 'latin1').toString('utf8');
      highAt = firstHigh(text, end);
    }
    const key = KNOWN.get(name);
    if (key === undefined) {
      unknown++;
      return undefined;
    }
    if (attributes[key] !== undefined) return fail('PROTOCOL_MALFORMED_REQUEST', `attribute ${name} given twice`, text.slice(start, Math.min(end, start + 200)));
    if (value === undefined) {
      value = text.slice(eq + 1, end);
      sliced.push(key);
    }
    if (NUMERIC.has(key) && value !== '' && !DIGITS.test(value)) return fail('PROTOCOL_MALFORMED_REQUEST', `attribute ${name} is not a number`, text.slice(start, Math.min(end, start + 200)));
    attributes[key] = value;
    return undefined;
  }

  function complete(): ParseResult<PolicyRequest> {
    if (attributes.request !== 'smtpd_access_policy') {
      return fail('PROTOCOL_MALFORMED_REQUEST', lines === 0 ? 'an empty request' : 'a request without request=smtpd_access_policy');
    }
    const request: PolicyRequest = { attributes, unknownAttributes: unknown, bytes: requestBytes };
    attributes = {};
    sliced.length = 0;
    lines = 0;
    unknown = 0;
    requestBytes = 0;
    return parsed(request);
  }

  return {
    push(chunk) {
      if (failed || chunk.length === 0) return;
      // A request whose first lines came before: its values cut from `text` (ASCII; the others were decoded as
      // UTF-8 into strings of their own) get their own copies, so that `text` (up to a whole read, most of it
      // consumed) is let go below instead of staying alive as long as the request is unfinished.
      for (const key of sliced) attributes[key] = Buffer.from(attributes[key] as string, 'latin1').toString('latin1');
      sliced.length = 0;
      const added = chunk.toString('latin1');
      const base = pos === text.length ? 0 : text.length - pos;
      if (base === 0) {
        text = added;
        scan = 0;
        nulAt = -1;
        highAt = -1;
      } else {
        text = text.slice(pos) + added;
        scan -= pos;
        if (nulAt !== -1) nulAt -= pos;
        if (highAt !== -1) highAt -= pos;
      }
      pos = 0;
      if (nulAt === -1) {
        const nul = added.indexOf('\0');
        if (nul !== -1) nulAt = base + nul;
      }
      if (highAt === -1) {
        const high = firstHigh(added, 0);
        if (high !== -1) highAt = base + high;
      }
    },
    next() {
      if (failed) return undefined;
      for (;;) {
        const lf = text.indexOf(LF, scan);
        if (lf === -1) {
          scan = text.length;
          const partial = text.length - pos;
          const content = partial - (text.charCodeAt(text.length - 1) === CR ? 1 : 0);
          if (content > maxLineBytes) return fail('PROTOCOL_LINE_TOO_LONG', `line longer than ${maxLineBytes} bytes`, text.slice(pos, pos + 200));
          if (requestBytes + partial > maxRequestBytes) return fail('PROTOCOL_REQUEST_TOO_LARGE', `request larger than ${maxRequestBytes} bytes`);
          if (partial === 0) {
            text = '';
            pos = 0;
            scan = 0;
          }
          return undefined;
        }
        const start = pos;
        const end = lf > start && text.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
        pos = lf + 1;
        scan = pos;
        requestBytes += pos - start;
        if (end - start > maxLineBytes) return fail('PROTOCOL_LINE_TOO_LONG', `line longer than ${maxLineBytes} bytes`, text.slice(start, start + 200));
        if (requestBytes > maxRequestBytes) return fail('PROTOCOL_REQUEST_TOO_LARGE', `request larger than ${maxRequestBytes} bytes`);
        if (end === start) return complete();
        const error = attribute(start, end);
        if (error) return error;
      }
    },
    end() {
      if (failed) return undefined;
      const partial = text.length - pos;
      if (partial === 0 && lines === 0) return undefined;
      failed = true;
      return parseFailure('PROTOCOL_LINE_UNTERMINATED', 'the stream ended in the middle of a request', text.slice(pos, pos + 200)).error;
    },
    buffered: () => text.length - pos,
    retained: () => text.length,
    discard() {
      failed = true;
      text = '';
      pos = 0;
      scan = 0;
      attributes = {};
      sliced.length = 0;
    },
    inRequest: () => !failed && (lines > 0 || text.length > pos),
  };
}

/**
 * Decodes a whole byte string: every request, then the error that stopped decoding (a cut-short request at the end
 * counts). For tests and tools; a server feeds `createPolicyDecoder` as bytes arrive.
 */
export function decodePolicyRequests(bytes: Buffer, options?: PolicyDecoderOptions): ParseResult<PolicyRequest>[] {
  const decoder = createPolicyDecoder(options);
  decoder.push(bytes);
  const out: ParseResult<PolicyRequest>[] = [];
  for (let item = decoder.next(); item !== undefined; item = decoder.next()) out.push(item);
  const cut = decoder.end();
  if (cut) out.push({ ok: false, error: cut });
  return out;
}

/** Text a reply may carry: printable ASCII only (it reaches the SMTP client as reply text). */
const REPLY_ACTION = /^[\x20-\x7e]{1,512}$/;

/**
 * The reply to one request: `action=<action>\n\n`. `action` is an access(5) action with its text (`DUNNO`,
 * `DEFER_IF_PERMIT 4.7.1 rate limit exceeded`); anything outside printable ASCII is a caller bug and throws.
 */
export function formatPolicyReply(action: string): string {
  if (!REPLY_ACTION.test(action)) throw new RangeError(`policy action must be 1 to 512 printable ASCII characters, got ${JSON.stringify(action.slice(0, 80))}`);
  return `action=${action}\n\n`;
}
