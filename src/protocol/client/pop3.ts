/** POP3 readiness dialog: greeting, (STLS and the handshake,) CAPA, QUIT. */
import { createPop3MultilineParser, parsePop3Status, type Pop3Status } from '../pop3-response.ts';
import { parsed, type ParseResult } from '../result.ts';
import type { Connection, StepReader } from './connection.ts';
import { readOneLine, runDialog, sayGoodbye, type DialogOptions, type DialogResult } from './dialog.ts';
import type { TlsClientOptions, TlsDetail } from './tls.ts';

export interface Pop3CapaDetail {
  /** The +OK greeting. */
  readonly greeting: Pop3Status;
  /** CAPA lines, e.g. `TOP`, `UIDL`, `SASL PLAIN` (after STLS: those on TLS). */
  readonly capabilities: readonly string[];
  /** The TLS session, when `tls` was asked for. */
  readonly tls?: TlsDetail;
}

export interface Pop3MultilineResponse {
  readonly status: Pop3Status;
  /** The body lines, unstuffed; empty when the status is -ERR (no body follows). */
  readonly lines: readonly string[];
}

export const readStatus = readOneLine(parsePop3Status);

/** Reads the greeting (+OK), sends CAPA (expects +OK and the list), then QUIT. */
export function pop3Capa(options: DialogOptions): Promise<DialogResult<Pop3CapaDetail>> {
  return runDialog(options, async (connection) => {
    const greeting = expectOk(connection, 'greeting', await connection.exchange('greeting', undefined, readStatus));
    if (options.tls?.mode === 'starttls') await pop3StartTls(connection, options.tls);
    const capa = await connection.exchange('capa', 'CAPA', readMultiline);
    expectOk(connection, 'capa', capa.status);
    await sayGoodbye(connection, 'quit', 'QUIT', readStatus);
    const detail = { greeting, capabilities: capa.lines };
    return connection.tls === undefined ? detail : { ...detail, tls: connection.tls };
  });
}

/** `STLS` (RFC 2595 section 4): +OK is the go-ahead for the handshake; -ERR means the server will not. */
export async function pop3StartTls(connection: Connection, tls: TlsClientOptions): Promise<TlsDetail> {
  const status = await connection.exchange('stls', 'STLS', readStatus);
  if (!status.ok) throw connection.error('PROTOCOL_TLS_UNAVAILABLE', 'stls', 'STLS answered -ERR', { reply: `-ERR ${status.text}` });
  return connection.startTls('tls', tls);
}

/** Reads a status line and, after +OK, the multi-line body up to the `.` line. */
export const readMultiline: StepReader<Pop3MultilineResponse> = async (nextLine) => {
  const status = parsePop3Status(await nextLine());
  if (!status.ok) return status;
  if (!status.value.ok) return parsed({ status: status.value, lines: [] });
  const parser = createPop3MultilineParser();
  for (;;) {
    const body: ParseResult<string[]> | undefined = parser.push(await nextLine());
    if (body === undefined) continue;
    return body.ok ? parsed({ status: status.value, lines: body.value }) : body;
  }
};

export function expectOk(connection: Connection, step: string, status: Pop3Status): Pop3Status {
  if (status.ok) return status;
  throw connection.error('PROTOCOL_UNEXPECTED_REPLY', step, 'expected +OK, got -ERR', { reply: `-ERR ${status.text}` });
}
