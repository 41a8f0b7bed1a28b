export { createBackendController, DRAIN_TIMEOUT_MS, RESYNC_MS, type BackendController, type BackendControllerOptions } from './controller.ts';
export { createDirectorSink, DirectorError, type DirectorEndpoint } from './director.ts';
export { createBackendMetrics, type BackendMetrics } from './metrics.ts';
export { plan, recordStep, type PlanOptions } from './plan.ts';
export { createEndpointBook, createFeedSource, createSocketSource } from './source-local.ts';
export type { Backend, BackendSource, DirectorHost, DirectorSink, DrainState, Step } from './types.ts';
export { backendsFromSlices, createEndpointSliceSource, WATCHDOG_RELIST_MS, type EndpointSliceSourceOptions } from './source-kube.ts';
export { runWithLease, type LeaseOptions } from './leader.ts';
export { startControllerHttp } from './http.ts';
