/**
 * The probe account's mailbox over IMAP and POP3: reading answers (pure), finding a message by its tag over
 * POP3, and removing the stale probe messages a crashed or failed cycle left behind.
 */
import { openImapSession, type ImapCommandResponse, type ImapResponse, type Pop3Session, type TlsClientOptions } from '../protocol/index.ts';
import { headerValue, PROBE_HEADER } from './message.ts';
import type { Endpoint } from './settings.ts';

/** Most messages a POP3 look goes through, newest first; anything older is stale, for the clean-up. */
export const POP3_SCAN_LIMIT = 100;

/** The UIDs a `UID SEARCH` answered (`* SEARCH 4 9`), in the order given. */
export function searchUids(untagged: readonly ImapResponse[]): number[] {
  const out: number[] = [];
  for (const r of untagged) {
    if (r.kind !== 'data') continue;
    const m = /^SEARCH((?: \d+)*)\s*$/i.exec(r.text);
    if (!m) continue;
    for (const n of (m[1] ?? '').trim().split(' ')) if (/^\d{1,10}$/.test(n)) out.push(Number(n));
  }
  return out;
}

/** The message a `UID FETCH … (BODY.PEEK[])` returned: the literal of its FETCH response. */
export function fetchedLiteral(untagged: readonly ImapResponse[]): string | undefined {
  for (const r of untagged) {
    if (r.kind === 'data' && /^\d+ FETCH \(/i.test(r.text) && r.literals !== undefined && r.literals.length > 0) return r.literals[0];
  }
  return undefined;
}

/**
 * The UID set an ESEARCH `RETURN (ALL)` answered (`* ESEARCH (TAG "a3") UID ALL 4:17,20`), verbatim; undefined
 * when nothing matched. Only digits, `:` and `,` pass, so the set goes into the next command as it is.
 */
export function esearchAll(untagged: readonly ImapResponse[]): string | undefined {
  for (const r of untagged) {
    if (r.kind !== 'data') continue;
    if (!/^ESEARCH\b/i.test(r.text)) continue;
    const m = / ALL ([0-9:,]+)(?: |$)/i.exec(r.text);
    if (m) return m[1];
  }
  return undefined;
}

/** How many UIDs a set (`4:17,20`) names. */
export function uidSetSize(set: string): number {
  let n = 0;
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number);
    if (a === undefined || !Number.isFinite(a)) continue;
    n += b === undefined || !Number.isFinite(b) ? 1 : Math.abs(b - a) + 1;
  }
  return n;
}

/** The number of the message tagged `tag` in a POP3 session's maildrop (TOP of each, newest first), or undefined. */
export async function findByTop(session: Pop3Session, tag: string): Promise<number | undefined> {
  const numbers = (await session.list()).map((m) => m.number).sort((a, b) => b - a).slice(0, POP3_SCAN_LIMIT);
  for (const n of numbers) {
    const head = await session.top(n, 0);
    if (head !== undefined && headerValue(head, PROBE_HEADER) === tag) return n;
  }
  return undefined;
}

function expectOk(what: string, response: ImapCommandResponse): void {
  if (response.tagged.status !== 'OK') throw new Error(`${what} answered ${response.tagged.status} ${response.tagged.text}`);
}

export interface StaleCleanup {
  endpoint: Endpoint;
  account: { address: string; password: string };
  tls: TlsClientOptions;
  timeoutMs: number;
  signal: AbortSignal;
  /** Messages delivered longer ago than this are stale. */
  olderThanS: number;
}

/**
 * Removes probe messages delivered more than `olderThanS` ago: those carrying the probe header, and bounces
 * quoting one (the header in their body). Returns how many went.
 */
export async function removeStale(opts: StaleCleanup): Promise<number> {
  const imap = await openImapSession({ ...opts.endpoint, timeoutMs: opts.timeoutMs, signal: opts.signal, tls: opts.tls });
  try {
    const login = await imap.login(opts.account.address, opts.account.password);
    if (login.status !== 'OK') throw new Error(`IMAP LOGIN answered ${login.status} ${login.text}`);
    expectOk('SELECT INBOX', await imap.command('SELECT INBOX'));
    const found = await imap.command(`UID SEARCH RETURN (ALL) OLDER ${Math.max(1, Math.floor(opts.olderThanS))} OR HEADER ${PROBE_HEADER} "" BODY "${PROBE_HEADER}:"`);
    expectOk('UID SEARCH', found);
    const set = esearchAll(found.untagged);
    if (set === undefined) return 0;
    expectOk('UID STORE', await imap.command(`UID STORE ${set} +FLAGS.SILENT (\\Deleted)`));
    expectOk('UID EXPUNGE', await imap.command(`UID EXPUNGE ${set}`));
    return uidSetSize(set);
  } finally {
    await imap.logout();
  }
}
