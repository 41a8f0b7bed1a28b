/** Writing files that others read while they change. */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';

export interface AtomicWriteOptions {
  /** The file's mode, applied whatever the umask. */
  readonly mode: number;
  /** The file's owner. Default the writer. */
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/**
 * Writes `data` to `path` through a temporary file beside it (flushed to disk) and a rename: a reader sees the old
 * file or the new, never half of one, and the new one never wider than `mode`. On failure the temporary file is
 * removed and `path` is left as it was.
 */
export function writeFileAtomic(path: string, data: string, options: AtomicWriteOptions): void {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', options.mode);
  try {
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The umask may have narrowed the mode given to open.
    chmodSync(tmp, options.mode);
    if (options.owner) chownSync(tmp, options.owner.uid, options.owner.gid);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
