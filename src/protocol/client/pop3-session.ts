/** A POP3 client session for reading mail: the prober and tests fetch through it. */
import { createPop3MultilineParser, parsePop3Status, type Pop3Status } from '../pop3-response.ts';
import { parsed, type ParseResult } from '../result.ts';
import { openConnection, type StepReader } from './connection.ts';
import { DEFAULT_STEP_TIMEOUT_MS, readOneLine } from './dialog.ts';

export interface Pop3SessionOptions {
  host: string;
  port: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Longest message, in lines, that RETR will read. Default 1,000,000. */
  maxMessageLines?: number;
}

export interface Pop3Session {
  /** USER/PASS; resolves with the status (ok false on a refused login). */
  login(user: string, password: string): Promise<Pop3Status>;
  /** Message numbers and sizes (LIST). */
  list(): Promise<{ number: number; size: number }[]>;
  /** The message, lines joined with CRLF, dot-unstuffed. */
  retrieve(number: number): Promise<string>;
  quit(): Promise<void>;
}

const readStatus = readOneLine(parsePop3Status);

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
  const connection = await openConnection({
    host: options.host,
    port: options.port,
    timeoutMs: options.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
    signal: options.signal,
  });
  const body = readBody(options.maxMessageLines ?? 1_000_000);
  const expectOk = (step: string, status: Pop3Status) => {
    if (!status.ok) throw connection.error('PROTOCOL_UNEXPECTED_REPLY', step, `-ERR ${status.text}`, { reply: `-ERR ${status.text}` });
  };
  try {
    expectOk('greeting', await connection.exchange('greeting', undefined, readStatus));
  } catch (err) {
    connection.destroy();
    throw err;
  }
  return {
    async login(user, password) {
      if (/[\r\n]/.test(user + password)) throw connection.error('PROTOCOL_INVALID_OPTION', 'user', 'user and password must not contain CR or LF');
      const u = await connection.exchange('user', `USER ${user}`, readStatus);
      if (!u.ok) return u;
      return connection.exchange('pass', `PASS ${password}`, readStatus);
    },
    async list() {
      const r = await connection.exchange('list', 'LIST', body);
      expectOk('list', r.status);
      return r.lines.map((l) => {
        const [n, size] = l.split(' ');
        return { number: Number(n), size: Number(size) };
      });
    },
    async retrieve(number) {
      const r = await connection.exchange('retr', `RETR ${number}`, body);
      expectOk('retr', r.status);
      return r.lines.join('\r\n');
    },
    async quit() {
      try {
        await connection.exchange('quit', 'QUIT', readStatus);
      } catch {
        // the peer may hang up first
      } finally {
        connection.destroy();
      }
    },
  };
}
