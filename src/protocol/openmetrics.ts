/**
 * OpenMetrics text (what Dovecot's stats process serves) to the Prometheus text format 0.0.4 (what the agent serves,
 * and what prom-client writes). Pure: text in, text out.
 *
 * - `# EOF` and whatever follows it, `# UNIT` lines, other comments, `_created` samples, timestamps and exemplars
 *   are left out.
 * - A counter family `x` is typed and described as `x_total`, the name its samples carry; a family already named
 *   `x_total` whose samples carry that same name (rspamd 3.4's) keeps it. Dovecot 2.3 (observed on
 *   2.3.19) also prints the total of a counter with `group_by` as `x_count`, and of its summed duration as
 *   `x_sum`, inside the counter family; those become the unlabelled `x_total` (`x_duration_seconds_total`).
 * - An `info` family `x` becomes the gauge `x_info`, a `stateset` a gauge, `unknown` untyped; a family of a type
 *   0.0.4 has no form for (`gaugehistogram`) loses its metadata and its samples stand untyped.
 * - Every sample gets `labels` it does not already carry (the agent's role and instance), after its own.
 * - A family whose name does not start with `namePrefix` gets it in front (Dovecot's `process_start_time_seconds`,
 *   the start of the stats process whose counters these are, would read as the agent's own start otherwise).
 *
 * A line that is not valid (bad name, label or value, over-long, a series repeated) is left out and counted: the
 * rest is still served.
 */

export interface ConvertOptions {
  /** Labels added to every sample that lacks them, in this order, after the sample's own. */
  labels?: Readonly<Record<string, string>>;
  /** Prefixed to every family name that does not start with it. Default: none. */
  namePrefix?: string;
}

export interface Converted {
  /** Prometheus text 0.0.4: empty, or families each ending in a newline. */
  text: string;
  /** Lines left out because they were not valid (see above for what is left out on purpose). */
  invalidLines: number;
}

/** Longer lines are left out: Dovecot's longest are histogram buckets of a few hundred bytes. */
export const MAX_OPENMETRICS_LINE_CHARS = 16 * 1024;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^[+-]?(?:Inf|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/;
const TIMESTAMP = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

type OpenMetricsType = 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'stateset' | 'info' | 'summary' | 'unknown';
const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'gaugehistogram', 'stateset', 'info', 'summary', 'unknown']);

/** What each type's samples may be called, after the family name (`_created` is read and left out). */
const SUFFIXES: Record<OpenMetricsType, readonly string[]> = {
  counter: ['_total', '_count', '_sum', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
  stateset: [''],
  info: ['_info'],
  summary: ['', '_sum', '_count', '_created'],
  unknown: [''],
};

interface Family {
  name: string;
  type?: OpenMetricsType;
  help?: string;
  /** Sample lines already converted. */
  samples: string[];
}

interface Sample {
  name: string;
  labels: [string, string][];
  value: string;
}

/** A label value's characters between its quotes, unescaped; undefined when an escape is not `\\`, `\"` or `\n`. */
function unescape(raw: string): string | undefined {
  if (!raw.includes('\\')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = raw[++i];
    if (next === '\\') out += '\\';
    else if (next === '"') out += '"';
    else if (next === 'n') out += '\n';
    else return undefined;
  }
  return out;
}

const NEEDS_ESCAPE = /[\\\n"]/;
/** A label value as the text formats write it between quotes: backslash, newline and quote escaped. */
export const escapeLabel = (value: string): string =>
  (NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value);
const escapeHelp = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** Where the label value starting at `from` ends: the next `"` that no backslash escapes; -1 if none. */
function closingQuote(line: string, from: number): number {
  let j = line.indexOf('"', from);
  while (j >= 0) {
    let backslashes = 0;
    for (let k = j - 1; k >= from && line[k] === '\\'; k--) backslashes++;
    if (backslashes % 2 === 0) return j;
    j = line.indexOf('"', j + 1);
  }
  return -1;
}

/** `{a="1",b="x y"}` at `line[start]`; the labels and where the `}` ends, or undefined. */
function parseLabels(line: string, start: number): { labels: [string, string][]; end: number } | undefined {
  const labels: [string, string][] = [];
  let i = start + 1;
  for (;;) {
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) return undefined;
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name) || labels.some(([n]) => n === name) || line[eq + 1] !== '"') return undefined;
    const j = closingQuote(line, eq + 2);
    if (j < 0) return undefined;
    const value = unescape(line.slice(eq + 2, j));
    if (value === undefined) return undefined;
    labels.push([name, value]);
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') return undefined;
  }
}

