export { maxSessions } from './limits.ts';
export { createDirectorLookup, type BackendLookup, type LookupResult } from './director-lookup.ts';
export { startLmtpRouter, type Router, type RouterOptions } from './router.ts';
