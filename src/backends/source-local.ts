/**
 * Desired state from the single-host runtime's endpoints: in process (the runtime's own feed) or from
 * its control socket (`mailfleet controller --source local`). Both keep every role's endpoints: the
 * mailbox ones are the backends, the proxy ones tell where the directors are.
 */
import { request } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Endpoint, EndpointEvent, EndpointWatch } from './endpoints.ts';
import type { Backend, BackendSource } from './types.ts';

/** The latest endpoints of every role, and backends (of `role`) with the moment each became ready. */
export function createEndpointBook(role = 'mailbox', now: () => number = Date.now) {
  const endpoints = new Map<string, Endpoint>();
  const readySince = new Map<string, number>();
  const key = (e: Endpoint) => `${e.name}@${e.address}`;
  function apply(event: EndpointEvent): void {
    const e = event.endpoint;
    const k = key(e);
    if (event.type === 'DELETED') {
      endpoints.delete(k);
      readySince.delete(k);
      return;
    }
    endpoints.set(k, { ...e });
    if (!e.ready) readySince.delete(k);
    else if (!readySince.has(k)) readySince.set(k, now());
  }
  return {
    apply,
    /** Replaces everything with a full list (after a relist); what stayed ready keeps its `readySince`. */
    replace(list: readonly Endpoint[]): void {
      const keep = new Set(list.map(key));
      for (const k of [...endpoints.keys()]) {
        if (!keep.has(k)) {
          endpoints.delete(k);
          readySince.delete(k);
        }
      }
      for (const endpoint of list) apply({ type: 'ADDED', endpoint });
    },
    endpoints: (): Endpoint[] => [...endpoints.values()].map((e) => ({ ...e })),
    list: (): Backend[] => [...endpoints.values()]
      .filter((e) => e.role === role)
      .map((e) => ({ name: e.name, address: e.address, ready: e.ready, terminating: e.terminating, readySince: readySince.get(key(e)) })),
  };
}

/** A source that also tells every endpoint it knows (the proxies among them are the directors). */
export interface LocalSource extends BackendSource {
  endpoints(): Endpoint[];
}

/** In-process source over the runtime's endpoint feed. */
export function createFeedSource(feed: EndpointWatch): LocalSource {
  const book = createEndpointBook();
  const listeners: (() => void)[] = [];
  let synced = false;
  return {
    list: () => (synced ? book.list() : undefined),
    endpoints: () => feed.list(),
    onChange: (l) => void listeners.push(l),
    async start(signal) {
      book.replace(feed.list());
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

/** Longest NDJSON line accepted from the control socket; a longer one ends the connection. */
const MAX_LINE_BYTES = 64 * 1024;

/** A source reading the runtime's control socket (`GET /v1/endpoints?watch=1`), reconnecting with backoff. */
export function createSocketSource(socketPath: string, log: Logger): LocalSource {
  const book = createEndpointBook();
  const listeners: (() => void)[] = [];
  let synced = false;
  const notify = () => {
    for (const l of listeners) l();
  };

  function watchOnce(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath, path: '/v1/endpoints?watch=1', signal }, (res) => {
        let buffer = '';
        // The initial list is gathered apart and replaces what we knew at SYNCED: anything missed while
        // disconnected is repaired.
        let listing: Map<string, Endpoint> | undefined = new Map();
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            let event: EndpointEvent | { type: 'SYNCED' };
            try {
              event = JSON.parse(buffer.slice(0, nl)) as EndpointEvent | { type: 'SYNCED' };
            } catch (err) {
              req.destroy(new Error('endpoint event is not JSON', { cause: err }));
              return;
            }
            buffer = buffer.slice(nl + 1);
            if (event.type === 'SYNCED') {
              book.replace([...(listing?.values() ?? [])]);
              listing = undefined;
              synced = true;
              notify();
            } else if (listing) {
              const k = `${event.endpoint.name}@${event.endpoint.address}`;
              if (event.type === 'DELETED') listing.delete(k);
              else listing.set(k, event.endpoint);
            } else {
              book.apply(event);
              notify();
            }
          }
          if (buffer.length > MAX_LINE_BYTES) req.destroy(new Error(`endpoint event longer than ${MAX_LINE_BYTES} bytes`));
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
    endpoints: () => book.endpoints(),
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
