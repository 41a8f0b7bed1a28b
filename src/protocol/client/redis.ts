/** Redis readiness dialog: `PING` as a RESP array, expecting the simple string `+PONG`. */
import { readRawLine, runDialog, type DialogOptions, type DialogResult } from './dialog.ts';

export interface RedisPingDetail {
  /** The reply line, `+PONG`. */
  readonly reply: string;
}

/** `*1\r\n$4\r\nPING`: the command as a RESP array, as redis-cli sends it (the connection adds the final CRLF). */
const PING_COMMAND = '*1\r\n$4\r\nPING';
const PONG_REPLY = '+PONG';

/**
 * Sends PING and expects `+PONG`. An error reply such as `-NOAUTH Authentication required.`
 * or `-LOADING ...` rejects with `PROTOCOL_UNEXPECTED_REPLY` carrying the reply.
 */
export function redisPing(options: DialogOptions): Promise<DialogResult<RedisPingDetail>> {
  return runDialog(options, async (connection) => {
    const reply = await connection.exchange('ping', PING_COMMAND, readRawLine);
    if (reply !== PONG_REPLY) {
      throw connection.error('PROTOCOL_UNEXPECTED_REPLY', 'ping', `expected ${PONG_REPLY}`, { reply });
    }
    return { reply };
  });
}
