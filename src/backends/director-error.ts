import { MailfleetError } from '../errors.ts';

/** `unavailable`: no proxy is ready to ask (an expected state while the proxy layer starts or restarts). */
export type DirectorErrorKind = 'unavailable' | 'unreachable' | 'auth' | 'tempfail' | 'notfound' | 'failed';

/** A director command that failed, sorted by what the caller can do about it. */
export class DirectorError extends MailfleetError {
  readonly kind: DirectorErrorKind;
  constructor(kind: DirectorErrorKind, message: string, cause?: unknown) {
    super('DIRECTOR_FAILED', message, { cause });
    this.kind = kind;
  }
}
