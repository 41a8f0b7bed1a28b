/**
 * Dovecot auth readiness dialog (the client protocol Postfix's SASL speaks to the proxy's auth port): on connect the
 * server sends its handshake, `VERSION 1 <minor>`, its mechanisms, `SPID`, `CUID`, `COOKIE`, then `DONE`, whatever
 * the client says; the dialog reads it up to `DONE` and hangs up, authenticating nobody.
 */
import { runDialog, type DialogOptions, type DialogResult } from './dialog.ts';
import type { StepReader } from './connection.ts';
import { parsed, parseFailure } from '../result.ts';

export interface DovecotAuthDetail {
  /** The mechanisms the server offers: `PLAIN`, `LOGIN`. */
  readonly mechanisms: readonly string[];
}

/** Lines a handshake may take: Dovecot sends five, and one per mechanism. */
const MAX_HANDSHAKE_LINES = 64;

const readHandshake: StepReader<DovecotAuthDetail> = async (nextLine) => {
  const mechanisms: string[] = [];
  const first = await nextLine();
  if (!/^VERSION\t1\t\d+$/.test(first)) return parseFailure('PROTOCOL_MALFORMED_REPLY', 'expected VERSION 1 (the Dovecot auth protocol)', first);
  for (let i = 1; i < MAX_HANDSHAKE_LINES; i++) {
    const line = await nextLine();
    if (line === 'DONE') {
      return mechanisms.length > 0 ? parsed({ mechanisms }) : parseFailure('PROTOCOL_MALFORMED_REPLY', 'the handshake offers no mechanism', line);
    }
    const [command = '', name = ''] = line.split('\t');
    if (command === 'MECH' && name !== '') mechanisms.push(name);
  }
  return parseFailure('PROTOCOL_MALFORMED_REPLY', `no DONE within ${MAX_HANDSHAKE_LINES} lines`);
};

/** Reads the server's handshake up to `DONE`; rejects with `PROTOCOL_MALFORMED_REPLY` on anything else. */
export async function dovecotAuthHandshake(options: DialogOptions): Promise<DialogResult<DovecotAuthDetail>> {
  return runDialog(options, (connection) => connection.exchange('handshake', undefined, readHandshake));
}
