/**
 * The load balancer's door into Postfix. Postfix's `smtpd_upstream_proxy_protocol` believes a PROXY
 * header from whoever connects, and has no setting to say who may send one; a forged header then
 * decides the client address every restriction sees. So the balancer ports are the agent's: a
 * connection from outside `spec.loadBalancer.sourceRanges` is closed before a byte is read, and one from
 * inside is spliced, header and all, onto Postfix's PROXY-protocol service, a unix socket only root
 * and Postfix can reach (master.cf `unix` service under the queue's `private/` directory).
 *
 * Bounded: at most `maxConnections` spliced at once (more are refused at accept), and each direction is
 * piped with backpressure. Postfix's own limits (`smtpd_upstream_proxy_timeout`, `smtpd_timeout`) end
 * slow or idle sessions, and with them the splice.
 */
import { BlockList, connect, createServer, isIPv4, type Server, type Socket } from 'node:net';
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Counter, Gauge, type Registry } from '../metrics/index.ts';
import { joinSockets, listenOn } from '../sockets.ts';

/** Spliced connections per balancer port: Postfix's default process limit for the service, and some. */
export const PROXY_GATE_MAX_CONNECTIONS = 1000;
/** At most one log line per this interval about refused peers (a flood must not flood the log). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

export interface ProxyGateListener {
  /** Postfix's master.cf service name, also the metric label (e.g. `smtp-lb`). */
  service: string;
  host: string;
  port: number;
  /** The service's unix socket. */
  socketPath: string;
}

export interface ProxyGate {
  /** Stops accepting and ends every splice still open. */
  close(): Promise<void>;
}

/** CIDRs (IPv4 and IPv6) as a matcher; IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`) match as IPv4. */
export function cidrMatcher(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net = '', bits = ''] = cidr.split('/');
    list.addSubnet(net, Number(bits), isIPv4(net) ? 'ipv4' : 'ipv6');
  }
  return (address) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const plain = mapped ?? address;
    return list.check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6');
  };
}

/**
 * A short name for a unix socket whose real path may be too long for `sun_path` (107 bytes): a symlink
 * in `runDir`, which is kept short for that reason.
 */
export function shortSocketPath(runDir: string, service: string, target: string): string {
  const link = join(runDir, `${service}.sock`);
  rmSync(link, { force: true });
  symlinkSync(target, link);
  return link;
}

/** The gate's metrics in `registry`: connections by service and result, and those spliced now (read at each scrape). */
function registerGateMetrics(registry: Registry, services: readonly string[], open: (service: string) => number): Counter<'service' | 'result'> {
  const connections = new Counter({
    name: 'mailfleet_agent_proxy_connections_total',
    help: 'Connections to a load balancer port, by whether the peer was in the balancer ranges.',
    labelNames: ['service', 'result'],
    registers: [registry],
  });
  for (const service of services) for (const result of ['accepted', 'refused']) connections.inc({ service, result }, 0);
  new Gauge({
    name: 'mailfleet_agent_proxy_connections',
    help: 'Connections spliced onto Postfix now.',
    labelNames: ['service'],
    registers: [registry],
    collect() {
      for (const service of services) this.set({ service }, open(service));
    },
  });
  return connections;
}

export async function startProxyGate(opts: {
  listeners: readonly ProxyGateListener[];
  trusted: readonly string[];
  log: Logger;
  /** Where the gate's `mailfleet_agent_proxy_*` metrics are registered: the agent's registry. */
  registry: Registry;
  maxConnections?: number;
}): Promise<ProxyGate> {
  const trusted = cidrMatcher(opts.trusted);
  /** Connections spliced now, per service. */
  const spliced = new Map(opts.listeners.map((l) => [l.service, 0]));
  const connections = registerGateMetrics(opts.registry, [...spliced.keys()], (service) => spliced.get(service) ?? 0);
  const servers: Server[] = [];
  const open = new Set<Socket>();
  let refusedSinceLog = 0;
  let lastLogAt = 0;

  function refused(service: string, peer: string, port: number): void {
    refusedSinceLog++;
    const now = Date.now();
    if (now - lastLogAt < REFUSAL_LOG_INTERVAL_MS) return;
    opts.log.warn({ service, port, peer, refused: refusedSinceLog }, 'PROXY protocol from a peer outside the load balancer ranges refused');
    lastLogAt = now;
    refusedSinceLog = 0;
  }

  for (const l of opts.listeners) {
    const { service } = l;
    const server = createServer({ pauseOnConnect: true }, (client) => {
      const peer = client.remoteAddress ?? '';
      if (!trusted(peer)) {
        connections.inc({ service, result: 'refused' });
        refused(service, peer, l.port);
        client.destroy();
        return;
      }
      connections.inc({ service, result: 'accepted' });
      spliced.set(service, (spliced.get(service) ?? 0) + 1);
      open.add(client);
      joinSockets(client, connect({ path: l.socketPath }), () => {
        spliced.set(service, (spliced.get(service) ?? 1) - 1);
        open.delete(client);
      });
    });
    server.maxConnections = opts.maxConnections ?? PROXY_GATE_MAX_CONNECTIONS;
    await listenOn(server, l.port, l.host);
    server.on('error', (err) => opts.log.error({ service: l.service, err: errorMessage(err) }, 'proxy gate error'));
    servers.push(server);
  }

  return {
    async close() {
      const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      for (const s of open) s.destroy();
      await closed;
    },
  };
}
