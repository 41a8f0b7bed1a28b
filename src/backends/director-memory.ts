/**
 * An in-memory Dovecot 2.3 director ring: a complete implementation of the director interface backend
 * sync uses (hosts, steps, ring membership), as external-dns's in-memory provider is of its DNS
 * provider interface. Tests run the real controller against it in milliseconds.
 *
 * What it keeps of the real director: every director has its own host list, user table and ring list
 * (`director_servers` at start, then `director ring add/remove`); a change made through one director
 * reaches exactly the directors it is ring-connected to (both list each other, transitively), so a
 * proxy back on an address the others do not know is split off until the ring is repaired, and a
 * director joining a ring takes the ring's state. Hosts and users behave as `doveadm director` shows
 * them: `add` of a known host sets its weight, the other steps on an unknown host fail `notfound`
 * (`remove` of an unknown host succeeds, as the doveadm client treats it); a user keeps its backend
 * until that backend is flushed, removed or down, and new users land on up backends with a weight,
 * spread by a hash over their vhosts. A stopped director refuses connections (`unreachable`).
 */
import { createHash } from 'node:crypto';
import { DirectorError } from './director-error.ts';
import type { ConnectDirector, Director, DirectorHost, DirectorMember, Step } from './types.ts';

interface HostEntry {
  vhosts: number;
  up: boolean;
}

interface MemberState {
  address: string;
  known: Set<string>;
  hosts: Map<string, HostEntry>;
  /** user → backend address */
  users: Map<string, string>;
}

export interface MemoryDirectors {
  /** A client for one director, as `doveadmDirectors` gives one for a real proxy. */
  connect: ConnectDirector;
  /** Starts a director at `address`; `servers` is its `director_servers` (it always knows itself). */
  start(address: string, servers?: readonly string[]): void;
  /** Stops it: its state is gone and calls to it fail `unreachable`. */
  stop(address: string): void;
  /** The running directors, as a locator finds them. */
  directors(): Director[];
  /** A login through the director at `via`: the backend it sends `user` to, or undefined when none takes new users. */
  login(via: string, user: string): string | undefined;
  /** Every accepted write, in order: `add 10.0.0.1 100 via 127.0.0.1`, `ring-add 127.0.0.3 via 127.0.0.1`. */
  writes(): string[];
}

const urlOf = (address: string) => `memory://${address}`;

function hash(text: string): number {
  return createHash('md5').update(text).digest().readUInt32BE(0);
}

export function createMemoryDirectors(): MemoryDirectors {
  const members = new Map<string, MemberState>();
  const log: string[] = [];

  function running(address: string): MemberState {
    const m = members.get(address);
    if (!m) throw new DirectorError('unreachable', `director ${address}: connection refused`);
    return m;
  }

  /** Every running director ring-connected to `from`, itself first. */
  function ringOf(from: MemberState): MemberState[] {
    const seen = new Map([[from.address, from]]);
    const queue = [from];
    for (let m = queue.shift(); m; m = queue.shift()) {
      for (const address of m.known) {
        const peer = members.get(address);
        if (peer && !seen.has(address) && peer.known.has(m.address)) {
          seen.set(address, peer);
          queue.push(peer);
        }
      }
    }
    return [...seen.values()];
  }

  /** Every director in `from`'s ring takes `from`'s host list and user table. */
  function spreadState(from: MemberState): void {
    for (const m of ringOf(from)) {
      if (m === from) continue;
      m.hosts = new Map([...from.hosts].map(([k, v]) => [k, { ...v }]));
      m.users = new Map(from.users);
    }
  }

  function change(via: MemberState, entry: string, mutate: (m: MemberState) => void): void {
    for (const m of ringOf(via)) mutate(m);
    log.push(`${entry} via ${via.address}`);
  }

  function host(m: MemberState, address: string, op: string): HostEntry {
    const h = m.hosts.get(address);
    if (!h) throw new DirectorError('notfound', `${op} ${address}: not found`);
    return h;
  }

  function forgetUsersOf(m: MemberState, address: string): void {
    for (const [user, backend] of m.users) if (backend === address) m.users.delete(user);
  }

  function apply(m: MemberState, step: Step): void {
    const a = step.address;
    switch (step.op) {
      case 'add':
        return change(m, `add ${a} ${step.vhosts}`, (x) => void x.hosts.set(a, { vhosts: step.vhosts, up: x.hosts.get(a)?.up ?? true }));
      case 'update':
        host(m, a, step.op);
        return change(m, `update ${a} ${step.vhosts}`, (x) => void (host(x, a, step.op).vhosts = step.vhosts));
      case 'up':
      case 'down':
        host(m, a, step.op);
        return change(m, `${step.op} ${a}`, (x) => void (host(x, a, step.op).up = step.op === 'up'));
      case 'flush':
        host(m, a, step.op);
        return change(m, `flush ${a}`, (x) => forgetUsersOf(x, a));
      case 'remove':
        if (!m.hosts.has(a)) return;
        return change(m, `remove ${a}`, (x) => {
          x.hosts.delete(a);
          forgetUsersOf(x, a);
        });
    }
  }

  function member(d: Director): DirectorMember {
    const address = d.address;
    return {
      async list(): Promise<DirectorHost[]> {
        const m = running(address);
        const users = new Map<string, number>();
        for (const backend of m.users.values()) users.set(backend, (users.get(backend) ?? 0) + 1);
        return [...m.hosts].sort(([x], [y]) => x.localeCompare(y)).map(([a, h]) => ({ address: a, vhosts: h.vhosts, up: h.up, users: users.get(a) ?? 0 }));
      },
      async apply(step) {
        apply(running(address), step);
      },
      async ring() {
        const m = running(address);
        return [...new Set([m.address, ...m.known])].sort();
      },
      async ringAdd(peer) {
        const m = running(address);
        change(m, `ring-add ${peer}`, (x) => void x.known.add(peer));
        // A director that now reaches this ring takes the ring's state.
        spreadState(m);
      },
      async ringRemove(peer) {
        change(running(address), `ring-remove ${peer}`, (x) => void x.known.delete(peer));
      },
    };
  }

  return {
    connect: member,
    start(address, servers = []) {
      if (members.has(address)) throw new Error(`director ${address} already runs`);
      const m: MemberState = { address, known: new Set([address, ...servers]), hosts: new Map(), users: new Map() };
      members.set(address, m);
      // Joining an existing ring: its state comes from the ring.
      const peer = ringOf(m).find((x) => x !== m);
      if (peer) spreadState(peer);
    },
    stop(address) {
      members.delete(address);
    },
    directors: () => [...members.keys()].sort().map((address) => ({ address, url: urlOf(address) })),
    login(via, user) {
      const m = running(via);
      const current = m.users.get(user);
      if (current !== undefined && m.hosts.get(current)?.up) return current;
      const open = [...m.hosts].filter(([, h]) => h.up && h.vhosts > 0).sort(([x], [y]) => x.localeCompare(y));
      const total = open.reduce((n, [, h]) => n + h.vhosts, 0);
      if (total === 0) return undefined;
      let slot = hash(user) % total;
      const [chosen] = open.find(([, h]) => (slot -= h.vhosts) < 0) ?? [];
      if (chosen === undefined) return undefined;
      for (const x of ringOf(m)) x.users.set(user, chosen);
      return chosen;
    },
    writes: () => [...log],
  };
}
