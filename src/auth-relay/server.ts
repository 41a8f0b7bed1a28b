/**
 * The proxy's end of the msas' SMTP AUTH relay. Postfix's Dovecot SASL client speaks the Dovecot auth protocol in
 * clear (no TLS), and what it sends is the user's password. So a proxy's Dovecot auth has no TCP listener: it
 * listens on a unix socket only root reaches, and the proxy's agent takes the auth port with TLS keyed by the
 * relay key (psk.ts). A peer without the key never gets past the handshake, and never reaches Dovecot; one with it
 * is joined to Dovecot's socket byte for byte.
 *
 * Bounded: at most `maxConnections` at once (more are refused at accept); the handshake must finish within
 * `handshakeTimeoutMs` of the connect, however the bytes trickle. Each direction is piped with backpressure. A
 * relayed connection is not closed for being idle: Postfix's smtpd keeps its auth connection while it lives, and one
 * closed under it fails the next login with 535 ("Connection lost to authentication server") before smtpd opens
 * another. TCP keepalive finds a peer that vanished.
 */
import { connect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Registry } from '../metrics/index.ts';
import { createLogThrottle } from '../policy/log-throttle.ts';
import { closeServer, joinSockets, listenOn } from '../sockets.ts';
import { relayMetrics } from './metrics.ts';
import { RELAY_CIPHERS, RELAY_IDENTITY, RELAY_TLS_VERSION, relayKey } from './psk.ts';

export const RELAY_MAX_CONNECTIONS = 2048;
export const RELAY_HANDSHAKE_TIMEOUT_MS = 5000;
/** TCP keepalive of relayed connections: a vanished peer's connection is found and closed. */
export const RELAY_KEEPALIVE_MS = 60_000;
const LOG_INTERVAL_MS = 60_000;

export interface AuthRelayServerOptions {
  host: string;
  port: number;
  /** The platform secret the key is derived from. */
  secret: string;
  /** Dovecot auth's unix socket. */
  upstreamPath: string;
  log: Logger;
  registry: Registry;
  maxConnections?: number;
  handshakeTimeoutMs?: number;
}

export interface AuthRelayServer {
  port: number;
  /** Stops accepting and ends every relayed connection. */
  close(): Promise<void>;
}

type ServerResult = 'relayed' | 'refused' | 'upstream_failed';
const RESULTS: readonly ServerResult[] = ['relayed', 'refused', 'upstream_failed'];

export async function startAuthRelayServer(opts: AuthRelayServerOptions): Promise<AuthRelayServer> {
  const { createServer } = await import('node:tls');
  const key = relayKey(opts.secret);
  const open = new Set<Socket>();
  const connections = relayMetrics(opts.registry, 'server', RESULTS, {
    total: 'Connections to the SMTP AUTH relay: relayed to Dovecot auth, refused (no TLS with the relay key in time), or Dovecot auth unreachable.',
    open: 'Connections relayed to Dovecot auth now.',
  }, () => open.size);
  const throttle = createLogThrottle(opts.log, LOG_INTERVAL_MS);
  const server = createServer({
    ciphers: RELAY_CIPHERS,
    minVersion: RELAY_TLS_VERSION,
    maxVersion: RELAY_TLS_VERSION,
    handshakeTimeout: opts.handshakeTimeoutMs ?? RELAY_HANDSHAKE_TIMEOUT_MS,
    pskCallback: (_socket, identity) => (RELAY_IDENTITY.test(identity) ? key : null),
  }, (tls: TLSSocket) => {
    const upstream = connect({ path: opts.upstreamPath });
    open.add(tls);
    let reached = false;
    upstream.once('connect', () => {
      reached = true;
      connections.inc({ result: 'relayed' });
    });
    tls.setKeepAlive(true, RELAY_KEEPALIVE_MS);
    joinSockets(tls, upstream, () => {
      open.delete(tls);
      if (reached) return;
      connections.inc({ result: 'upstream_failed' });
      throttle.warn('upstream', { path: opts.upstreamPath }, 'SMTP AUTH relay: Dovecot auth did not take the connection');
    });
  });
  server.maxConnections = opts.maxConnections ?? RELAY_MAX_CONNECTIONS;
  // With a listener here Node leaves the socket open: end it (a silent peer would otherwise stay past the deadline).
  server.on('tlsClientError', (err, socket) => {
    socket.destroy();
    connections.inc({ result: 'refused' });
    throttle.warn('refused', { peer: socket.remoteAddress, err: errorMessage(err) }, 'SMTP AUTH relay: a peer without the relay key (or too slow) refused');
  });
  const port = await listenOn(server, opts.port, opts.host);
  server.on('error', (err) => opts.log.error({ err: errorMessage(err) }, 'SMTP AUTH relay error'));
  return {
    port,
    close: () => closeServer(server, open),
  };
}
