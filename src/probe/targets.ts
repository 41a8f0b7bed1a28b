/** Where a prober dials: fixed endpoints (Kubernetes Services), or the single host's instances as peers.json lists them now. */
import type { Peers } from '../config/index.ts';
import type { Ports } from '../spec/index.ts';
import type { Endpoint, ProbeTargets } from './settings.ts';

/** The same endpoints at every cycle. */
export function fixedTargets(targets: ProbeTargets): () => ProbeTargets {
  const frozen = Object.freeze({ ...targets });
  return () => frozen;
}

/**
 * The single host's instances, read from peers.json at every cycle (a restarted instance comes back on a new
 * address), taking the next instance of each role in turn so that over cycles every one is probed.
 * `submission`: the msa port dialled (465 implicit TLS, or 587 with STARTTLS).
 */
export function peerTargets(readPeers: () => Peers, ports: Pick<Ports, 'smtp' | 'imaps' | 'pop3s'> & { submission: number }): () => ProbeTargets {
  let turn = 0;
  return () => {
    const peers = readPeers();
    const pick = (list: readonly { host: string }[] | undefined, port: number): Endpoint | undefined => {
      if (list === undefined || list.length === 0) return undefined;
      const chosen = list[turn % list.length];
      return chosen === undefined ? undefined : { host: chosen.host, port };
    };
    const proxy = peers.proxy;
    const targets: ProbeTargets = {
      ...optional('msa', pick(peers.msa, ports.submission)),
      ...optional('mta', pick(peers.mta, ports.smtp)),
      ...optional('imap', pick(proxy, ports.imaps)),
      ...optional('pop3', pick(proxy, ports.pop3s)),
    };
    turn++;
    return targets;
  };
}

function optional<K extends keyof ProbeTargets>(key: K, value: Endpoint | undefined): Partial<Record<K, Endpoint>> {
  return value === undefined ? {} : ({ [key]: value } as Partial<Record<K, Endpoint>>);
}
