/**
 * Log sources for the exporter's own process: a file followed like `tail -F` (rotation and truncation
 * handled, waiting for a file that is not there yet), or a stream (stdin). Reading waits for each chunk's
 * lines to be counted before it reads on, so memory is one chunk plus one bounded line.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import { createLogLineSplitter } from '../protocol/index.ts';

/** How often a followed file is looked at again once it has nothing new. */
export const DEFAULT_POLL_MS = 250;
const CHUNK_BYTES = 64 * 1024;

export interface FollowFileOptions {
  /** Read the file from its beginning instead of from its end (new lines only). Default false. */
  readonly fromStart?: boolean;
  /** Default {@link DEFAULT_POLL_MS}. */
  readonly pollMs?: number;
  readonly log?: Logger;
}

async function inode(path: string): Promise<{ ino: number; dev: number; size: number } | undefined> {
  try {
    const s = await stat(path);
    return { ino: s.ino, dev: s.dev, size: s.size };
  } catch {
    return undefined;
  }
}

async function openFile(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch {
    return undefined;
  }
}

/**
 * Follows `path` until `signal` aborts, handing every complete line to `onLine`. A file that is replaced
 * (rotation: another inode at the path) is read to its end first, then the new one from its beginning; a
 * file that shrinks (truncation) is read again from its beginning.
 */
export async function followFile(path: string, onLine: (line: Buffer) => void, signal: AbortSignal, options: FollowFileOptions = {}): Promise<void> {
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const splitter = createLogLineSplitter(onLine);
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  let handle: FileHandle | undefined;
  let position = 0;
  let first = true;
  let waiting = false;
  const wait = () => delay(pollMs, undefined, { signal }).catch(() => undefined);
  try {
    while (!signal.aborted) {
      if (handle === undefined) {
        handle = await openFile(path);
        if (handle === undefined) {
          if (!waiting) options.log?.info({ path }, 'waiting for the log file');
          waiting = true;
          // A file that appears later is new: all of it is read.
          first = false;
          await wait();
          continue;
        }
        waiting = false;
        position = first && options.fromStart !== true ? (await handle.stat()).size : 0;
        first = false;
        splitter.reset();
      }
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, position);
      if (bytesRead > 0) {
        position += bytesRead;
        splitter.push(buffer.subarray(0, bytesRead));
        continue;
      }
      const [current, now] = await Promise.all([handle.stat(), inode(path)]);
      if (now !== undefined && (now.ino !== current.ino || now.dev !== current.dev)) {
        // Rotated: the old file is read to its end (we are there); go on with the new one from its start.
        splitter.end();
        await handle.close();
        handle = undefined;
        options.log?.info({ path }, 'log file replaced, reading the new one');
        continue;
      }
      if (current.size < position) {
        options.log?.info({ path, position, size: current.size }, 'log file truncated, reading it again from its start');
        position = 0;
        splitter.reset();
        continue;
      }
      await wait();
    }
  } finally {
    await handle?.close();
  }
}

/** Reads `stream` to its end (or until `signal` aborts), one chunk at a time; the last line may lack its LF. */
export async function readLines(stream: Readable, onLine: (line: Buffer) => void, signal: AbortSignal): Promise<void> {
  const splitter = createLogLineSplitter(onLine);
  const stop = () => stream.destroy();
  signal.addEventListener('abort', stop, { once: true });
  try {
    for await (const chunk of stream) {
      splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    }
    splitter.end();
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    signal.removeEventListener('abort', stop);
  }
}
