import { MailfleetError } from '../errors.ts';
import type { DirectorSink, Step } from './types.ts';

/** doveadm exit codes the director answers with (sysexits). */
const EX_NOTFOUND = 68;
const EX_TEMPFAIL = 75;

export interface DirectorEndpoint {
  /** `http://host:port` of a proxy's doveadm HTTP listener. */
  url: string;
}

/** `unavailable`: no proxy is ready to ask (an expected state while the proxy layer starts or restarts). */
export type DirectorErrorKind = 'unavailable' | 'unreachable' | 'auth' | 'tempfail' | 'notfound' | 'failed';

export class DirectorError extends MailfleetError {
  readonly kind: DirectorErrorKind;
  constructor(kind: DirectorErrorKind, message: string, cause?: unknown) {
    super('DIRECTOR_FAILED', message, { cause });
    this.kind = kind;
  }
}

type DoveadmReply = [string, unknown, string][];

/**
 * The Dovecot 2.3 director, reached through the doveadm HTTP API of any ring member (the director
 * answers only after the ring has synced, so one member is enough). The API key is sent, never logged.
 * `endpoints()` is asked on every call: proxies move, and the next one is tried when one fails.
 */
export function createDirectorSink(opts: { endpoints: () => DirectorEndpoint[]; apiKey: string; timeoutMs?: number }): DirectorSink & {
  call(command: string, params: Record<string, string>): Promise<unknown>;
} {
  const auth = `X-Dovecot-API ${Buffer.from(opts.apiKey).toString('base64')}`;
  const timeoutMs = opts.timeoutMs ?? 5000;
  let tag = 0;

  async function callOne(url: string, command: string, params: Record<string, string>): Promise<unknown> {
    const t = `mf${++tag}`;
    let res: Response;
    try {
      res = await fetch(`${url}/doveadm/v1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify([[command, params, t]]),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new DirectorError('unreachable', `${command} via ${url}: ${(err as Error).message}`, err);
    }
    if (res.status === 401 || res.status === 403) throw new DirectorError('auth', `${command} via ${url}: doveadm API key refused (HTTP ${res.status})`);
    if (!res.ok) throw new DirectorError('failed', `${command} via ${url}: HTTP ${res.status}`);
    const body = (await res.json()) as DoveadmReply;
    const [kind, payload] = body[0] ?? [];
    if (kind === 'doveadmResponse') return payload;
    const exitCode = (payload as { exitCode?: number } | undefined)?.exitCode;
    if (exitCode === EX_NOTFOUND) throw new DirectorError('notfound', `${command} ${params.host ?? ''}: not found`);
    if (exitCode === EX_TEMPFAIL) throw new DirectorError('tempfail', `${command} ${params.host ?? ''}: director busy or host unknown (exit ${exitCode})`);
    throw new DirectorError('failed', `${command} via ${url}: ${JSON.stringify(payload)}`);
  }

  async function call(command: string, params: Record<string, string>): Promise<unknown> {
    const endpoints = opts.endpoints();
    if (endpoints.length === 0) throw new DirectorError('unavailable', `${command}: no ready proxy to talk to`);
    let last: unknown;
    for (const e of endpoints) {
      try {
        return await callOne(e.url, command, params);
      } catch (err) {
        last = err;
        if (!(err instanceof DirectorError) || err.kind !== 'unreachable') throw err;
      }
    }
    throw last;
  }

  return {
    call,
    async list() {
      const rows = (await call('directorStatus', {})) as Record<string, string>[];
      return rows.map((r) => ({
        address: r['mail server ip'] ?? '',
        vhosts: Number(r.vhosts ?? 0),
        up: r.state === 'up',
        users: Number(r.users ?? 0),
      }));
    },
    async apply(step: Step) {
      const host = step.address;
      switch (step.op) {
        case 'add':
          await call('directorAdd', { host, vhostCount: String(step.vhosts) });
          return;
        case 'update':
          await call('directorUpdate', { host, vhostCount: String(step.vhosts) });
          return;
        case 'up':
          await call('directorUp', { host });
          return;
        case 'down':
          await call('directorDown', { host });
          return;
        case 'flush':
          await call('directorFlush', { host });
          return;
        case 'remove':
          try {
            await call('directorRemove', { host });
          } catch (err) {
            // Already gone is what we wanted.
            if (!(err instanceof DirectorError && err.kind === 'notfound')) throw err;
          }
          return;
      }
    },
  };
}
