export { maxSessions } from './limits.ts';
export { startLmtpRouter, type Router, type RouterOptions } from './router.ts';
