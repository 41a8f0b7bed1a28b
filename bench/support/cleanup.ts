/** Clean-up steps of a bench run: registered as things start, run in reverse order at the end, on error and on Ctrl-C. */
import { processTree } from './processes.ts';

/** Registers a clean-up step. */
export type Defer = (name: string, step: () => Promise<void>) => void;

export function cleanupStack(): { defer: Defer; run: () => Promise<void>; seen: Map<number, string> } {
  const steps: { name: string; step: () => Promise<void> }[] = [];
  const seen = new Map<number, string>();
  return {
    defer: (name, step) => void steps.push({ name, step }),
    seen,
    async run() {
      for (const [pid, start] of processTree([process.pid])) if (pid !== process.pid) seen.set(pid, start);
      for (let s = steps.pop(); s !== undefined; s = steps.pop()) {
        console.error(`bench: stopping ${s.name}`);
        try {
          await s.step();
        } catch (err) {
          console.error(`bench: stopping ${s.name} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    },
  };
}