/** `name{labels} value [timestamp] [# exemplar]`. */
function parseSample(line: string): Sample | undefined {
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  const nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
  if (nameEnd <= 0) return undefined;
  const name = line.slice(0, nameEnd);
  if (!METRIC_NAME.test(name)) return undefined;
  let labels: [string, string][] = [];
  let rest = nameEnd;
  if (line[nameEnd] === '{') {
    const parsed = parseLabels(line, nameEnd);
    if (!parsed) return undefined;
    labels = parsed.labels;
    rest = parsed.end;
  }
  if (line[rest] !== ' ') return undefined;
  const exemplar = line.indexOf(' # ', rest);
  const fields = line.slice(rest + 1, exemplar < 0 ? undefined : exemplar).split(' ');
  const [value = '', timestamp] = fields;
  if (fields.length > 2 || !VALUE.test(value) || (timestamp !== undefined && !TIMESTAMP.test(timestamp))) return undefined;
  return { name, labels, value };
}

/** The family a sample belongs to: the current one if its name fits that family's type, otherwise its own. */
function suffixOf(family: Family | undefined, sampleName: string): string | undefined {
  if (!family) return undefined;
  if (family.type === 'counter' && family.name.endsWith('_total') && sampleName === family.name) return '';
  for (const suffix of SUFFIXES[family.type ?? 'unknown']) if (sampleName === family.name + suffix) return suffix;
  return undefined;
}

/** A counter's 0.0.4 name: its family's with `_total`, which a family named with it already has (rspamd's are). */
function counterName(family: Family): string {
  return family.name.endsWith('_total') ? family.name : `${family.name}_total`;
}

/** The 0.0.4 name of a sample of `family` called family name + `suffix`; undefined for one left out (`_created`). */
function outputName(family: Family, suffix: string): string | undefined {
  switch (family.type) {
    case 'counter':
      return suffix === '_created' ? undefined : counterName(family);
    case 'info':
      return `${family.name}_info`;
    case 'histogram':
    case 'summary':
      return suffix === '_created' ? undefined : family.name + suffix;
    default:
      return family.name + suffix;
  }
}

/** The name and type of a family's HELP and TYPE lines in 0.0.4; without a type, its samples stand untyped. */
function header(family: Family): { name: string; type?: string } {
  switch (family.type) {
    case 'counter':
      return { name: counterName(family), type: 'counter' };
    case 'info':
      return { name: `${family.name}_info`, type: 'gauge' };
    case 'stateset':
      return { name: family.name, type: 'gauge' };
    case 'unknown':
      return { name: family.name, type: 'untyped' };
    case 'gaugehistogram':
    case undefined:
      return { name: family.name };
    default:
      return { name: family.name, type: family.type };
  }
}

