import { request } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { TestContext } from 'node:test';

export interface EndpointEventLine {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'SYNCED';
  endpoint?: { role: string; name: string; address: string; ready: boolean; serving: boolean; terminating: boolean };
}

export interface EndpointWatch {
  events: EndpointEventLine[];
  /** Resolves with the first event (from index `from`) matching `match`, or throws after `timeoutMs`. */
  waitFor(match: (e: EndpointEventLine) => boolean, timeoutMs?: number, from?: number): Promise<EndpointEventLine>;
}

/** Watches the runtime's endpoint stream on its control socket until the test ends. */
export function watchEndpoints(t: TestContext, socketPath: string): EndpointWatch {
  const events: EndpointEventLine[] = [];
  let buffer = '';
  const req = request({ socketPath, path: '/v1/endpoints?watch=1' }, (res) => {
    res.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buffer.slice(0, nl)) as EndpointEventLine);
        buffer = buffer.slice(nl + 1);
      }
    });
  });
  req.on('error', () => undefined);
  req.end();
  t.after(() => req.destroy());
  return {
    events,
    async waitFor(match, timeoutMs = 60_000, from = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.slice(from).find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching endpoint event after ${timeoutMs} ms; saw ${JSON.stringify(events.slice(from))}`);
        await delay(50);
      }
    },
  };
}
