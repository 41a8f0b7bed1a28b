/** Writing files that others read while they change, and reading the one-value secret files the platform mounts. */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { errorMessage, MailfleetError } from './errors.ts';

/** The most a secret file (a password, a key for an API) may hold. */
export const MAX_SECRET_FILE_BYTES = 4096;

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

/**
 * The value in a secret file (a mounted Secret's key, a password file in the state dir): the whole file, less one
 * trailing line break (`kubectl create secret --from-file` keeps the one an editor adds). At most
 * MAX_SECRET_FILE_BYTES are read, so a wrong path (a device, a log) cannot fill memory; an empty value, one over
 * several lines or with a NUL byte, or a longer file is refused rather than cut to something that is not the
 * secret. `what` names the file's purpose in the error (SECRET_MISSING).
 */
export function readSecretFile(file: string, what: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new MailfleetError('SECRET_MISSING', `${what} ${file}: cannot read it (${errorMessage(err)})`, { cause: err });
  }
  const buf = Buffer.alloc(MAX_SECRET_FILE_BYTES + 1);
  let n = 0;
  try {
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
  } catch (err) {
    throw new MailfleetError('SECRET_MISSING', `${what} ${file}: cannot read it (${errorMessage(err)})`, { cause: err });
  } finally {
    closeSync(fd);
  }
  if (n > MAX_SECRET_FILE_BYTES) throw new MailfleetError('SECRET_MISSING', `${what} ${file}: longer than ${MAX_SECRET_FILE_BYTES} bytes; expected one value on one line`);
  const value = buf.subarray(0, n).toString('utf8').replace(/\r?\n$/, '');
  if (value === '') throw new MailfleetError('SECRET_MISSING', `${what} ${file}: empty`);
  if (/[\r\n\0]/.test(value)) throw new MailfleetError('SECRET_MISSING', `${what} ${file}: expected one value on one line`);
  return value;
}
