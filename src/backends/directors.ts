/**
 * Where the directors are, for each runtime, and the ring as one sink. On one host the proxies are
 * endpoints (ready ones, at their current addresses); in Kubernetes each proxy pod has a stable DNS
 * name, resolved on every pass because a rescheduled pod keeps its name and changes its address.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { DirectorError } from './director-error.ts';
import type { Endpoint } from './endpoints.ts';
import type { Director, DirectorLocator, DirectorSink, Step } from './types.ts';

/** The ready proxies among `endpoints()`, each director's doveadm API at `doveadmPort`. */
export function directorsFromEndpoints(endpoints: () => Endpoint[], doveadmPort: number): DirectorLocator {
  return () => endpoints()
    .filter((e) => e.role === 'proxy' && e.ready)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((e) => ({ address: e.address, url: `https://${e.address.includes(':') ? `[${e.address}]` : e.address}:${doveadmPort}` }));
}

/**
 * Directors by the DNS names of their doveadm URLs (Kubernetes: each proxy pod's name through the
 * headless Service). Names that do not resolve (a pod not scheduled yet) are left out until they do.
 */
export function directorsByName(urls: readonly string[], resolve: (host: string) => Promise<string> = async (host) => (await lookup(host, { family: 4 })).address): DirectorLocator {
  return async () => {
    const out: Director[] = [];
    for (const url of urls) {
      const host = new URL(url).hostname;
      try {
        out.push({ address: isIP(host) ? host : await resolve(host), url });
      } catch {
        // not resolvable yet
      }
    }
    return out;
  };
}

/**
 * The ring through whichever member answers: the director answers only after the ring has synced, so
 * one member is enough. Members are asked again on every call; the next one is tried when one is
 * unreachable, and `unavailable` means no member is there to ask.
 */
export function failoverSink<M extends DirectorSink>(members: () => M[] | Promise<M[]>): DirectorSink & { first<R>(what: string, fn: (m: M) => Promise<R>): Promise<R> } {
  async function first<R>(what: string, fn: (m: M) => Promise<R>): Promise<R> {
    const list = await members();
    if (list.length === 0) throw new DirectorError('unavailable', `${what}: no ready proxy to talk to`);
    let last: unknown;
    for (const m of list) {
      try {
        return await fn(m);
      } catch (err) {
        last = err;
        // A member that cannot be reached, or whose TLS fails, leaves the others to ask.
        if (!(err instanceof DirectorError) || (err.kind !== 'unreachable' && err.kind !== 'tls')) throw err;
      }
    }
    throw last;
  }
  return {
    first,
    list: () => first('directorStatus', (m) => m.list()),
    apply: (step: Step) => first(step.op, (m) => m.apply(step)),
  };
}
