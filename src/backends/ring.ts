/**
 * The director ring's membership. Each director reads `director_servers` only at start and refuses
 * ring connections from addresses it does not know, so a proxy that comes back on a new address (a
 * restarted instance here, a rescheduled pod in Kubernetes) is left out and the ring splits: each half
 * assigns users to backends on its own. This keeps every reachable director's ring list equal to the
 * proxies that exist: `director ring add` for a missing member, `director ring remove` for a gone one.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createDirectorSink } from './director.ts';

export interface RingMember {
  /** The address its director listens on for the ring. */
  address: string;
  /** Its doveadm HTTP API. */
  url: string;
}

export interface RingView {
  /** Whose view: the member asked. */
  member: RingMember;
  /** Director addresses in its ring list, itself included. */
  known: string[];
}

export interface RingStep {
  op: 'add' | 'remove';
  /** Asked through this member's doveadm API. */
  via: RingMember;
  address: string;
}

/** Pure: for each member's view, the members it lacks (add) and the addresses no member has (remove). */
export function planRing(members: readonly RingMember[], views: readonly RingView[]): RingStep[] {
  const wanted = new Set(members.map((m) => m.address));
  const steps: RingStep[] = [];
  for (const view of views) {
    const known = new Set(view.known);
    for (const m of members) if (!known.has(m.address)) steps.push({ op: 'add', via: view.member, address: m.address });
    for (const address of known) if (!wanted.has(address) && address !== view.member.address) steps.push({ op: 'remove', via: view.member, address });
  }
  return steps;
}

export interface RingSync {
  /** One pass: read every reachable member's ring, apply what is missing or stale. True when something changed. */
  sync(): Promise<boolean>;
}

export function createRingSync(opts: { apiKey: string; ringPort: number; members: () => RingMember[] | Promise<RingMember[]>; log: Logger; timeoutMs?: number }): RingSync {
  const { log } = opts;
  const sinkFor = (m: RingMember) => createDirectorSink({ apiKey: opts.apiKey, endpoints: () => [{ url: m.url }], timeoutMs: opts.timeoutMs ?? 3000 });
  return {
    async sync() {
      const members = await opts.members();
      if (members.length < 2) return false;
      const views: RingView[] = [];
      for (const member of members) {
        try {
          const rows = (await sinkFor(member).call('directorRingStatus', {})) as Record<string, string>[];
          views.push({ member, known: [...new Set(rows.map((r) => r['director ip'] ?? '').filter(Boolean))] });
        } catch (err) {
          // Not answering (starting, stopping): its view is read again next time.
          log.debug({ member: member.address, err: errorMessage(err) }, 'ring status unavailable');
        }
      }
      const steps = planRing(members, views);
      for (const step of steps) {
        log.info({ op: step.op, director: step.address, via: step.via.address }, 'director ring change');
        const command = step.op === 'add' ? 'directorRingAdd' : 'directorRingRemove';
        try {
          await sinkFor(step.via).call(command, { ip: step.address, port: String(opts.ringPort) });
        } catch (err) {
          log.warn({ op: step.op, director: step.address, via: step.via.address, err: errorMessage(err) }, 'director ring change failed');
        }
      }
      return steps.length > 0;
    },
  };
}

/**
 * Ring members by the DNS names of their doveadm URLs (Kubernetes: each proxy pod's stable name through
 * the headless Service), resolved on every pass: a rescheduled pod keeps its name and changes address.
 * Names that do not resolve (a pod not scheduled yet) are left out until they do.
 */
export function membersByName(urls: readonly string[], resolve: (host: string) => Promise<string> = async (host) => (await lookup(host, { family: 4 })).address): () => Promise<RingMember[]> {
  return async () => {
    const out: RingMember[] = [];
    for (const url of urls) {
      const host = new URL(url).hostname;
      try {
        out.push({ address: isIP(host) ? host : await resolve(host), url });
      } catch {
        // not resolvable yet
      }
    }
    return out;
  };
}
