import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** A logger that keeps its JSON lines for the test to read. */
export function capturedLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug', base: {} }, sink), lines: () => lines };
}
