/**
 * One LMTP transaction on a backend connection. The envelope (MAIL and the RCPTs) goes out pipelined with the
 * message's first chunk (`BDAT n`, or `BDAT n LAST` when that is the whole message): for the usual message one
 * write and one read at each end instead of two. A connection that fails before MAIL is answered (a pooled one
 * the backend had let go) may be replaced and the transaction sent again: Dovecot answers MAIL before it can
 * have read the chunk behind it, so nothing was stored. The rest of the message goes in `BDAT` chunks as it
 * arrives, with backpressure, and `BDAT … LAST` asks for one reply per recipient. Once MAIL is answered,
 * nothing is sent twice: a recipient the backend did not answer gets a 451.
 */
import type { Socket } from 'node:net';
import { lmtpReply, type LmtpReply, type SmtpReply } from '../protocol/index.ts';
import { BackendError, type Connection } from './backend-connection.ts';
import { drainOrClose } from './socket-drain.ts';

export interface Envelope {
  readonly sender: string;
  readonly mailParams: readonly string[];
  readonly recipients: readonly string[];
}

export interface TransactionTimeouts {
  /** Silence allowed while waiting for the reply to a command or a chunk. */
  replyTimeoutMs: number;
  /** Silence allowed while waiting for the replies after the last chunk (the backend is storing the message). */
  dataTimeoutMs: number;
}

/** Where a message goes once its envelope is accepted somewhere. */
export interface MessageSink {
  /** Appends message bytes (dot-unstuffed). False: the backend is behind; wait for `whenWritable()`. */
  write(chunk: Buffer): boolean;
  whenWritable(): Promise<void>;
  /**
   * Ends the message (`last`: its final bytes, sent with the end) and resolves with one reply per recipient.
   * When the first chunk was the whole message, it only reads the replies (`last` is then empty).
   */
  finish(last?: Buffer): Promise<LmtpReply[]>;
  /** Gives the message up: it is never completed, so the backend stores nothing. */
  abort(): void;
}

export type EnvelopeResult =
  /** At least one recipient accepted: the message may follow. */
  | { readonly kind: 'open'; readonly sink: MessageSink }
  /** Every recipient already has its final reply; `reusable`: the connection is back in step. */
  | { readonly kind: 'done'; readonly replies: LmtpReply[]; readonly reusable: boolean }
  /** The connection was closed before the envelope was answered: nothing can have been stored. */
  | { readonly kind: 'closed'; readonly reason: string }
  /** Silence or nonsense: the connection is given up. */
  | { readonly kind: 'failed'; readonly reason: string };

export function asLmtpReply(r: SmtpReply): LmtpReply {
  const fallback = r.code < 300 ? '2.0.0' : r.code < 500 ? '4.0.0' : '5.0.0';
  return lmtpReply(r.code, r.enhanced ?? fallback, r.lines.join(' ').trim() || 'no text');
}

export function temporary(recipient: string, text: string): LmtpReply {
  return lmtpReply(451, '4.4.0', `<${recipient}> ${text}`);
}

/** The message's first bytes, sent with the envelope; `last`: they are the whole message. */
export interface FirstChunk {
  readonly data: Buffer;
  readonly last: boolean;
}

/** Why a connection failed, before MAIL was answered (`closed` then proves nothing was stored) or after. */
function failure(err: unknown, mailAnswered: boolean): EnvelopeResult {
  const message = err instanceof Error ? err.message : String(err);
  return !mailAnswered && err instanceof BackendError && err.kind === 'closed' ? { kind: 'closed', reason: message } : { kind: 'failed', reason: message };
}

function chunkCommand(size: number, last: boolean): string {
  return `BDAT ${size}${last ? ' LAST' : ''}\r\n`;
}

/** Commands and the chunk behind them in one write; false when the socket says wait. */
function send(socket: Socket, commands: string, chunk: Buffer | undefined): boolean {
  socket.cork();
  socket.write(commands);
  const more = chunk && chunk.length > 0 ? socket.write(chunk) : true;
  socket.uncork();
  return more && !socket.writableNeedDrain;
}

/**
 * Sends MAIL, the RCPTs and the first chunk pipelined and reads the envelope's replies. When the result is
 * `open`, the sink's `onEnd` hears once, at its end, whether `conn` may be reused; otherwise the caller decides
 * from the result.
 */
