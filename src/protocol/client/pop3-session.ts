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
    quit: () => connection.close(() => connection.exchange('quit', 'QUIT', readStatus)),
  };
}
