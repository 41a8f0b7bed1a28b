/** IMAP readiness dialog: greeting, `a1 CAPABILITY`, `a2 LOGOUT`. */
import { parseImapResponse, type ImapResponse, type ImapStatusResponse } from '../imap-response.ts';
import { parsed, parseFailure } from '../result.ts';
import type { Connection, StepReader } from './connection.ts';
import { readOneLine, runDialog, sayGoodbye, type DialogOptions, type DialogResult } from './dialog.ts';

export interface ImapCapabilityDetail {
  /** The untagged OK or PREAUTH greeting. */
  readonly greeting: ImapStatusResponse;
  /** From `* CAPABILITY`, e.g. `IMAP4rev1`, `STARTTLS`, `AUTH=PLAIN`. */
  readonly capabilities: readonly string[];
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
    const greeting = expectGreeting(connection, await connection.exchange('greeting', undefined, readOneLine(parseImapResponse)));
    const response = await connection.exchange('capability', 'a1 CAPABILITY', readTagged('a1'));
    expectOk(connection, 'capability', response.tagged);
    await sayGoodbye(connection, 'logout', 'a2 LOGOUT', readTagged('a2'));
    return { greeting, capabilities: collectCapabilities(response.untagged) };
  });
}

/** Reads untagged responses up to the tagged response for `tag`. */
export function readTagged(tag: string): StepReader<ImapCommandResponse> {
  return async (nextLine) => {
    const untagged: ImapResponse[] = [];
    for (;;) {
      const line = await nextLine();
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
      untagged.push(response);
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

function expectOk(connection: Connection, step: string, tagged: ImapStatusResponse): void {
  if (tagged.status === 'OK') return;
  throw connection.error('PROTOCOL_UNEXPECTED_REPLY', step, `expected OK, got ${tagged.status}`, { reply: describe(tagged) });
}

function collectCapabilities(untagged: readonly ImapResponse[]): string[] {
  return untagged.flatMap((response) => (response.kind === 'capability' ? response.capabilities : []));
}

/** The gist of a response for error messages. */
function describe(response: ImapResponse): string {
  if (response.kind === 'status') return `${response.tag ?? '*'} ${response.status} ${response.text}`;
  return `${response.kind} response`;
}