export async function sendEnvelope(conn: Connection, env: Envelope, t: TransactionTimeouts, onEnd: (reusable: boolean) => void, first: FirstChunk): Promise<EnvelopeResult> {
  const params = env.mailParams.length > 0 ? ` ${env.mailParams.join(' ')}` : '';
  conn.busy(true);
  const { socket } = conn;
  send(socket, `MAIL FROM:<${env.sender}>${params}\r\n${env.recipients.map((r) => `RCPT TO:<${r}>\r\n`).join('')}${chunkCommand(first.data.length, first.last)}`, first.data);
  const rcpt: SmtpReply[] = [];
  let mail: SmtpReply;
  try {
    mail = await conn.reply(t.replyTimeoutMs);
  } catch (err) {
    return failure(err, false);
  }
  // 421 is a backend closing the connection, as Dovecot does to one it has let idle too long.
  if (mail.code === 421) return { kind: 'closed', reason: `backend is closing: ${mail.lines.join(' ')}` };
  try {
    for (let i = 0; i < env.recipients.length; i++) rcpt.push(await conn.reply(t.replyTimeoutMs));
    if (mail.code >= 300 || rcpt.every((r) => r.code >= 300)) {
      // No transaction, or none with a recipient: the chunk is refused with one reply.
      await conn.reply(t.replyTimeoutMs);
      let reusable = true;
      if (mail.code < 300) {
        // MAIL was taken: RSET ends the transaction so the connection can carry the next one.
        socket.write('RSET\r\n');
        reusable = (await conn.reply(t.replyTimeoutMs).catch(() => undefined))?.code === 250;
      }
      conn.busy(false);
      return { kind: 'done', replies: mail.code >= 300 ? env.recipients.map(() => asLmtpReply(mail)) : rcpt.map(asLmtpReply), reusable };
    }
  } catch (err) {
    return failure(err, true);
  }
  return { kind: 'open', sink: openMessage(conn, env, rcpt, t, onEnd, first.last) };
}

/** `lastSent`: the first chunk was the whole message; `finish` then only reads the replies. */
function openMessage(conn: Connection, env: Envelope, rcpt: readonly SmtpReply[], t: TransactionTimeouts, onEnd: (reusable: boolean) => void, lastSent: boolean): MessageSink {
  const { socket } = conn;
  /** Chunks sent whose reply has not been read: the first one's, unless it was the last. */
  let unanswered = lastSent ? 0 : 1;
  let reading: Promise<void> = Promise.resolve();
  let readerRunning = false;
  /** The first chunk the backend refused, or why the connection failed. */
  let refused: SmtpReply | undefined;
  let broken: string | undefined;
  let ended = false;

  const end = (reusable: boolean): void => {
    if (ended) return;
    ended = true;
    conn.busy(false);
    if (!reusable) socket.destroy();
    onEnd(reusable);
  };

  async function readChunkReplies(): Promise<void> {
    readerRunning = true;
    try {
      while (unanswered > 0) {
        const r = await conn.reply(t.replyTimeoutMs);
        unanswered--;
        if (r.code >= 300) refused ??= r;
      }
    } catch (err) {
      broken ??= (err as Error).message;
    } finally {
      readerRunning = false;
    }
  }

  if (unanswered > 0) reading = readChunkReplies();

  return {
    write(chunk) {
      if (ended || broken !== undefined || refused || socket.destroyed || chunk.length === 0) return true;
      const more = send(socket, chunkCommand(chunk.length, false), chunk);
      unanswered++;
      if (!readerRunning) reading = readChunkReplies();
      return more;
    },
    whenWritable() {
      if (ended || socket.destroyed || !socket.writableNeedDrain) return Promise.resolve();
      return drainOrClose(socket);
    },
    async finish(last) {
      const unstored = (text: string): LmtpReply[] => env.recipients.map((r, i) => (rcpt[i] as SmtpReply).code >= 300 ? asLmtpReply(rcpt[i] as SmtpReply) : temporary(r, text));
      if (ended) return unstored('message given up');
      if (!lastSent && broken === undefined && !socket.destroyed) send(socket, chunkCommand(last?.length ?? 0, true), last);
      await reading;
      if (broken !== undefined || refused) {
        end(false);
        // The backend refused a chunk: the message is not stored, and its reply says why.
        return refused ? env.recipients.map((_, i) => asLmtpReply((rcpt[i] as SmtpReply).code >= 300 ? (rcpt[i] as SmtpReply) : (refused as SmtpReply))) : unstored(`backend failed: ${broken}`);
      }
      const replies: LmtpReply[] = [];
      let lost: string | undefined;
      for (const [i, r] of rcpt.entries()) {
        if (r.code >= 300) replies.push(asLmtpReply(r));
        else if (lost !== undefined) replies.push(temporary(env.recipients[i] as string, lost));
        else {
          try {
            replies.push(asLmtpReply(await conn.reply(t.dataTimeoutMs)));
          } catch (err) {
            // What the backend answered stands; the rest may or may not be stored, and only a retry can tell.
            lost = `backend failed before answering: ${(err as Error).message}`;
            replies.push(temporary(env.recipients[i] as string, lost));
          }
        }
      }
      end(lost === undefined);
      return replies;
    },
    abort() {
      end(false);
    },
  };
}
