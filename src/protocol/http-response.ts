/**
 * A whole HTTP/1.x response (RFC 9112), as read from a connection the client asked to close: status line, header
 * fields and a body framed by `Content-Length`, by chunked transfer coding, or by the end of the connection. The
 * agent reads its daemon's metrics with it (src/agent/dovecot-metrics.ts). Pure: bytes in, a typed value out; the
 * caller bounds the bytes.
 */
import { parsed, parseFailure, type ParseResult } from './result.ts';

export interface HttpResponse {
  readonly status: number;
  /** Header field names lower-cased; a repeated field's values joined with `, `. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

const STATUS_LINE = /^HTTP\/1\.[01] ([1-9]\d\d)(?: [\t \x21-\x7e\x80-\xff]*)?$/;
const FIELD = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[\t ]*(.*?)[\t ]*$/;
const DIGITS = /^\d{1,15}$/;
const CHUNK_SIZE = /^([0-9a-fA-F]{1,12})(?:[\t ]*;.*)?$/;

const malformed = (message: string, input?: string) => parseFailure('PROTOCOL_MALFORMED_REPLY', message, input);

/** Where the head ends (the empty line) and the body begins; lines may end in CRLF or a bare LF. */
function headEnd(bytes: Buffer): { head: number; body: number } | undefined {
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) {
    if (bytes[i + 1] === 0x0a) return { head: i, body: i + 2 };
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) return { head: i, body: i + 3 };
  }
  return undefined;
}

/** The chunked body at `bytes[start..]`, without its chunk framing; trailer fields are read and dropped. */
function dechunk(bytes: Buffer, start: number): ParseResult<Buffer> {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const eol = bytes.indexOf(0x0a, at);
    if (eol < 0) return malformed('the chunked body is truncated');
    const line = bytes.subarray(at, eol).toString('latin1').replace(/\r$/, '');
    const size = CHUNK_SIZE.exec(line)?.[1];
    if (size === undefined) return malformed('bad chunk size line', line);
    const length = parseInt(size, 16);
    at = eol + 1;
    if (length === 0) return parsed(Buffer.concat(parts));
    if (at + length > bytes.length) return malformed('the chunked body is truncated');
    parts.push(bytes.subarray(at, at + length));
    at += length;
    if (bytes[at] === 0x0d) at++;
    if (bytes[at] !== 0x0a) return malformed('a chunk does not end with a line break');
    at++;
  }
}

export function parseHttpResponse(bytes: Buffer): ParseResult<HttpResponse> {
  const end = headEnd(bytes);
  if (!end) return malformed('the response head is incomplete');
  const [statusLine = '', ...fieldLines] = bytes.subarray(0, end.head).toString('latin1').split('\n').map((l) => l.replace(/\r$/, ''));
  const status = STATUS_LINE.exec(statusLine)?.[1];
  if (status === undefined) return malformed('not an HTTP/1.x status line', statusLine);
  const headers = new Map<string, string>();
  for (const line of fieldLines) {
    const field = FIELD.exec(line);
    if (!field) return malformed('bad header field', line);
    const name = (field[1] as string).toLowerCase();
    const previous = headers.get(name);
    headers.set(name, previous === undefined ? (field[2] as string) : `${previous}, ${field[2] as string}`);
  }
  const coding = headers.get('transfer-encoding');
  if (coding !== undefined) {
    if (coding.toLowerCase().split(',').map((c) => c.trim()).at(-1) !== 'chunked') return malformed('a transfer coding other than chunked', coding);
    const body = dechunk(bytes, end.body);
    return body.ok ? parsed({ status: Number(status), headers, body: body.value }) : body;
  }
  const length = headers.get('content-length');
  if (length === undefined) return parsed({ status: Number(status), headers, body: bytes.subarray(end.body) });
  if (!DIGITS.test(length)) return malformed('bad Content-Length', length);
  if (bytes.length - end.body < Number(length)) return malformed('the body is shorter than its Content-Length');
  return parsed({ status: Number(status), headers, body: bytes.subarray(end.body, end.body + Number(length)) });
}
