/**
 * The endpoint model backend sync consumes: instances as a runtime observes them, the single-host
 * equivalent of EndpointSlice entries. It lives here, below the runtimes that publish it: the
 * single-host runtime feeds it in process and serves it on its control socket; `mailfleet controller
 * --source local` reads it back from there.
 */
import { EventEmitter } from 'node:events';
import type { InstanceRole } from '../spec/index.ts';

/** One instance: its stable name, its current address and its conditions. */
export interface Endpoint {
  /** Every instance's role (the prober's too: the single host's metrics scrape every endpoint); backend sync reads mailbox and proxy ones. */
  role: InstanceRole;
  name: string;
  address: string;
  ready: boolean;
  /** Still answering, though maybe not ready (Kubernetes `serving`). */
  serving: boolean;
  terminating: boolean;
}

export type EndpointEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; endpoint: Endpoint };

/** What a consumer needs of a feed: the current list, then every change (list, then watch). */
export interface EndpointWatch {
  list(): Endpoint[];
  subscribe(listener: (event: EndpointEvent) => void): () => void;
}

/** The publishing side, owned by a runtime. */
export interface EndpointFeed extends EndpointWatch {
  upsert(endpoint: Endpoint): void;
  remove(name: string, address: string): void;
}

const key = (name: string, address: string) => `${name}@${address}`;

/** An in-process feed: an upsert that changes nothing emits nothing. */
export function createEndpointFeed(): EndpointFeed {
  const current = new Map<string, Endpoint>();
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  return {
    list: () => [...current.values()].map((e) => ({ ...e })),
    upsert(endpoint) {
      const k = key(endpoint.name, endpoint.address);
      const before = current.get(k);
      if (before && JSON.stringify(before) === JSON.stringify(endpoint)) return;
      current.set(k, { ...endpoint });
      bus.emit('event', { type: before ? 'MODIFIED' : 'ADDED', endpoint: { ...endpoint } } satisfies EndpointEvent);
    },
    remove(name, address) {
      const k = key(name, address);
      const before = current.get(k);
      if (!before) return;
      current.delete(k);
      bus.emit('event', { type: 'DELETED', endpoint: before } satisfies EndpointEvent);
    },
    subscribe(listener) {
      bus.on('event', listener);
      return () => bus.off('event', listener);
    },
  };
}
