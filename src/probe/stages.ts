/**
 * One path of a cycle as a small state machine: the stages run in order (STAGES), each under its own
 * deadline; the first that fails ends the path in `failed(stage)`, the last that succeeds in `succeeded`.
 * Stages share the path's sockets, so a missed deadline aborts the path's one signal, which destroys them
 * all at once and fails the stage in progress. Pure of any protocol: the steps come from path.ts.
 */
import { isProtocolError, type ProtocolError } from '../protocol/index.ts';
import type { ProbePath } from '../spec/index.ts';
import type { Stage } from './settings.ts';

/** A stage that ran to its end. */
export interface StageRecord {
  stage: Stage;
  durationMs: number;
}

/** Why a path failed: the stage, a stable code, what went wrong and, when the server said something, its reply. */
export interface StageFailure {
  stage: Stage;
  /** A `PROTOCOL_*` code, or one of the prober's own (`REFUSED`, `DEADLINE`, `NOT_FOUND`, `MISMATCH`, `NO_ENDPOINT`, `FAILED`). */
  code: string;
  message: string;
  /** The server's reply (a refusal's text, the line that broke the dialog). */
  reply?: string;
  /** The dialog step the protocol client was at (`auth`, `rcpt`, `login`, `tls`, …). */
  step?: string;
  /** `host:port` dialled. */
  address?: string;
}

export interface PathResult {
  path: ProbePath;
  tag: string;
  /** succeeded: every stage ran; failed: `failure` says where; aborted: the prober stopped meanwhile (not counted). */
  outcome: 'succeeded' | 'failed' | 'aborted';
  stages: StageRecord[];
  failure?: StageFailure;
  /** First stage's start to the last one's end (on success: submission to fetched by every protocol). */
  durationMs: number;
}

/** A refusal or a wrong answer the prober recognised itself, with the reply that carried it. */
export class ProbeStageError extends Error {
  readonly code: string;
  readonly reply: string | undefined;

  constructor(code: string, message: string, reply?: string) {
    super(message);
    this.name = 'ProbeStageError';
    this.code = code;
    this.reply = reply;
  }
}

/** The reason a path's signal carries when a stage missed its deadline. */
class StageDeadline extends Error {
  constructor(stage: Stage, timeoutMs: number) {
    super(`${stage} did not finish within ${timeoutMs} ms`);
    this.name = 'StageDeadline';
  }
}

export type StageStep = (signal: AbortSignal) => Promise<void>;

export interface PathSteps {
  /** One step per stage, run in STAGES order. */
  steps: readonly (readonly [Stage, StageStep])[];
  /** Closes whatever the steps left open; after a failure the sockets are already destroyed. */
  close: () => Promise<void>;
}

function describe(err: unknown, stage: Stage, signal: AbortSignal): StageFailure {
  const reason: unknown = signal.reason;
  if (signal.aborted && reason instanceof StageDeadline) {
    const at = isProtocolError(err) ? { step: err.step, address: err.address } : {};
    return { stage, code: 'DEADLINE', message: reason.message, ...at };
  }
  if (err instanceof ProbeStageError) return { stage, code: err.code, message: err.message, ...(err.reply === undefined ? {} : { reply: err.reply }) };
  if (isProtocolError(err)) {
    const e: ProtocolError = err;
    return { stage, code: e.code, message: e.message, step: e.step, address: e.address, ...(e.reply === undefined ? {} : { reply: e.reply }) };
  }
  return { stage, code: 'FAILED', message: err instanceof Error ? err.message : String(err) };
}

/** How long a step that missed its deadline gets to fail with its own error (destroyed sockets fail at once). */
const ABORTED_STEP_GRACE_MS = 200;

/** The error `step` rejects with within the grace period, if it does. */
async function settledError(step: Promise<void>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ABORTED_STEP_GRACE_MS)));
  try {
    return await Promise.race([step.then(() => undefined, (err: unknown) => err), grace]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects when `signal` aborts (at once if it has): a step that missed its deadline ends there, whatever it awaits. */
function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    else signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

/**
 * Runs `steps` for one path: each stage under `timeoutMs`, in order, until one fails. `stopping` aborts the
 * path when the prober stops; such a path is `aborted`, not failed.
 */
export async function runStages(path: ProbePath, tag: string, make: (signal: AbortSignal) => PathSteps, timeoutMs: number, stopping: AbortSignal, now: () => number = () => performance.now()): Promise<PathResult> {
  const abort = new AbortController();
  const onStop = (): void => abort.abort(stopping.reason);
  stopping.addEventListener('abort', onStop, { once: true });
  if (stopping.aborted) onStop();
  const { steps, close } = make(abort.signal);
  const records: StageRecord[] = [];
  const started = now();
  const result = (outcome: PathResult['outcome'], failure?: StageFailure): PathResult => ({
    path, tag, outcome, stages: records, durationMs: now() - started, ...(failure ? { failure } : {}),
  });
  try {
    for (const [stage, step] of steps) {
      const began = now();
      const timer = setTimeout(() => abort.abort(new StageDeadline(stage, timeoutMs)), timeoutMs);
      let running: Promise<void> | undefined;
      try {
        if (abort.signal.aborted) throw abort.signal.reason;
        running = step(abort.signal);
        await Promise.race([running, rejectOnAbort(abort.signal)]);
      } catch (err) {
        if (stopping.aborted) return result('aborted');
        // Whatever the steps left open goes now: the path is over.
        if (!abort.signal.aborted) abort.abort(new Error('path failed'));
        // A missed deadline: the step's own error, once the abort has reached its dialog, says at which step of it.
        const own = err === abort.signal.reason && running !== undefined ? await settledError(running) : undefined;
        return result('failed', describe(own ?? err, stage, abort.signal));
      } finally {
        clearTimeout(timer);
      }
      records.push({ stage, durationMs: now() - began });
    }
    return result('succeeded');
  } finally {
    stopping.removeEventListener('abort', onStop);
    await close();
  }
}
