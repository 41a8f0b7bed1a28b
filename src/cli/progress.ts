/**
 * The `[ready/instances]` in front of each of `mailfleet up`'s progress lines, as they are now: scaling, a restart
 * or a crash moves both, and stopping counts down. While the platform comes up it counts out of every instance it
 * will have, since not all of them have started yet.
 */
export interface ProgressCounter {
  /** The counter after `name` entered `phase` (`starting`, `ready`, `crashed`, `stopping`, `stopped`, …). */
  update(name: string, phase: string): string;
  /** The platform is up: from now on the count is out of the instances that run. */
  started(): void;
}

export function createProgressCounter(total: number): ProgressCounter {
  const running = new Set<string>();
  const ready = new Set<string>();
  let up = false;
  return {
    update(name, phase) {
      if (phase === 'stopped') running.delete(name);
      else running.add(name);
      if (phase === 'ready') ready.add(name);
      else ready.delete(name);
      const of = up ? running.size : Math.max(total, running.size);
      return `[${String(ready.size).padStart(String(of).length)}/${of}]`;
    },
    started() {
      up = true;
    },
  };
}
