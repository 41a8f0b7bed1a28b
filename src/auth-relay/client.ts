/**
 * The msa's end of the SMTP AUTH relay (see server.ts): Postfix's `smtpd_sasl_path` names a listener of the msa's
 * agent on its own loopback (the pod's `127.0.0.1`; on one host the instance's address), and each connection there
 * is carried to a proxy's auth port over TLS keyed by the relay key. Where to is asked for each connection
 * (`target()`), so a proxy that moved is reached at its new address without a restart.
 *
 * Bounded: at most `maxConnections` at once; the proxy must take the handshake within `connectTimeoutMs`, or the
 * smtpd's connection is closed (it then offers no AUTH, as when Dovecot auth is down); a relayed connection idle for
 * `idleTimeoutMs` is closed. Postfix's bytes wait, paused, until the TLS handshake is done.
 */
import { createServer, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Counter, Gauge, type Registry } from '../metrics/index.ts';
import { createLogThrottle } from '../policy/log-throttle.ts';
import { closeServer, joinSockets, listenOn } from '../sockets.ts';
import { RELAY_CIPHERS, RELAY_TLS_VERSION, relayKey } from './psk.ts';
import { RELAY_HANDSHAKE_TIMEOUT_MS, RELAY_IDLE_TIMEOUT_MS } from './server.ts';

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
  idleTimeoutMs?: number;
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

type ClientResult = 'relayed' | 'no_target' | 'failed';
const RESULTS: readonly ClientResult[] = ['relayed', 'no_target', 'failed'];

function clientMetrics(registry: Registry, open: () => number): Counter<'result'> {
  const connections = new Counter({
    name: 'mailfleet_auth_relay_client_connections_total',
    help: 'Postfix SASL connections carried to a proxy: relayed, no proxy known, or the proxy not reached with the relay key in time.',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of RESULTS) connections.inc({ result }, 0);
  new Gauge({
    name: 'mailfleet_auth_relay_client_connections',
    help: 'Postfix SASL connections carried to a proxy now.',
    registers: [registry],
    collect() {
      this.set(open());
    },
  });
  return connections;
}

export async function startAuthRelayClient(opts: AuthRelayClientOptions): Promise<AuthRelayClient> {
  const { connect } = await import('node:tls');
  const open = new Set<Socket>();
  const connections = clientMetrics(opts.registry, () => open.size);
  const throttle = createLogThrottle(opts.log, LOG_INTERVAL_MS);
  const connectMs = opts.connectTimeoutMs ?? RELAY_HANDSHAKE_TIMEOUT_MS;
  const idleMs = opts.idleTimeoutMs ?? RELAY_IDLE_TIMEOUT_MS;

  const carry = (local: Socket) => {
    let target: RelayTarget | undefined;
    try {
      target = opts.target();
    } catch (err) {
      opts.log.error({ err: errorMessage(err) }, 'SMTP AUTH relay: cannot tell which proxy to reach');
    }
    if (target === undefined) {
      connections.inc({ result: 'no_target' });
      throttle.warn('no-target', {}, 'SMTP AUTH relay: no proxy to carry SMTP AUTH to');
      local.destroy();
      return;
    }
    open.add(local);
    const remote = connect(relayConnectOptions(target, opts.secret, opts.identity, opts.localAddress));
    const deadline = setTimeout(() => remote.destroy(new Error(`no TLS handshake within ${connectMs} ms`)), connectMs);
    let secured = false;
    remote.once('secureConnect', () => {
      secured = true;
      clearTimeout(deadline);
      connections.inc({ result: 'relayed' });
      local.setTimeout(idleMs, () => local.destroy());
      joinSockets(local, remote, () => open.delete(local));
    });
    let abandoned = false;
    const failed = (err?: Error) => {
      if (secured || abandoned) return;
      abandoned = true;
      clearTimeout(deadline);
      open.delete(local);
      connections.inc({ result: 'failed' });
      throttle.warn('failed', { proxy: `${target.host}:${target.port}`, err: err ? errorMessage(err) : 'closed' }, 'SMTP AUTH relay: the proxy was not reached');
      local.destroy();
      remote.destroy();
    };
    remote.once('error', failed);
    remote.once('close', () => failed());
    // Postfix gave up first (its smtpd ended): nothing failed.
    local.once('close', () => {
      if (secured || abandoned) return;
      abandoned = true;
      clearTimeout(deadline);
      open.delete(local);
      remote.destroy();
    });
    local.on('error', () => undefined);
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
