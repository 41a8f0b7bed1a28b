import { MailfleetError } from '../errors.ts';

/**
 * `unavailable`: no proxy is ready to ask (an expected state while the proxy layer starts or restarts). `tls`: the
 * proxy's certificate was refused, or the handshake failed (a proxy still serving plain HTTP during an upgrade).
 */
export type DirectorErrorKind = 'unavailable' | 'unreachable' | 'tls' | 'auth' | 'tempfail' | 'notfound' | 'failed';

/** A director command that failed, sorted by what the caller can do about it. */
export class DirectorError extends MailfleetError {
  readonly kind: DirectorErrorKind;
  constructor(kind: DirectorErrorKind, message: string, cause?: unknown) {
    super('DIRECTOR_FAILED', message, { cause });
    this.kind = kind;
  }
}
