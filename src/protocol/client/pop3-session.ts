/**
 * A POP3 client session for reading mail: the prober and tests fetch through it. With `tls` the
 * session is on TLS before it returns (implicit TLS, or STLS right after the greeting).
 */
import { createPop3MultilineParser, parsePop3Status, type Pop3Status } from '../pop3-response.ts';
import { parsed, type ParseResult } from '../result.ts';
import type { StepReader } from './connection.ts';
import { checkAuthOverTls, connectDialog, type DialogOptions } from './dialog.ts';
import { expectOk, pop3StartTls, readStatus } from './pop3.ts';
import type { TlsDetail } from './tls.ts';

export interface Pop3SessionOptions extends DialogOptions {
  /** Longest message, in lines, that RETR will read. Default 1,000,000. */
  maxMessageLines?: number;
  /**
   * Let USER/PASS send credentials without TLS. Default false: `login` on a plaintext session rejects
   * with `PROTOCOL_AUTH_WITHOUT_TLS` before anything is sent. Only for testing a server's refusal.
   */
  allowPlaintextAuth?: boolean;
}

export interface Pop3Session {
  /** The TLS session; undefined on plaintext. */
  readonly tls: TlsDetail | undefined;
  /** USER/PASS on TLS; resolves with the status (ok false on a refused login). */
  login(user: string, password: string): Promise<Pop3Status>;
  /** Message numbers and sizes (LIST). */
  list(): Promise<{ number: number; size: number }[]>;
  /** The message, lines joined with CRLF, dot-unstuffed. */
  retrieve(number: number): Promise<string>;
  /** Message numbers and unique ids (UIDL). */
  uidl(): Promise<{ number: number; uid: string }[]>;
  /**
   * The header and the first `bodyLines` lines of the body (TOP, RFC 1939 section 7), lines joined with
   * CRLF; undefined when the server answers -ERR (a message another session removed meanwhile).
   */
  top(number: number, bodyLines: number): Promise<string | undefined>;
  /** Marks a message deleted (DELE); the status says whether the server took it. It goes at {@link update}. */
  dele(number: number): Promise<Pop3Status>;
  /**
   * QUIT, which removes the messages marked deleted (the UPDATE state, RFC 1939 section 6), then closes.
   * Rejects with `PROTOCOL_UNEXPECTED_REPLY` when the server answers -ERR (some were not removed).
   */
  update(): Promise<Pop3Status>;
  quit(): Promise<void>;
}

function readBody(maxLines: number): StepReader<{ status: Pop3Status; lines: string[] }> {
  return async (nextLine) => {
    const status = parsePop3Status(await nextLine());
    if (!status.ok) return status;
    if (!status.value.ok) return parsed({ status: status.value, lines: [] });
    const parser = createPop3MultilineParser({ maxLines });
    for (;;) {
      const body: ParseResult<string[]> | undefined = parser.push(await nextLine());
      if (body !== undefined) return body.ok ? parsed({ status: status.value, lines: body.value }) : body;
    }
  };
}

export async function openPop3Session(options: Pop3SessionOptions): Promise<Pop3Session> {
  const connection = await connectDialog(options);
  const body = readBody(options.maxMessageLines ?? 1_000_000);
  try {
    expectOk(connection, 'greeting', await connection.exchange('greeting', undefined, readStatus));
    if (options.tls?.mode === 'starttls') await pop3StartTls(connection, options.tls);
  } catch (err) {
    connection.destroy();
    throw err;
  }
  return {
    tls: connection.tls,
    async login(user, password) {
      checkAuthOverTls(connection, 'user', options.allowPlaintextAuth);
      if (/[\0\r\n]/.test(user + password)) throw connection.error('PROTOCOL_INVALID_OPTION', 'user', 'user and password must not contain NUL, CR or LF');
      const u = await connection.exchange('user', `USER ${user}`, readStatus);
      if (!u.ok) return u;
      return connection.exchange('pass', `PASS ${password}`, readStatus);
    },
    async list() {
      const r = await connection.exchange('list', 'LIST', body);
      expectOk(connection, 'list', r.status);
      return r.lines.map((l) => {
        const [n, size] = l.split(' ');
        return { number: Number(n), size: Number(size) };
      });
    },
    async retrieve(number) {
      const r = await connection.exchange('retr', `RETR ${number}`, body);
      expectOk(connection, 'retr', r.status);
      return r.lines.join('\r\n');
    },
    async uidl() {
      const r = await connection.exchange('uidl', 'UIDL', body);
      expectOk(connection, 'uidl', r.status);
      return r.lines.map((l) => {
        const [n, uid] = l.split(' ');
        return { number: Number(n), uid: uid ?? '' };
      });
    },
    async top(number, bodyLines) {
      checkNumber(number, 'top');
      if (!Number.isSafeInteger(bodyLines) || bodyLines < 0) throw connection.error('PROTOCOL_INVALID_OPTION', 'top', 'the line count must be a whole number');
      const r = await connection.exchange('top', `TOP ${number} ${bodyLines}`, body);
      return r.status.ok ? r.lines.join('\r\n') : undefined;
    },
    async dele(number) {
      checkNumber(number, 'dele');
      return connection.exchange('dele', `DELE ${number}`, readStatus);
    },
    async update() {
      try {
        return expectOk(connection, 'quit', await connection.exchange('quit', 'QUIT', readStatus));
      } finally {
        connection.destroy();
      }
    },
    quit: () => connection.close(() => connection.exchange('quit', 'QUIT', readStatus)),
  };

  function checkNumber(number: number, step: string): void {
    if (!Number.isSafeInteger(number) || number < 1) throw connection.error('PROTOCOL_INVALID_OPTION', step, 'a message number is a whole number from 1');
  }
}
