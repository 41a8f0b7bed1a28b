import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { reapOrphans, waitGone } from '../../agent/index.ts';
import { errorMessage } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { LOG_FILE_MODE } from './logs.ts';
import { BACKOFF_BASE_MS, BACKOFF_MAX_MS, BACKOFF_RESET_MS } from './runtime.ts';

/** How long a supervised process gets to exit after SIGTERM before it is killed. */
export const SUPERVISED_STOP_MS = 10_000;

/**
 * A process of the platform that is not an instance (VictoriaMetrics, vmalert, Alertmanager): no agent, no
 * readiness, a fixed address for the platform's life (the single-host stand-in for a Service). It is restarted
 * with the instances' backoff when it exits on its own, and stopped on `down`.
 */
export interface SupervisedProcess {
  readonly name: string;
  /** The current incarnation's pid; undefined while in backoff or stopped. */
  pid(): number | undefined;
  /** Restarts after a crash so far. */
  restarts(): number;
  /** SIGTERM, SIGKILL after {@link SUPERVISED_STOP_MS}; resolves once it is gone, and it is not restarted. */
  stop(): Promise<void>;
}

export interface SupervisedOptions {
  /** Names it in logs and progress: `victoriametrics`. */
  name: string;
  /** Absolute program path, then its arguments. */
  argv: string[];
  /** Added to the runtime's environment: where a secret goes that must not show on the command line. */
  env?: Record<string, string>;
  /** It drops root before exec: the unprivileged user and group it runs as. */
  uid: number;
  gid: number;
  /** Its stdout and stderr are appended here (root's only, as every instance's log). */
  logFile: string;
  /** Its pid, so that one left behind by a runtime killed with -9 is stopped before the next start. */
  pidFile: string;
  log: Logger;
  /** Told about each crash, with the backoff before the restart. */
  onCrash?: (code: number, backoffMs: number) => void;
}

/** Starts `argv` (after stopping any earlier incarnation its pid file names) and keeps it running until `stop`. */
export async function startSupervised(opts: SupervisedOptions): Promise<SupervisedProcess> {
  const [exe, ...args] = opts.argv;
  if (exe === undefined) throw new TypeError('empty command');
  const log = opts.log.child({ process: opts.name });
  await reapOrphans([opts.pidFile], exe, log);
  const stopping = new AbortController();
  let pid: number | undefined;
  let exited: Promise<number> = Promise.resolve(0);
  let restarts = 0;
  let streak = 0;

  function launch(): void {
    const out = openSync(opts.logFile, 'a', LOG_FILE_MODE);
    // Its own process group: a Ctrl-C on the terminal reaches the runtime, which stops it after the instances.
    const child = spawn(exe as string, args, {
      stdio: ['ignore', out, out], detached: true, uid: opts.uid, gid: opts.gid, ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
    closeSync(out);
    const startedAt = Date.now();
    pid = child.pid;
    if (pid !== undefined) writeFileSync(opts.pidFile, `${pid}\n`);
    log.info({ pid }, 'process started');
    exited = new Promise((resolve) => {
      child.once('error', () => resolve(127));
      child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : 143)));
    });
    void exited.then(async (code) => {
      pid = undefined;
      if (stopping.signal.aborted) return;
      streak = Date.now() - startedAt > BACKOFF_RESET_MS ? 1 : streak + 1;
      const backoffMs = Math.min(BACKOFF_BASE_MS * 2 ** (streak - 1), BACKOFF_MAX_MS);
      log.warn({ code, backoffMs }, 'process exited; restarting after backoff');
      opts.onCrash?.(code, backoffMs);
      try {
        await delay(backoffMs, undefined, { signal: stopping.signal });
      } catch {
        return;
      }
      restarts++;
      try {
        launch();
      } catch (err) {
        // Its log or pid file cannot be written: nothing to restart into; `status` shows it without a pid.
        log.error({ err: errorMessage(err) }, 'process not restarted');
      }
    });
  }

  launch();
  return {
    name: opts.name,
    pid: () => pid,
    restarts: () => restarts,
    async stop() {
      stopping.abort();
      const current = pid;
      if (current !== undefined) {
        try {
          process.kill(current, 'SIGTERM');
        } catch {
          // already gone
        }
        const done = await Promise.race([exited.then(() => true), delay(SUPERVISED_STOP_MS, false, { ref: false })]);
        if (!done) {
          log.warn({ pid: current }, 'process did not stop in time; killing it');
          try {
            process.kill(-current, 'SIGKILL');
          } catch {
            // already gone
          }
          await waitGone(current, 2000);
        }
      }
      rmSync(opts.pidFile, { force: true });
      log.info('process stopped');
    },
  };
}
