/**
 * The msa's end of the SMTP AUTH relay (see server.ts): Postfix's `smtpd_sasl_path` names a listener of the msa's
 * agent on its own loopback (the pod's `127.0.0.1`; on one host the instance's address), and each connection there
 * is carried to a proxy's auth port over TLS keyed by the relay key. Where to is asked for each connection
 * (`target()`), so a proxy that moved is reached at its new address without a restart.
 *
 * Bounded: at most `maxConnections` at once; the proxy must take the handshake within `connectTimeoutMs`, or the
 * smtpd's connection is closed (it then offers no AUTH, as when Dovecot auth is down). Relayed connections are kept
 * while Postfix keeps them, with TCP keepalive (see server.ts); one the proxy closes between logins is carried on to
 * a new connection at the next login (session.ts). Postfix's lines wait until the TLS handshake is done.
 */
import { createServer, type Socket } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Registry } from '../metrics/index.ts';
import { createLogThrottle } from '../policy/log-throttle.ts';
import { closeServer, listenOn } from '../sockets.ts';
import { relayMetrics } from './metrics.ts';
import { carrySession } from './session.ts';
import { RELAY_CIPHERS, RELAY_TLS_VERSION, relayKey } from './psk.ts';
import { RELAY_HANDSHAKE_TIMEOUT_MS, RELAY_KEEPALIVE_MS } from './server.ts';

export const RELAY_CLIENT_MAX_CONNECTIONS = 1024;
const LOG_INTERVAL_MS = 60_000;

export interface RelayTarget {
  host: string;
  port: number;
}

export interface AuthRelayClientOptions {
  /** Where Postfix connects (loopback). */
  host: string;
  port: number;
  /** The proxy to carry a new connection to, or undefined when there is none. */
  target: () => RelayTarget | undefined;
  secret: string;
  /** Sent as the PSK identity (the proxy logs it): the instance's name. */
  identity: string;
  /** Outgoing connections leave from this address (one host: the instance's own). */
  localAddress?: string;
  log: Logger;
  registry: Registry;
  maxConnections?: number;
  connectTimeoutMs?: number;
}

export interface AuthRelayClient {
  port: number;
  close(): Promise<void>;
}

/** The TLS options of a connection to a relay server with the key of `secret`. */
export function relayConnectOptions(target: RelayTarget, secret: string, identity: string, localAddress?: string): ConnectionOptions {
  const psk = relayKey(secret);
  return {
    host: target.host,
    port: target.port,
    ...(localAddress === undefined ? {} : { localAddress }),
    ciphers: RELAY_CIPHERS,
    minVersion: RELAY_TLS_VERSION,
    maxVersion: RELAY_TLS_VERSION,
    pskCallback: () => ({ psk, identity }),
    // The key is the authentication: a peer without it cannot finish the handshake. There is no certificate.
    checkServerIdentity: () => undefined,
  };
}

type ClientResult = 'relayed' | 'resumed' | 'no_target' | 'failed';
const RESULTS: readonly ClientResult[] = ['relayed', 'resumed', 'no_target', 'failed'];

export async function startAuthRelayClient(opts: AuthRelayClientOptions): Promise<AuthRelayClient> {
  const { connect } = await import('node:tls');
  const open = new Set<Socket>();
  const connections = relayMetrics(opts.registry, 'client', RESULTS, {
    total: 'Connections to a proxy for Postfix SASL sessions: relayed (made), resumed (a session carried over to a new one after its proxy closed between logins), no proxy known, or the proxy not reached with the relay key in time.',
    open: 'Postfix SASL connections carried to a proxy now.',
  }, () => open.size);
  const throttle = createLogThrottle(opts.log, LOG_INTERVAL_MS);
  const connectMs = opts.connectTimeoutMs ?? RELAY_HANDSHAKE_TIMEOUT_MS;

  /** A keyed connection to the proxy the target names now, once its handshake is done. */
  const dial = (): Promise<TLSSocket> => new Promise((resolve, reject) => {
    let target: RelayTarget | undefined;
    try {
      target = opts.target();
    } catch (err) {
      opts.log.error({ err: errorMessage(err) }, 'SMTP AUTH relay: cannot tell which proxy to reach');
    }
    if (target === undefined) {
      connections.inc({ result: 'no_target' });
      throttle.warn('no-target', {}, 'SMTP AUTH relay: no proxy to carry SMTP AUTH to');
      reject(new Error('no proxy'));
      return;
    }
    const proxy = `${target.host}:${target.port}`;
    const remote = connect(relayConnectOptions(target, opts.secret, opts.identity, opts.localAddress));
    let settled = false;
    const failed = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      remote.off('secureConnect', secured);
      remote.destroy();
      connections.inc({ result: 'failed' });
      throttle.warn('failed', { proxy, err: err ? errorMessage(err) : 'closed' }, 'SMTP AUTH relay: the proxy was not reached');
      reject(err ?? new Error('closed'));
    };
    const closed = () => failed();
    const secured = () => {
      settled = true;
      clearTimeout(deadline);
      remote.off('error', failed).off('close', closed).on('error', () => undefined);
      connections.inc({ result: 'relayed' });
      remote.setKeepAlive(true, RELAY_KEEPALIVE_MS);
      resolve(remote);
    };
    const deadline = setTimeout(() => failed(new Error(`no TLS handshake within ${connectMs} ms`)), connectMs);
    remote.once('secureConnect', secured).once('error', failed).once('close', closed);
  });

  const carry = (local: Socket) => {
    open.add(local);
    carrySession(local, {
      dial,
      resumed: () => connections.inc({ result: 'resumed' }),
      ended: () => open.delete(local),
    });
  };

  const server = createServer({ pauseOnConnect: true }, carry);
  server.maxConnections = opts.maxConnections ?? RELAY_CLIENT_MAX_CONNECTIONS;
  const port = await listenOn(server, opts.port, opts.host);
  server.on('error', (err) => opts.log.error({ err: errorMessage(err) }, 'SMTP AUTH relay error'));
  return {
    port,
    close: () => closeServer(server, open),
  };
}
