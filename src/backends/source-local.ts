import { request } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Endpoint, EndpointEvent } from '../runtime/local/index.ts';
import type { Backend, BackendSource } from './types.ts';

/** Mailbox backends from single-host endpoint events, with the moment each became ready. */
export function createEndpointBook(role = 'mailbox', now: () => number = Date.now) {
  const backends = new Map<string, Backend>();
  const key = (e: Endpoint) => `${e.name}@${e.address}`;
  return {
    apply(event: EndpointEvent): boolean {
      const e = event.endpoint;
      if (e.role !== role) return false;
      if (event.type === 'DELETED') return backends.delete(key(e));
      const before = backends.get(key(e));
      const readySince = e.ready ? (before?.ready ? before.readySince : now()) : undefined;
      backends.set(key(e), { name: e.name, address: e.address, ready: e.ready, terminating: e.terminating, readySince });
      return true;
    },
    clear: () => backends.clear(),
    list: (): Backend[] => [...backends.values()].map((b) => ({ ...b })),
  };
}

/** In-process source over the runtime's endpoint feed (the runtime runs exactly one controller). */
export function createFeedSource(feed: { list(): Endpoint[]; subscribe(l: (e: EndpointEvent) => void): () => void }): BackendSource {
  const book = createEndpointBook();
  const listeners: (() => void)[] = [];
  let synced = false;
  return {
    list: () => (synced ? book.list() : undefined),
    onChange: (l) => void listeners.push(l),
    async start(signal) {
      for (const endpoint of feed.list()) book.apply({ type: 'ADDED', endpoint });
      synced = true;
      // Every change counts: a proxy coming back (a restarted ring) needs a reconcile as much as a backend.
      const unsubscribe = feed.subscribe((event) => {
        book.apply(event);
        for (const l of listeners) l();
      });
      for (const l of listeners) l();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      unsubscribe();
    },
  };
}

/** A source reading the runtime's control socket (`GET /v1/endpoints?watch=1`), reconnecting with backoff. */
export function createSocketSource(socketPath: string, log: Logger): BackendSource & { proxies(): Endpoint[] } {
  const book = createEndpointBook();
  const proxies = new Map<string, Endpoint>();
  const listeners: (() => void)[] = [];
  let synced = false;
  const notify = () => {
    for (const l of listeners) l();
  };

  function watchOnce(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath, path: '/v1/endpoints?watch=1', signal }, (res) => {
        let buffer = '';
        const fresh = createEndpointBook();
        const freshProxies = new Map<string, Endpoint>();
        let listing = true;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const event = JSON.parse(buffer.slice(0, nl)) as EndpointEvent | { type: 'SYNCED' };
            buffer = buffer.slice(nl + 1);
            if (event.type === 'SYNCED') {
              // A full list replaces whatever we knew: anything missed while disconnected is repaired.
              listing = false;
              book.clear();
              for (const b of fresh.list()) book.apply({ type: 'ADDED', endpoint: { role: 'mailbox', name: b.name, address: b.address, ready: b.ready, serving: b.ready, terminating: b.terminating } });
              proxies.clear();
              for (const [k, v] of freshProxies) proxies.set(k, v);
              synced = true;
              notify();
              continue;
            }
            const target = listing ? fresh : book;
            const proxyMap = listing ? freshProxies : proxies;
            if (event.endpoint.role === 'proxy') {
              if (event.type === 'DELETED') proxyMap.delete(event.endpoint.name);
              else proxyMap.set(event.endpoint.name, event.endpoint);
            }
            target.apply(event);
            if (!listing) notify();
          }
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  return {
    list: () => (synced ? book.list() : undefined),
    proxies: () => [...proxies.values()],
    onChange: (l) => void listeners.push(l),
    async start(signal) {
      let failures = 0;
      while (!signal.aborted) {
        try {
          await watchOnce(signal);
          failures = 0;
        } catch (err) {
          if (signal.aborted) break;
          failures++;
          log.warn({ err: errorMessage(err), socketPath }, 'endpoint watch failed; reconnecting');
        }
        await delay(Math.min(100 * 2 ** failures, 10_000), undefined, { signal }).catch(() => undefined);
      }
    },
  };
}
