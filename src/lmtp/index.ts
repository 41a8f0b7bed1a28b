export { startLmtpRouter, type Router, type RouterOptions } from './router.ts';
