/**
 * One LMTP client session at the router (RFC 2033): commands are answered in order, pipelined or not;
 * each RCPT asks the director for the user's backend; after the body, the recipients of each backend are
 * delivered there in one transaction and every recipient gets its backend's own reply, in RCPT order.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.ts';
import { formatLmtpReply, lmtpReply, parseLmtpCommand, recipientUser, type LmtpReply } from '../protocol/index.ts';
import type { BackendPool } from './backend-pool.ts';
import type { BackendLookup } from './director-lookup.ts';
import { createLmtpStream, type StreamItem } from './stream.ts';

export interface SessionLimits {
  maxLineBytes: number;
  maxMessageBytes: number;
  maxRecipients: number;
  /** A client silent this long gets 421 and is disconnected. */
  idleTimeoutMs: number;
}

/** What a session reports as it works, for metrics. */
export interface SessionEvents {
  recipient(result: 'accepted' | 'unknown' | 'lookup_failed'): void;
  delivered(replies: readonly LmtpReply[], bytes: number): void;
}

export interface SessionDeps {
  hostname: string;
  lookup: BackendLookup;
  pool: BackendPool;
  limits: SessionLimits;
  events: SessionEvents;
  log: Logger;
}

export interface Session {
  /** Says 421 (when idle now or once the transaction in progress ends) and closes. */
  shutdown(text: string): void;
  readonly closed: Promise<void>;
}

/** Unprocessed command bytes held before reading from the client pauses. */
const MAX_PENDING_BYTES = 64 * 1024;

interface Recipient {
  address: string;
  backend: string;
}

