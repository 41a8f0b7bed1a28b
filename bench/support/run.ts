/**
 * The frame every bench runs in. A fresh directory (mode 0755: daemons that drop to their own users read their
 * configs there), a clean-up stack, and Ctrl-C/SIGTERM/SIGHUP turned into an abort of the signal the body gets.
 * Whatever happens, the stack runs at the end, then anything still running below the bench or naming its
 * directory is stopped (`bench: no process left behind` when there was none), and the directory is removed
 * unless the run failed or the caller keeps it.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { cleanupStack, type Defer } from './cleanup.ts';
import { abortOnSignals } from './interrupt.ts';
import { reapLeftovers } from './processes.ts';

export interface BenchFrame {
  /** Prefix of the run's directory, e.g. `/tmp/mailfleet-bench-`. */
  prefix: string;
  /** Keep the directory after a run that succeeded too. */
  keep: boolean;
  /** What the kept directory holds, said next to where it is: `(up.log, state/logs/)`. Default nothing. */
  holds?: string;
}

export interface BenchRun {
  /** The run's directory. */
  root: string;
  /** Registers a clean-up step, run in reverse order of registration. */
  defer: Defer;
  /** Runs the clean-up steps registered so far (again at the end for any registered later). */
  cleanUp: () => Promise<void>;
  /** Processes seen below the bench, by pid (their start time): what is stopped if still there at the end. */
  seen: Map<number, string>;
  /** Aborted by Ctrl-C, SIGTERM or SIGHUP. */
  signal: AbortSignal;
}

/**
 * Runs `body` in a fresh frame. `body` resolves with false when a check failed (the figures are printed but are
 * not the bench's: the directory is kept and the exit status is 1). Resolves with the exit status: 0 measured,
 * 1 an error or a failed check, 130 interrupted.
 */
export async function runBench(frame: BenchFrame, body: (run: BenchRun) => Promise<boolean | undefined>): Promise<number> {
  const { abort, release } = abortOnSignals();
  const { signal } = abort;
  const root = mkdtempSync(frame.prefix);
  chmodSync(root, 0o755);
  const stack = cleanupStack();
  let failed = false;
  try {
    failed = (await body({ root, defer: stack.defer, cleanUp: stack.run, seen: stack.seen, signal })) === false;
  } catch (err) {
    failed = true;
    const msg = signal.aborted ? String((signal.reason as Error).message) : err instanceof Error ? err.message : String(err);
    console.error(`bench: ${msg}`);
  } finally {
    await stack.run();
    const left = await reapLeftovers(stack.seen, [root]);
    for (const p of left) console.error(`bench: left behind and now stopped: pid ${p.pid} ${p.cmd}`);
    if (left.length === 0) console.error('bench: no process left behind');
    if (failed || frame.keep) console.error(`bench: state and logs kept in ${root}${frame.holds ? ` ${frame.holds}` : ''}`);
    else rmSync(root, { recursive: true, force: true });
    release();
  }
  if (signal.aborted) return 130;
  return failed ? 1 : 0;
}
