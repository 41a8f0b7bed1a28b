/** IMAP readiness dialog: greeting, (`a0 STARTTLS` and the handshake,) `a1 CAPABILITY`, `a2 LOGOUT`. */
import { createImapResponseAssembler } from '../imap-literal.ts';
import { parseImapResponse, type ImapResponse, type ImapStatusResponse } from '../imap-response.ts';
import { parsed, parseFailure } from '../result.ts';
import type { Connection, StepReader } from './connection.ts';
import { readOneLine, runDialog, sayGoodbye, type DialogOptions, type DialogResult } from './dialog.ts';
import type { TlsClientOptions, TlsDetail } from './tls.ts';

export interface ImapCapabilityDetail {
  /** The untagged OK or PREAUTH greeting. */
  readonly greeting: ImapStatusResponse;
  /** From `* CAPABILITY`, e.g. `IMAP4rev1`, `STARTTLS`, `AUTH=PLAIN` (after STARTTLS: those on TLS). */
  readonly capabilities: readonly string[];
  /** The TLS session, when `tls` was asked for. */
  readonly tls?: TlsDetail;
}

export interface ImapCommandResponse {
  /** Untagged responses that came before the tagged one. */
  readonly untagged: readonly ImapResponse[];
  readonly tagged: ImapStatusResponse;
}

/** Most untagged responses accepted before the tagged one; more is hostile for the commands sent here. */
const MAX_UNTAGGED_RESPONSES = 100;

/** Reads the greeting (OK or PREAUTH), sends CAPABILITY (expects OK), then LOGOUT. */
export function imapCapability(options: DialogOptions): Promise<DialogResult<ImapCapabilityDetail>> {
  return runDialog(options, async (connection) => {
    const greeting = await readGreeting(connection);
    if (options.tls?.mode === 'starttls') await imapStartTls(connection, 'a0', options.tls);
    const response = await connection.exchange('capability', 'a1 CAPABILITY', readTagged('a1'));
    expectOk(connection, 'capability', response.tagged);
    await sayGoodbye(connection, 'logout', 'a2 LOGOUT', readTagged('a2'));
    const detail = { greeting, capabilities: collectCapabilities(response.untagged) };
    return connection.tls === undefined ? detail : { ...detail, tls: connection.tls };
  });
}

/** The untagged OK or PREAUTH greeting. */
export async function readGreeting(connection: Connection): Promise<ImapStatusResponse> {
  return expectGreeting(connection, await connection.exchange('greeting', undefined, readOneLine(parseImapResponse)));
}

/**
 * `STARTTLS` (RFC 3501 6.2.1): a tagged OK is the go-ahead for the handshake; NO or BAD means the
 * server will not, which is an error rather than a reason to go on in plaintext.
 */
export async function imapStartTls(connection: Connection, tag: string, tls: TlsClientOptions): Promise<TlsDetail> {
  const response = await connection.exchange('starttls', `${tag} STARTTLS`, readTagged(tag));
  if (response.tagged.status !== 'OK') {
    throw connection.error('PROTOCOL_TLS_UNAVAILABLE', 'starttls', `STARTTLS answered ${response.tagged.status}`, { reply: describe(response.tagged) });
  }
  return connection.startTls('tls', tls);
}

/**
 * Reads untagged responses up to the tagged response for `tag`. With `maxLiteralBytes` above 0 it follows
 * literals (`{n}` at a line's end, see imap-literal.ts), up to that many octets per response, and hands
 * them back on the data response; with 0 (the readiness dialogs) a literal is not expected, and its lines
 * are read as responses of their own, which fail to parse.
 */
export function readTagged(tag: string, maxLiteralBytes = 0): StepReader<ImapCommandResponse> {
  return async (nextLine) => {
    const untagged: ImapResponse[] = [];
    const assembler = maxLiteralBytes > 0 ? createImapResponseAssembler({ maxLiteralBytes }) : undefined;
    for (;;) {
      let line = await nextLine();
      let literals: readonly string[] = [];
      if (assembler !== undefined) {
        let whole = assembler.push(line);
        while (whole === undefined) whole = assembler.push(await nextLine());
        if (!whole.ok) return whole;
        ({ text: line, literals } = whole.value);
      }
      const result = parseImapResponse(line);
      if (!result.ok) return result;
      const response = result.value;
      if (response.kind === 'status' && response.tag !== undefined) {
        if (response.tag === tag) return parsed({ untagged, tagged: response });
        return parseFailure('PROTOCOL_MALFORMED_REPLY', `tagged response for ${response.tag}, expected ${tag}`, line);
      }
      if (untagged.length >= MAX_UNTAGGED_RESPONSES) {
        return parseFailure('PROTOCOL_REPLY_TOO_LONG', `more than ${MAX_UNTAGGED_RESPONSES} untagged responses`, line);
      }
      untagged.push(response.kind === 'data' && literals.length > 0 ? { ...response, literals } : response);
    }
  };
}

function expectGreeting(connection: Connection, response: ImapResponse): ImapStatusResponse {
  const isGreeting = response.kind === 'status' && response.tag === undefined;
  if (isGreeting && (response.status === 'OK' || response.status === 'PREAUTH')) return response;
  throw connection.error('PROTOCOL_UNEXPECTED_REPLY', 'greeting', 'expected an untagged OK or PREAUTH greeting', {
    reply: describe(response),
  });
}

export function expectOk(connection: Connection, step: string, tagged: ImapStatusResponse): void {
  if (tagged.status === 'OK') return;
  throw connection.error('PROTOCOL_UNEXPECTED_REPLY', step, `expected OK, got ${tagged.status}`, { reply: describe(tagged) });
}

export function collectCapabilities(untagged: readonly ImapResponse[]): string[] {
  return untagged.flatMap((response) => (response.kind === 'capability' ? response.capabilities : []));
}

/** The gist of a response for error messages. */
export function describe(response: ImapResponse): string {
  if (response.kind === 'status') return `${response.tag ?? '*'} ${response.status} ${response.text}`;
  return `${response.kind} response`;
}
