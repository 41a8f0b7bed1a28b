export { DEFAULT_SESSION_LIMITS, startLmtpRouter, type Router, type RouterOptions } from './router.ts';
export { createDirectorLookup, type BackendLookup, type LookupResult } from './director-lookup.ts';
