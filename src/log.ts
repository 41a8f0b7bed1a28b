import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout (or another fd or file); `MAILFLEET_LOG_LEVEL` overrides the level. */
export function createRootLogger(options: { level?: string; destination?: number | string; mode?: number } = {}): Logger {
  const level = options.level ?? process.env.MAILFLEET_LOG_LEVEL ?? 'info';
  return pino(
    { level, base: {}, timestamp: pino.stdTimeFunctions.isoTime, redact: ['password', '*.password', 'apiKey', '*.apiKey'] },
    pino.destination({ dest: options.destination ?? 1, sync: true, mkdir: true, ...(options.mode === undefined ? {} : { mode: options.mode }) }),
  );
}

/** A logger whose lines carry `component`; children add `instance`, `cid` and the like. */
export function createLogger(component: string, options: { level?: string; destination?: number | string } = {}): Logger {
  return createRootLogger(options).child({ component });
}
