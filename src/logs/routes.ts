/**
 * Which Loki requests the logs gateway passes on. Loki has no authentication of its own, and besides pushing and
 * querying it serves endpoints that change or stop it: deleting logs (`/loki/api/v1/delete`), flushing and
 * shutting down the ingester, its config and ring pages. Only pushes (promtail) and reads (Grafana) pass; everything
 * else is refused before it reaches Loki. Pure: a method and a path in, a verdict out.
 */

export type RouteVerdict = { pass: true } | { pass: false; status: 403 | 405; reason: string };

const API = '/loki/api/v1/';
/** Under the API, what only changes or ends things; the live tail needs a WebSocket, which the gateway does not carry. */
const API_REFUSED = new Set(['delete', 'tail', 'push/debug']);
/** API endpoints a read may POST to (Loki takes the query as a form there too). */
const API_POST_READS = new Set(['query', 'query_range', 'series', 'index/stats', 'index/volume', 'index/volume_range']);
const HEALTH = new Set(['/ready', '/metrics']);
/**
 * Every path Loki serves for a push or a read is plain: letters, digits, `_`, `-` and single slashes (label names
 * are `[a-zA-Z_][a-zA-Z0-9_]*`). Anything else (`%64elete`, `./`, `//`, `\`) Loki or its router might decode or
 * clean into another endpoint than the one judged here, so it is refused rather than interpreted.
 */
const PLAIN_PATH = /^(\/[A-Za-z0-9_-]+)+$/;

/** `path` is the request target without its query string. */
export function lokiRoute(method: string, path: string): RouteVerdict {
  if (!PLAIN_PATH.test(path)) return { pass: false, status: 403, reason: 'path not allowed' };
  if (HEALTH.has(path)) return method === 'GET' ? { pass: true } : { pass: false, status: 405, reason: 'only GET' };
  if (!path.startsWith(API)) return { pass: false, status: 403, reason: 'not a push or read endpoint' };
  const endpoint = path.slice(API.length);
  if (API_REFUSED.has(endpoint)) return { pass: false, status: 403, reason: 'not a push or read endpoint' };
  if (endpoint === 'push') return method === 'POST' ? { pass: true } : { pass: false, status: 405, reason: 'only POST' };
  if (method === 'GET') return { pass: true };
  if (method === 'POST' && API_POST_READS.has(endpoint)) return { pass: true };
  return { pass: false, status: 405, reason: 'only GET' };
}
