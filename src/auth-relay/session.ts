/**
 * One Postfix SASL connection, carried line by line to a proxy and, when the proxy goes away between logins, to
 * another without Postfix noticing. Postfix's smtpd opens its Dovecot auth connection once and keeps it while it
 * lives; one closed under it fails the next login with 535 ("Connection lost to authentication server") before smtpd
 * opens another. A proxy restarting (a rolling update, a drain) closes every connection it holds, so without this
 * each smtpd would fail one user's login after it.
 *
 * So the session remembers what Postfix said before its first `AUTH` (`VERSION`, `CPID`: the client handshake), and
 * whether an exchange is in progress (an `AUTH` or `CONT` sent, no `OK` or `FAIL` back yet). When the proxy closes
 * while none is, the session stays open, and the next line Postfix sends goes to a new connection (the proxy the
 * target names now), after the remembered handshake; the new server's own handshake, up to `DONE`, is not passed on
 * (Postfix read one already). When the proxy closes during an exchange, or before Postfix had its handshake, Postfix's
 * connection is closed: that login fails, as it would have.
 *
 * Bounded: a line (either way) of at most {@link MAX_LINE_BYTES}, a client handshake of at most
 * {@link MAX_HANDSHAKE_BYTES}, at most {@link MAX_PENDING_BYTES} waiting for a connection; past any, the session ends.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** Dovecot's auth protocol lines are far shorter (an AUTH with an initial response of a long password). */
export const MAX_LINE_BYTES = 64 * 1024;
export const MAX_HANDSHAKE_BYTES = 4 * 1024;
export const MAX_PENDING_BYTES = 2 * MAX_LINE_BYTES;

export interface SessionEvents {
  /** A connection to a proxy, once its TLS handshake is done; rejects when there is none to be had. */
  dial(): Promise<TLSSocket>;
  /** The session went on over a new connection after the proxy closed between logins. */
  resumed(): void;
  /** The session ended (either side closed, or a bound was passed); called once. */
  ended(): void;
}

/**
 * Calls `line` for each complete line `socket` sends (without its `\n`); `overflow` when a line grows past
 * {@link MAX_LINE_BYTES}. `line` returns false to stop reading the rest of a chunk (the session ended).
 */
function onLines(socket: Socket, line: (text: string) => boolean, overflow: () => void): void {
  let buffer = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    const lines = (buffer + chunk).split('\n');
    buffer = lines.pop() ?? '';
    if (buffer.length > MAX_LINE_BYTES) return overflow();
    for (const text of lines) if (!line(text)) return undefined;
    return undefined;
  });
}

const command = (line: string): string => line.slice(0, line.indexOf('\t') === -1 ? line.length : line.indexOf('\t'));

export function carrySession(local: Socket, events: SessionEvents): void {
  let remote: TLSSocket | undefined;
  let dialing = false;
  let resuming = false;
  /** A resumed connection's server handshake, read up to DONE and dropped. */
  let swallowing = false;
  let handshake = '';
  let authSeen = false;
  /** Postfix got a server handshake (up to DONE): it reads one when it connects and waits for it. */
  let greeted = false;
  let outstanding = false;
  let ended = false;
  const pending: string[] = [];
  let pendingBytes = 0;

  const end = () => {
    if (ended) return;
    ended = true;
    local.destroy();
    remote?.destroy();
    events.ended();
  };

  const attach = (r: TLSSocket) => {
    remote = r;
    onLines(r, (line) => {
      if (swallowing) {
        if (line === 'DONE') swallowing = false;
        return true;
      }
      const cmd = command(line);
      if (cmd === 'OK' || cmd === 'FAIL') outstanding = false;
      if (line === 'DONE') greeted = true;
      if (!local.write(`${line}\n`, 'latin1')) {
        r.pause();
        local.once('drain', () => r.resume());
      }
      return true;
    }, end);
    r.on('error', () => undefined);
    r.on('close', () => {
      if (remote !== r) return;
      remote = undefined;
      // Between logins the next line goes to a new connection; during one (or before Postfix had its handshake),
      // Postfix is waiting and its connection ends.
      if (outstanding || !greeted) end();
      else resuming = true;
    });
  };

  const connectRemote = () => {
    if (dialing || remote !== undefined || ended) return;
    dialing = true;
    events.dial().then((r) => {
      dialing = false;
      if (ended) {
        r.destroy();
        return;
      }
      attach(r);
      if (resuming) {
        resuming = false;
        swallowing = true;
        r.write(handshake, 'latin1');
        events.resumed();
      }
      for (const text of pending.splice(0)) r.write(text, 'latin1');
      pendingBytes = 0;
    }, () => end());
  };

  const send = (text: string) => {
    if (remote !== undefined && !dialing) {
      remote.write(text, 'latin1');
      return;
    }
    pendingBytes += text.length;
    if (pendingBytes > MAX_PENDING_BYTES) return end();
    pending.push(text);
    return connectRemote();
  };

  onLines(local, (line) => {
    const cmd = command(line);
    if (cmd === 'AUTH') authSeen = true;
    if (!authSeen) {
      handshake += `${line}\n`;
      if (handshake.length > MAX_HANDSHAKE_BYTES) {
        end();
        return false;
      }
    }
    if (cmd === 'AUTH' || cmd === 'CONT') outstanding = true;
    send(`${line}\n`);
    return !ended;
  }, end);
  local.on('error', () => undefined);
  local.on('close', end);
  connectRemote();
  local.resume();
}
