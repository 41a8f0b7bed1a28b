/**
 * The director ring's membership. Each director reads `director_servers` only at start and refuses
 * ring connections from addresses it does not know, so a proxy that comes back on a new address (a
 * restarted instance here, a rescheduled pod in Kubernetes) is left out and the ring splits: each half
 * assigns users to backends on its own. This keeps every reachable director's ring list equal to the
 * proxies that exist: `director ring add` for a missing member, `director ring remove` for a gone one.
 */
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ConnectDirector, Director } from './types.ts';

export interface RingView {
  /** Whose view: the member asked. */
  member: Director;
  /** Director addresses in its ring list, itself included. */
  known: string[];
}

export interface RingStep {
  op: 'add' | 'remove';
  /** Asked through this member's doveadm API. */
  via: Director;
  address: string;
}

/** Pure: for each member's view, the members it lacks (add) and the addresses no member has (remove). */
export function planRing(members: readonly Director[], views: readonly RingView[]): RingStep[] {
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
  /** One pass over `members`: read every reachable member's ring, apply what is missing or stale. True when something changed. */
  sync(members: readonly Director[]): Promise<boolean>;
}

export function createRingSync(opts: { connect: ConnectDirector; log: Logger }): RingSync {
  const { connect, log } = opts;
  return {
    async sync(members) {
      if (members.length < 2) return false;
      const views: RingView[] = [];
      for (const member of members) {
        try {
          views.push({ member, known: await connect(member).ring() });
        } catch (err) {
          // Not answering (starting, stopping): its view is read again next time.
          log.debug({ member: member.address, err: errorMessage(err) }, 'ring status unavailable');
        }
      }
      const steps = planRing(members, views);
      for (const step of steps) {
        log.info({ op: step.op, director: step.address, via: step.via.address }, 'director ring change');
        const via = connect(step.via);
        try {
          await (step.op === 'add' ? via.ringAdd(step.address) : via.ringRemove(step.address));
        } catch (err) {
          log.warn({ op: step.op, director: step.address, via: step.via.address, err: errorMessage(err) }, 'director ring change failed');
        }
      }
      return steps.length > 0;
    },
  };
}
