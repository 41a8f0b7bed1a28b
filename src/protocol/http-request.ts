/**
 * The request line of HTTP/1.0 and 1.1 (RFC 9112 §3), as the agent's health endpoints read it: `GET /readyz HTTP/1.1`.
 * Pure: one line in (decoded latin1, terminator stripped, as `lines.ts` yields it), a typed value out.
 */
import { parsed, parseFailure, type ParseResult } from './result.ts';

export interface HttpRequestLine {
  /** The method as sent (case-sensitive: `get` is not `GET`). */
  readonly method: string;
  /** The origin-form target's path, without the query: `/readyz` of `/readyz?verbose`. */
  readonly path: string;
  readonly version: '1.0' | '1.1';
}

/** Longest method accepted; every method the agent serves is at most 4 letters. */
const MAX_METHOD_CHARS = 16;
/** RFC 9110 token characters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** An origin-form target: `/` then visible ASCII, no spaces or controls. */
const ORIGIN_FORM = /^\/[\x21-\x7e]*$/;
const VERSION = /^HTTP\/1\.([01])$/;

export function parseHttpRequestLine(line: string): ParseResult<HttpRequestLine> {
  const parts = line.split(' ');
  const [method = '', target = '', protocol = ''] = parts;
  if (parts.length !== 3) return parseFailure('PROTOCOL_MALFORMED_REQUEST', 'expected METHOD SP TARGET SP HTTP-VERSION', line);
  if (method.length > MAX_METHOD_CHARS || !TOKEN.test(method)) return parseFailure('PROTOCOL_MALFORMED_REQUEST', 'method is not a token', line);
  if (!ORIGIN_FORM.test(target)) return parseFailure('PROTOCOL_MALFORMED_REQUEST', 'target is not in origin form', line);
  const version = VERSION.exec(protocol)?.[1];
  if (version === undefined) return parseFailure('PROTOCOL_MALFORMED_REQUEST', 'not HTTP/1.0 or HTTP/1.1', line);
  const query = target.indexOf('?');
  return parsed({ method, path: query < 0 ? target : target.slice(0, query), version: version === '0' ? '1.0' : '1.1' });
}
