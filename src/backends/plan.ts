import type { Backend, DirectorHost, DrainState, Step } from './types.ts';

export interface PlanOptions {
  vhostCount: number;
  /** A terminating backend is removed when its users are gone or this long after draining began. */
  drainTimeoutMs: number;
  now: number;
}

/**
 * The steps that take the director from `actual` to `desired`; empty when they agree. Pure.
 *
 * - a ready backend is added with its weight, or brought back up / re-weighted;
 * - an unready (not terminating) backend is marked down;
 * - a leaving backend (terminating, or gone from the source) is drained in the order Dovecot documents
 *   for safe removal: weight 0 → flush (users move, sessions are kicked) → remove, once its sessions are
 *   gone or the deadline passed. A backend that is gone entirely has no sessions left to wait for.
 */
export function plan(desired: Backend[], actual: DirectorHost[], drains: ReadonlyMap<string, DrainState>, opts: PlanOptions): Step[] {
  const steps: Step[] = [];
  const wanted = new Map(desired.map((b) => [b.address, b]));
  const present = new Map(actual.map((h) => [h.address, h]));

  for (const b of [...desired].sort((x, y) => x.address.localeCompare(y.address))) {
    if (b.terminating) continue;
    const host = present.get(b.address);
    if (b.ready) {
      if (!host) steps.push({ op: 'add', address: b.address, vhosts: opts.vhostCount, reason: `${b.name} ready` });
      else {
        if (host.vhosts !== opts.vhostCount) steps.push({ op: 'update', address: b.address, vhosts: opts.vhostCount, reason: `${b.name} ready, weight ${host.vhosts}` });
        if (!host.up) steps.push({ op: 'up', address: b.address, reason: `${b.name} ready again` });
      }
    } else if (host?.up) {
      steps.push({ op: 'down', address: b.address, reason: `${b.name} not ready` });
    }
  }

  for (const host of [...actual].sort((x, y) => x.address.localeCompare(y.address))) {
    const b = wanted.get(host.address);
    if (b && !b.terminating) continue;
    const why = b ? `${b.name} terminating` : 'gone from the source';
    const drain = drains.get(host.address);
    if (host.vhosts !== 0) steps.push({ op: 'update', address: host.address, vhosts: 0, reason: `${why}: no new users` });
    if (!drain?.flushed) steps.push({ op: 'flush', address: host.address, reason: `${why}: move users` });
    const expired = drain !== undefined && opts.now - drain.since >= opts.drainTimeoutMs;
    const idle = drain?.flushed === true && host.users === 0;
    if (!b || idle || expired) {
      const detail = !b ? 'no sessions can remain' : idle ? 'no users left' : 'drain deadline passed';
      steps.push({ op: 'remove', address: host.address, reason: `${why}: ${detail}` });
    }
  }
  return steps;
}

/** Drain bookkeeping after a step succeeded. */
export function recordStep(drains: Map<string, DrainState>, step: Step, now: number): void {
  if (step.op === 'update' && step.vhosts === 0 && !drains.has(step.address)) drains.set(step.address, { since: now, flushed: false });
  if (step.op === 'flush') {
    const d = drains.get(step.address) ?? { since: now, flushed: false };
    drains.set(step.address, { ...d, flushed: true });
  }
  if (step.op === 'remove' || step.op === 'add') drains.delete(step.address);
  if (step.op === 'update' && step.vhosts > 0) drains.delete(step.address);
}
