/**
 * Backend sync: sources (desired backends) → plan → the director ring, assembled by `createBackendSync`
 * for every place it runs. The EndpointSlice source and the Lease are behind the second door, `kube.ts`.
 */
export { createDirectorSink, doveadmDirectors, DirectorError, type DirectorEndpoint, type DirectorErrorKind } from './director.ts';
export { createMemoryDirectors, type MemoryDirectors } from './director-memory.ts';
export { directorsByName, directorsFromEndpoints } from './directors.ts';
export { createEndpointFeed, type Endpoint, type EndpointEvent, type EndpointFeed, type EndpointWatch } from './endpoints.ts';
export { createBackendMetrics, type BackendMetrics } from './metrics.ts';
export { plan, recordStep, type PlanOptions } from './plan.ts';
export { createEndpointBook, createFeedSource, createSocketSource, type LocalSource } from './source-local.ts';
export { createBackendSync, ROUTABLE_TIMEOUT_MS, syncSettings, type BackendSync, type BackendSyncOptions, type Election } from './sync.ts';
export type { Backend, BackendSource, ConnectDirector, Director, DirectorHost, DirectorLocator, DirectorMember, DirectorSink, DrainState, Step } from './types.ts';
export { backendInDirectors, type BackendInDirectors, type DirectorView } from './view.ts';
