/**
 * Backend sync's second door: its Kubernetes parts, the EndpointSlice source and the Lease. They load
 * @kubernetes/client-node, which the single-host runtime and most commands never need, so `index.ts`
 * leaves them out.
 */
export { leaseElection, runWithLease, type LeaseOptions } from './leader.ts';
export { backendsFromSlices, createEndpointSliceSource, WATCHDOG_RELIST_MS, type EndpointSliceSourceOptions } from './source-kube.ts';
