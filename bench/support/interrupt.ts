/** What every benchmark does before it starts daemons: insist on root, and turn signals into one abort. */

/** The mail daemons need root; says so and returns false otherwise. */
export function runningAsRoot(): boolean {
  if (process.getuid?.() === 0) return true;
  console.error('bench: the mail daemons need root; run it as root');
  return false;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * SIGINT, SIGTERM and SIGHUP abort the returned controller once; later signals only say that the
 * benchmark is still stopping what it started (its cleanup must run to the end, not be cut short).
 * `release()` removes the handlers.
 */
export function abortOnSignals(): { abort: AbortController; release: () => void } {
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (abort.signal.aborted) return void console.error(`bench: ${sig}: still stopping what was started`);
    console.error(`bench: ${sig}: stopping`);
    abort.abort(new Error(`interrupted by ${sig}`));
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return { abort, release: () => SIGNALS.forEach((s) => process.off(s, onSignal)) };
}