export function startSession(socket: Socket, deps: SessionDeps): Session {
  const { limits, log } = deps;
  const stream = createLmtpStream({ maxLineBytes: limits.maxLineBytes, maxBodyBytes: limits.maxMessageBytes });
  let greeted = false;
  let sender: { address: string; params: readonly string[] } | undefined;
  let recipients: Recipient[] = [];
  let readingBody = false;
  let pumping = false;
  let ending = false;
  let shutdownText: string | undefined;

  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.setNoDelay(true);
  // Waiting on a backend is not the client's inactivity: only a silent client between commands times out.
  socket.setTimeout(limits.idleTimeoutMs, () => {
    if (!pumping) hangUp('421 4.4.2 Disconnected for inactivity\r\n');
  });
  socket.on('error', (err) => log.debug({ err: err.message }, 'client connection error'));

  const send = (reply: LmtpReply): void => void socket.write(formatLmtpReply(reply));

  function hangUp(last: string): void {
    if (ending) return;
    ending = true;
    socket.end(last);
  }

  function reset(): void {
    sender = undefined;
    recipients = [];
  }

  function hello(name: string): void {
    reset();
    greeted = true;
    log.debug({ client: name }, 'client said hello');
    socket.write(`250-${deps.hostname}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n`);
  }

  async function recipient(address: string): Promise<void> {
    if (!sender) return send(lmtpReply(503, '5.5.1', 'MAIL needed first'));
    if (recipients.length >= limits.maxRecipients) return send(lmtpReply(452, '4.5.3', 'Too many recipients'));
    const found = await deps.lookup.lookup(recipientUser(address));
    if (found.kind === 'backend') {
      deps.events.recipient('accepted');
      recipients.push({ address, backend: found.host });
      return send(lmtpReply(250, '2.1.5', 'OK'));
    }
    if (found.kind === 'unknown') {
      deps.events.recipient('unknown');
      return send(lmtpReply(550, '5.1.1', `<${address}> User doesn't exist`));
    }
    deps.events.recipient('lookup_failed');
    log.warn({ rcpt: address, reason: found.reason }, 'backend lookup failed');
    return send(lmtpReply(451, '4.3.0', `<${address}> Temporary internal error`));
  }

  async function deliver(item: StreamItem): Promise<void> {
    const rcpts = recipients;
    const from = sender as { address: string; params: readonly string[] };
    reset();
    if (item.kind === 'body-too-big') {
      for (const r of rcpts) send(lmtpReply(552, '5.3.4', `<${r.address}> Message too big for system`));
      return;
    }
    if (item.kind !== 'body') return;
    const started = Date.now();
    const byBackend = new Map<string, number[]>();
    rcpts.forEach((r, i) => {
      const indexes = byBackend.get(r.backend) ?? [];
      indexes.push(i);
      byBackend.set(r.backend, indexes);
    });
    const replies: LmtpReply[] = new Array<LmtpReply>(rcpts.length);
    await Promise.all([...byBackend].map(async ([backend, indexes]) => {
      const got = await deps.pool.deliver(backend, {
        sender: from.address,
        mailParams: from.params,
        recipients: indexes.map((i) => (rcpts[i] as Recipient).address),
        body: item.body,
      });
      indexes.forEach((i, k) => (replies[i] = got[k] as LmtpReply));
    }));
    for (const r of replies) send(r);
    deps.events.delivered(replies, item.body.length);
    // Each delivery is logged by the backend that saved it; here only a refused or deferred one is news.
    const failed = replies.some((r) => r.code >= 300);
    if (!failed && !log.isLevelEnabled('debug')) return;
    log[failed ? 'warn' : 'debug']({
      from: from.address,
      size: item.body.length,
      ms: Date.now() - started,
      rcpts: rcpts.map((r, i) => ({ to: r.address, backend: r.backend, reply: `${replies[i]?.code} ${replies[i]?.enhanced} ${replies[i]?.text}` })),
    }, failed ? 'lmtp delivery not done' : 'lmtp delivered');
  }

  async function handle(item: StreamItem): Promise<void> {
    if (readingBody) {
      readingBody = false;
      return deliver(item);
    }
    if (item.kind === 'line-too-long') return send(lmtpReply(500, '5.5.2', 'Line too long'));
    if (item.kind !== 'line') return;
    const parsed = parseLmtpCommand(item.line);
    if (!parsed.ok) return send(parsed.reply);
    const cmd = parsed.command;
    switch (cmd.verb) {
      case 'LHLO':
        return hello(cmd.name);
      case 'HELO':
      case 'EHLO':
        return send(lmtpReply(500, '5.5.1', 'This is LMTP: use LHLO'));
      case 'MAIL':
        if (!greeted) return send(lmtpReply(503, '5.5.1', 'LHLO needed first'));
        if (sender) return send(lmtpReply(503, '5.5.1', 'MAIL already given'));
        sender = { address: cmd.sender, params: cmd.params };
        return send(lmtpReply(250, '2.1.0', 'OK'));
      case 'RCPT':
        return recipient(cmd.recipient);
      case 'DATA':
        if (!sender) return send(lmtpReply(503, '5.5.1', 'MAIL needed first'));
        if (recipients.length === 0) return send(lmtpReply(554, '5.5.1', 'No valid recipients'));
        readingBody = true;
        return void socket.write('354 OK, end data with <CR><LF>.<CR><LF>\r\n');
      case 'RSET':
        reset();
        return send(lmtpReply(250, '2.0.0', 'OK'));
      case 'NOOP':
        return send(lmtpReply(250, '2.0.0', 'OK'));
      case 'VRFY':
        return send(lmtpReply(252, '2.3.3', 'Try RCPT instead'));
      case 'QUIT':
        return hangUp('221 2.0.0 Bye\r\n');
    }
  }

  /** Takes items in order until none is complete; replies go out together once the input is used up. */
  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    socket.cork();
    try {
      while (!ending) {
        const item = readingBody ? stream.nextBody() : stream.nextLine();
        if (!item) break;
        await handle(item);
        if (shutdownText !== undefined && !readingBody && sender === undefined) hangUp(`421 4.3.2 ${shutdownText}\r\n`);
      }
    } catch (err) {
      log.error({ err: (err as Error).message }, 'session failed');
      hangUp('421 4.3.0 Internal error, closing\r\n');
    } finally {
      socket.uncork();
      pumping = false;
      if (socket.isPaused() && stream.buffered() < MAX_PENDING_BYTES) socket.resume();
    }
  }

  socket.on('data', (chunk: Buffer) => {
    if (ending) return;
    stream.push(chunk);
    if (!readingBody && stream.buffered() > MAX_PENDING_BYTES) socket.pause();
    void pump();
  });

  socket.write(`220 ${deps.hostname} mailfleet LMTP ready\r\n`);

  return {
    shutdown(text) {
      shutdownText = text;
      if (!pumping && sender === undefined && !readingBody) hangUp(`421 4.3.2 ${text}\r\n`);
    },
    closed,
  };
}