/** Families in output order, those that come out under one name merged (a family repeated: invalid, but seen). */
function render(families: readonly Family[]): { lines: string[]; invalid: number } {
  const merged = new Map<string, { type?: string; help?: string; samples: string[] }>();
  let invalid = 0;
  for (const family of families) {
    if (family.samples.length === 0) continue;
    const { name, type } = header(family);
    const into = merged.get(name);
    if (!into) merged.set(name, { ...(type === undefined ? {} : { type }), ...(family.help === undefined ? {} : { help: family.help }), samples: [...family.samples] });
    else if (into.type === type) into.samples.push(...family.samples);
    else invalid += family.samples.length;
  }
  const lines: string[] = [];
  for (const [name, { type, help, samples }] of merged) {
    if (type !== undefined) {
      if (help !== undefined) lines.push(`# HELP ${name} ${escapeHelp(help)}`);
      lines.push(`# TYPE ${name} ${type}`);
    }
    lines.push(...samples);
  }
  return { lines, invalid };
}

/** Converts one OpenMetrics exposition; see the module comment for what changes. */
export function openMetricsToPrometheus(input: string, options: ConvertOptions = {}): Converted {
  const prefix = options.namePrefix ?? '';
  /** The labels to add, each with its `name="value"` text. */
  const extra = Object.entries(options.labels ?? {}).map(([k, v]) => [k, `${k}="${escapeLabel(v)}"`] as const);
  const prefixed = (name: string): string => (name.startsWith(prefix) ? name : prefix + name);
  const families: Family[] = [];
  const untyped = new Map<string, Family>();
  const seen = new Set<string>();
  /** The family whose metadata was read last: samples that fit it are its own. */
  let current: Family | undefined;
  let invalidLines = 0;

  /** The family a HELP or TYPE line describes: the current one while it has neither that line nor samples yet. */
  function describe(name: string, has: (f: Family) => boolean): Family {
    if (current && current.name === name && !has(current) && current.samples.length === 0) return current;
    current = { name, samples: [] };
    families.push(current);
    return current;
  }

  function metadata(line: string): void {
    const [, keyword = '', name = '', ...rest] = line.split(' ');
    if (keyword !== 'HELP' && keyword !== 'TYPE') return;
    const text = rest.join(' ');
    const help = keyword === 'HELP' ? unescape(text) : undefined;
    if (!METRIC_NAME.test(name) || (keyword === 'TYPE' && !TYPES.has(text)) || (keyword === 'HELP' && help === undefined)) {
      invalidLines++;
      return;
    }
    if (keyword === 'TYPE') describe(prefixed(name), (f) => f.type !== undefined).type = text as OpenMetricsType;
    else describe(prefixed(name), (f) => f.help !== undefined).help = help;
  }

  function sample(line: string): void {
    const parsed = parseSample(line);
    if (!parsed) {
      invalidLines++;
      return;
    }
    const sampleName = prefixed(parsed.name);
    let family = current;
    let suffix = suffixOf(family, sampleName);
    if (family === undefined || suffix === undefined) {
      // Not of the family being described: a sample of its own, untyped.
      family = untyped.get(sampleName) ?? { name: sampleName, samples: [] };
      if (!untyped.has(sampleName)) {
        untyped.set(sampleName, family);
        families.push(family);
      }
      current = undefined;
      suffix = '';
    }
    const name = outputName(family, suffix);
    if (name === undefined) return;
    let text = '';
    for (const [k, v] of parsed.labels) text += `${text === '' ? '' : ','}${k}="${escapeLabel(v)}"`;
    for (const [k, pair] of extra) if (!parsed.labels.some(([n]) => n === k)) text += `${text === '' ? '' : ','}${pair}`;
    const series = text === '' ? name : `${name}{${text}}`;
    if (seen.has(series)) {
      invalidLines++;
      return;
    }
    seen.add(series);
    family.samples.push(`${series} ${parsed.value}`);
  }

  for (const raw of input.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') continue;
    if (line === '# EOF') break;
    if (line.length > MAX_OPENMETRICS_LINE_CHARS) invalidLines++;
    else if (line.startsWith('#')) metadata(line);
    else sample(line);
  }

  const { lines, invalid } = render(families);
  return { text: lines.length === 0 ? '' : `${lines.join('\n')}\n`, invalidLines: invalidLines + invalid };
}
