/**
 * One bound on what all policy connections hold for their clients together: bytes received and not decoded yet,
 * replies not read (`Session.held`). Each connection has bounds of its own (see session.ts), but 2,000 of them at
 * those bounds are hundreds of MB; this keeps the sum within `perConnection × maxConnections`.
 *
 * Past that sum, the connections holding the most are closed until the rest hold {@link HELD_AFTER_SHEDDING} of
 * it. Only those holding more than `perConnection` are closed: the average does then, so there always is one, and
 * a client that holds less (a Postfix smtpd sends a request and reads its reply before sending the next) is never
 * closed however many others flood.
 */

/** What the budget can measure and close. */
export interface Holder {
  held(): number;
  destroy(): void;
}

export interface HeldBudget {
  /** A holder's bytes changed by `delta`; past the budget, the largest holders are closed. */
  change(delta: number): void;
  /** The bytes held, as the holders reported them. */
  total(): number;
  readonly limit: number;
}

/** Shedding stops at this fraction of the budget, so that it does not run again at the next read. */
export const HELD_AFTER_SHEDDING = 0.75;

export interface HeldBudgetOptions {
  /** Each holder's share: the budget is this times `maxHolders`. */
  readonly perHolder: number;
  readonly maxHolders: number;
  readonly holders: () => Iterable<Holder>;
  /** Told after holders were closed: the total before, how many were closed, the most one of them held. */
  readonly shed: (report: { heldBytes: number; closed: number; largest: number }) => void;
}

export function createHeldBudget(opts: HeldBudgetOptions): HeldBudget {
  const limit = opts.perHolder * opts.maxHolders;
  let total = 0;
  let shedding = false;

  function shed(): void {
    const heldBytes = total;
    const over: { holder: Holder; held: number }[] = [];
    for (const holder of opts.holders()) {
      const held = holder.held();
      if (held > opts.perHolder) over.push({ holder, held });
    }
    over.sort((a, b) => b.held - a.held);
    let closed = 0;
    shedding = true;
    try {
      // Each holder reports what it held going back to 0 as it is destroyed, which brings `total` down.
      for (const { holder } of over) {
        if (total <= limit * HELD_AFTER_SHEDDING) break;
        holder.destroy();
        closed++;
      }
    } finally {
      shedding = false;
    }
    opts.shed({ heldBytes, closed, largest: over[0]?.held ?? 0 });
  }

  return {
    change(delta) {
      total += delta;
      if (delta > 0 && total > limit && !shedding) shed();
    },
    total: () => total,
    limit,
  };
}
