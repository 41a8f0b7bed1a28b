/** clamd readiness dialog: `PING`, expecting `PONG` (clamd answers once its signatures are loaded). */
import { readRawLine, runDialog, type DialogOptions, type DialogResult } from './dialog.ts';

export interface ClamdPingDetail {
  /** The reply line, `PONG`. */
  readonly reply: string;
}

const PONG_REPLY = 'PONG';

/**
 * Sends `nPING` (the newline-terminated form of the command) and expects `PONG`. Any other answer (clamd says
 * `UNKNOWN COMMAND` to what it cannot parse) rejects with `PROTOCOL_UNEXPECTED_REPLY` carrying the reply.
 */
export async function clamdPing(options: DialogOptions): Promise<DialogResult<ClamdPingDetail>> {
  return runDialog(options, async (connection) => {
    const reply = await connection.exchange('ping', 'nPING', readRawLine);
    if (reply !== PONG_REPLY) throw connection.error('PROTOCOL_UNEXPECTED_REPLY', 'ping', `expected ${PONG_REPLY}`, { reply });
    return { reply };
  });
}
