/**
 * The Dovecot 2.3 director over the doveadm HTTP API of a proxy. The API key is sent, never logged.
 */
import { DirectorError } from './director-error.ts';
import { failoverSink } from './directors.ts';
import type { ConnectDirector, DirectorHost, DirectorMember, DirectorSink, Step } from './types.ts';

export { DirectorError, type DirectorErrorKind } from './director-error.ts';

/** doveadm exit codes the director answers with (sysexits). */
const EX_NOTFOUND = 68;
const EX_TEMPFAIL = 75;
const TIMEOUT_MS = 5000;

export interface DirectorEndpoint {
  /** `http://host:port` of a proxy's doveadm HTTP listener. */
  url: string;
}

type DoveadmReply = [string, unknown, string][];
type DoveadmCall = (command: string, params: Record<string, string>) => Promise<unknown>;

let tag = 0;

function doveadmCall(url: string, apiKey: string, timeoutMs: number): DoveadmCall {
  const auth = `X-Dovecot-API ${Buffer.from(apiKey).toString('base64')}`;
  return async (command, params) => {
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
    const target = params.host ?? params.ip ?? '';
    if (exitCode === EX_NOTFOUND) throw new DirectorError('notfound', `${command} ${target}: not found`);
    if (exitCode === EX_TEMPFAIL) throw new DirectorError('tempfail', `${command} ${target}: director busy or host unknown (exit ${exitCode})`);
    throw new DirectorError('failed', `${command} via ${url}: ${JSON.stringify(payload)}`);
  };
}

function hostsOf(rows: Record<string, string>[]): DirectorHost[] {
  return rows.map((r) => ({
    address: r['mail server ip'] ?? '',
    vhosts: Number(r.vhosts ?? 0),
    up: r.state === 'up',
    users: Number(r.users ?? 0),
  }));
}

async function applyStep(call: DoveadmCall, step: Step): Promise<void> {
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
}

/** One proxy's director. `ringPort` is where directors listen for each other (`director ring add ip port`). */
export function createDoveadmDirector(opts: { url: string; apiKey: string; ringPort: number; timeoutMs?: number }): DirectorMember & { call: DoveadmCall } {
  const call = doveadmCall(opts.url, opts.apiKey, opts.timeoutMs ?? TIMEOUT_MS);
  return {
    call,
    list: async () => hostsOf((await call('directorStatus', {})) as Record<string, string>[]),
    apply: (step) => applyStep(call, step),
    async ring() {
      const rows = (await call('directorRingStatus', {})) as Record<string, string>[];
      return [...new Set(rows.map((r) => r['director ip'] ?? '').filter(Boolean))];
    },
    ringAdd: async (address) => void (await call('directorRingAdd', { ip: address, port: String(opts.ringPort) })),
    ringRemove: async (address) => void (await call('directorRingRemove', { ip: address, port: String(opts.ringPort) })),
  };
}

/** Connects to real directors over doveadm HTTP. */
export function doveadmDirectors(opts: { apiKey: string; ringPort: number; timeoutMs?: number }): ConnectDirector {
  return (d) => createDoveadmDirector({ url: d.url, apiKey: opts.apiKey, ringPort: opts.ringPort, timeoutMs: opts.timeoutMs });
}

/**
 * The director ring through any of `endpoints()` (asked on every call: proxies move), for callers that
 * only read or write hosts (the mailbox drain, tests): no ring changes, so no ring port.
 */
export function createDirectorSink(opts: { endpoints: () => DirectorEndpoint[]; apiKey: string; timeoutMs?: number }): DirectorSink & { call: DoveadmCall } {
  const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
  const sink = failoverSink(() => opts.endpoints().map((e) => createDoveadmDirector({ url: e.url, apiKey: opts.apiKey, ringPort: 0, timeoutMs })));
  return { list: () => sink.list(), apply: (step) => sink.apply(step), call: (command, params) => sink.first(command, (m) => m.call(command, params)) };
}
