/**
 * Reading an exporter's /metrics: the Prometheus text format parsed into families of samples, and the totals
 * the bench compares (a counter's sum over its series, a histogram's observation count).
 */
import { get } from 'node:http';

export interface Sample {
  /** The series name as written (`…_bucket`, `…_count` for a histogram's series). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  /** From `# TYPE`; `untyped` when there was none. */
  type: string;
  samples: Sample[];
}

export type Families = Map<string, Family>;

const SUFFIXES = ['_bucket', '_sum', '_count'];

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pattern = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch));
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** Parses an exposition; a series belongs to the family its `# TYPE` names (histogram and summary series by their base name). */
export function parseMetrics(text: string): Families {
  const families: Families = new Map();
  const family = (name: string, type = 'untyped'): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type, samples: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (name !== undefined) family(name).type = type ?? 'untyped';
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const name = m[1] as string;
    const base = SUFFIXES.find((s) => name.endsWith(s) && families.get(name.slice(0, -s.length))?.type.match(/histogram|summary/));
    family(base ? name.slice(0, -base.length) : name).samples.push({ name, labels: parseLabels(m[2] ?? ''), value: parseValue(m[3] as string) });
  }
  return families;
}

/** Which series of a family to add up: labels that must match, and for a histogram its `count` or `sum`. */
export interface Selector {
  labels?: Record<string, string>;
  part?: 'count' | 'sum';
}

/**
 * A family's total: the sum of its counter or gauge series, or of a histogram's `_count` (or `_sum`) series,
 * over the series whose labels match. Undefined when the exposition has no such family.
 */
export function total(families: Families, name: string, selector: Selector = {}): number | undefined {
  const f = families.get(name);
  if (!f) return undefined;
  const histogram = f.type === 'histogram' || f.type === 'summary';
  const suffix = histogram ? `_${selector.part ?? 'count'}` : '';
  let sum = 0;
  for (const s of f.samples) {
    if (s.name !== `${name}${suffix}`) continue;
    if (Object.entries(selector.labels ?? {}).some(([k, v]) => s.labels[k] !== v)) continue;
    sum += s.value;
  }
  return sum;
}

/** GET http://host:port/metrics; rejects on a non-200 answer, a connection error or after `timeoutMs`. */
export function scrape(host: string, port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path: '/metrics', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics answered ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`/metrics: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
