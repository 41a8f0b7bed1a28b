import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout (or another fd or file); `MAILFLEET_LOG_LEVEL` overrides the level. */
export function createLogger(component: string, options: { level?: string; destination?: number | string } = {}): Logger {
  const level = options.level ?? process.env.MAILFLEET_LOG_LEVEL ?? 'info';
  return pino(
    { level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime, redact: ['password', '*.password', 'apiKey', '*.apiKey'] },
    pino.destination({ dest: options.destination ?? 1, sync: true, mkdir: true }),
  );
}
