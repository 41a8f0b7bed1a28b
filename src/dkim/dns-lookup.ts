/** TXT lookups for the visibility check of a new selector, through node:dns (c-ares). */
import { Resolver } from 'node:dns/promises';
import { isIPv6 } from 'node:net';

/** How long one query waits for an answer before c-ares tries again. */
export const DNS_TIMEOUT_MS = 3000;
/** Attempts per server. */
export const DNS_TRIES = 2;

/** Each TXT record's text (its character strings joined), or why there is none. */
export type TxtAnswer = { ok: true; texts: string[] } | { ok: false; reason: string };
export type TxtLookup = (name: string) => Promise<TxtAnswer>;

export interface TxtLookupOptions {
  /** The nameserver to ask; default the system's resolvers (/etc/resolv.conf). */
  server?: { host: string; port: number };
  /** Default {@link DNS_TIMEOUT_MS}. */
  timeoutMs?: number;
}

const REASONS: Record<string, string> = {
  ENOTFOUND: 'the name does not exist (NXDOMAIN)',
  ENODATA: 'the name has no TXT record',
  ETIMEOUT: 'no answer in time',
  ESERVFAIL: 'the nameserver failed (SERVFAIL)',
  EREFUSED: 'the nameserver refused the query',
  ECONNREFUSED: 'the nameserver could not be reached',
};

export function createTxtLookup(opts: TxtLookupOptions = {}): TxtLookup {
  const resolver = new Resolver({ timeout: opts.timeoutMs ?? DNS_TIMEOUT_MS, tries: DNS_TRIES });
  const { server } = opts;
  if (server) resolver.setServers([isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`]);
  const where = server ? ` (asked ${server.host}:${server.port})` : '';
  return async (name) => {
    try {
      const records = await resolver.resolveTxt(name);
      return { ok: true, texts: records.map((chunks) => chunks.join('')) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      return { ok: false, reason: `${REASONS[code] ?? `lookup failed (${code})`}${where}` };
    }
  };
}
