import { EventEmitter } from 'node:events';
import type { Role } from '../../spec/index.ts';

/** One instance as the backend-sync controller sees it: the single-host equivalent of an EndpointSlice entry. */
export interface Endpoint {
  role: Role;
  name: string;
  address: string;
  ready: boolean;
  /** Still answering, though maybe not ready (Kubernetes `serving`). */
  serving: boolean;
  terminating: boolean;
}

export type EndpointEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; endpoint: Endpoint };

/** Publishes endpoint changes; subscribers get the full list first (list, then watch). */
export interface EndpointFeed {
  list(): Endpoint[];
  upsert(endpoint: Endpoint): void;
  remove(name: string, address: string): void;
  subscribe(listener: (event: EndpointEvent) => void): () => void;
}

const key = (name: string, address: string) => `${name}@${address}`;

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
