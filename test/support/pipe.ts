import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The CLI as users run it: the `bin/mailfleet` launcher. */
export const BIN = fileURLToPath(new URL('../../bin/mailfleet', import.meta.url));

export interface PipedRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs `mailfleet ARGS | slow reader`: stdout is a real pipe that this process reads a little at a
 * time, pausing between reads, so the command's writes back up as they do behind `kubectl apply -f -`.
 */
export async function runThroughSlowPipe(args: string[], pauseMs = 15, firstReadAfterMs = 600): Promise<PipedRun> {
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // Node discards what an exited child wrote to a pipe that nothing listens on; a 'readable' listener keeps it
  // for the late reader (buffered up to the stream's highWaterMark, beyond which the command's writes back up),
  // as the pipe keeps it for a reader process that holds it open but has not read yet.
  child.stdout.on('readable', () => undefined);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const chunks: Buffer[] = [];
  // The reader starts late, as `kubectl apply` does while it loads its discovery cache: by then a
  // command that exits without draining stdout has gone, and what it had not flushed is lost.
  await delay(firstReadAfterMs);
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    await delay(pauseMs);
  }
  return { code: await exited, stdout: Buffer.concat(chunks), stderr };
}

/** Runs `mailfleet ARGS > file` (writes to a file are synchronous: the reference bytes). */
export function runToFile(args: string[]): PipedRun {
  const dir = mkdtempSync('/tmp/mailfleet-unit-pipe-');
  try {
    const file = join(dir, 'out');
    const fd = openSync(file, 'w');
    let r;
    try {
      r = spawnSync(BIN, args, { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', timeout: 180_000 });
    } finally {
      closeSync(fd);
    }
    return { code: r.status, stdout: readFileSync(file), stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `mailfleet ARGS | head -c N`: the reader takes N bytes and closes the pipe. */
export async function runIntoClosedPipe(args: string[], bytes: number): Promise<PipedRun> {
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const chunks: Buffer[] = [];
  let taken = 0;
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    taken += chunk.length;
    if (taken >= bytes) {
      child.stdout.destroy();
      break;
    }
  }
  return { code: await exited, stdout: Buffer.concat(chunks).subarray(0, bytes), stderr };
}
