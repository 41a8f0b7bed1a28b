/**
 * Readiness checks of the proxy's SMTP AUTH path: Dovecot auth's handshake (see protocol/client/dovecot-auth.ts for
 * its lines) read up to `DONE`, straight from Dovecot's unix socket, or through the proxy's own relay with the relay
 * key, as an msa gets it. The second passes only when the relay, Dovecot auth and the socket between them all work.
 */
import { connect, type Socket } from 'node:net';
import { relayConnectOptions, type RelayTarget } from './client.ts';

/** Dovecot sends five lines and one per mechanism; more than this is not Dovecot. */
const MAX_HANDSHAKE_BYTES = 16 * 1024;

/** Reads Dovecot auth's handshake from `socket` (destroyed after) and resolves with the mechanisms it offers. */
function readHandshake(socket: Socket, where: string, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    const fail = (reason: string) => {
      cleanup();
      reject(new Error(`Dovecot auth at ${where}: ${reason}`));
    };
    const timer = setTimeout(() => fail(`no handshake within ${timeoutMs} ms`), timeoutMs);
    const onAbort = () => fail('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    function cleanup() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
    }
    socket.on('error', (err) => fail(err.message));
    socket.on('close', () => fail('closed before DONE'));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.length > MAX_HANDSHAKE_BYTES) return fail(`more than ${MAX_HANDSHAKE_BYTES} bytes without DONE`);
      const lines = text.split('\n');
      if (lines.length > 1 && !/^VERSION\t1\t\d+$/.test(lines[0] ?? '')) return fail(`expected VERSION 1 (the Dovecot auth protocol), got ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
      if (!lines.slice(0, -1).includes('DONE')) return undefined;
      const mechanisms = lines.filter((l) => l.startsWith('MECH\t')).map((l) => l.split('\t')[1] ?? '');
      if (mechanisms.length === 0) return fail('the handshake offers no mechanism');
      cleanup();
      return resolve(mechanisms);
    });
  });
}

/** Dovecot auth's handshake on its unix socket. */
export function dovecotAuthSocketHandshake(path: string, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
  return readHandshake(connect({ path }), path, timeoutMs, signal);
}

/** Dovecot auth's handshake through the relay at `target`, with the key of `secret`. */
export async function authRelayHandshake(target: RelayTarget, secret: string, identity: string, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
  const { connect: tlsConnect } = await import('node:tls');
  return readHandshake(tlsConnect(relayConnectOptions(target, secret, identity)), `${target.host}:${target.port} (relay)`, timeoutMs, signal);
}
