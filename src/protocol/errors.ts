/**
 * Error codes of the protocol layer. Kept beside the codecs until the lead folds them into
 * `src/errors.ts` (`...PROTOCOL_ERROR_CODES`); tests assert the code, never the message.
 *
 * Codecs never throw on bad input: they return a `ParseError` value (`result.ts`). The dialog clients
 * throw a {@link ProtocolError}, which says where it happened (`address`, `step`).
 */
export const PROTOCOL_ERROR_CODES = {
  PROTOCOL_LINE_TOO_LONG: 'a line was longer than the line limit',
  PROTOCOL_LINE_UNTERMINATED: 'the stream ended in the middle of a line',
  PROTOCOL_MALFORMED_REPLY: 'a reply line did not follow the protocol grammar',
  PROTOCOL_MALFORMED_REQUEST: 'a request line did not follow the protocol grammar',
  PROTOCOL_REQUEST_TOO_LARGE: 'a request had more lines or bytes than the request limit',
  PROTOCOL_REPLY_CODE_MISMATCH: 'a line of a multi-line SMTP reply carried a different code',
  PROTOCOL_REPLY_TOO_LONG: 'a reply had more lines than the reply limit',
  PROTOCOL_UNEXPECTED_REPLY: 'the peer answered, but not with the expected reply',
  PROTOCOL_CONNECT_FAILED: 'the TCP connection could not be opened',
  PROTOCOL_CONNECTION_CLOSED: 'the peer closed or reset the connection before the dialog finished',
  PROTOCOL_TIMEOUT: 'a dialog step took longer than its timeout',
  PROTOCOL_ABORTED: 'the caller aborted the dialog',
  PROTOCOL_INVALID_OPTION: 'a client option was not acceptable',
  PROTOCOL_TLS_UNAVAILABLE: 'the peer did not offer STARTTLS (or STLS) or refused it; the client does not fall back to plaintext',
  PROTOCOL_TLS_HANDSHAKE_FAILED: 'the TLS handshake failed: no common protocol version or cipher, or the peer does not speak TLS',
  PROTOCOL_TLS_UNTRUSTED: "the peer's certificate does not chain to a trusted CA, has expired, or does not name the server",
  PROTOCOL_AUTH_WITHOUT_TLS: 'credentials were about to be sent in plaintext; authenticate after TLS or allow it explicitly',
} as const;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR_CODES;

/** The codes a pure codec can return (see `result.ts`). */
export type ParseErrorCode = Extract<
  ProtocolErrorCode,
  | 'PROTOCOL_LINE_TOO_LONG'
  | 'PROTOCOL_LINE_UNTERMINATED'
  | 'PROTOCOL_MALFORMED_REPLY'
  | 'PROTOCOL_MALFORMED_REQUEST'
  | 'PROTOCOL_REQUEST_TOO_LARGE'
  | 'PROTOCOL_REPLY_CODE_MISMATCH'
  | 'PROTOCOL_REPLY_TOO_LONG'
>;

/** Thrown by the dialog clients. `step` names the dialog step (`connect`, `banner`, `ehlo`, ...). */
export interface ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  /** `host:port` of the peer. */
  readonly address: string;
  readonly step: string;
  /** The numeric reply code (SMTP/LMTP) when the peer sent one. */
  readonly replyCode?: number;
  /** The offending reply line(s), cut to 200 characters. */
  readonly reply?: string;
}

const REPLY_EXCERPT_CHARS = 200;

export interface ProtocolErrorFields {
  readonly address: string;
  readonly step: string;
  readonly replyCode?: number;
  readonly reply?: string;
  readonly cause?: unknown;
}

export function protocolError(code: ProtocolErrorCode, message: string, fields: ProtocolErrorFields): ProtocolError {
  const { cause, reply, replyCode, address, step } = fields;
  const error = new Error(`${message} (${address}, ${step})`, cause === undefined ? undefined : { cause });
  error.name = 'ProtocolError';
  return Object.assign(error, {
    code,
    address,
    step,
    ...(replyCode === undefined ? {} : { replyCode }),
    ...(reply === undefined ? {} : { reply: reply.slice(0, REPLY_EXCERPT_CHARS) }),
  });
}

export function isProtocolError(value: unknown, code?: ProtocolErrorCode): value is ProtocolError {
  if (!(value instanceof Error) || !('code' in value) || typeof value.code !== 'string') return false;
  if (!Object.hasOwn(PROTOCOL_ERROR_CODES, value.code)) return false;
  return code === undefined || value.code === code;
}
