import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { MailfleetError } from '../errors.ts';
// The patterns only, not the spec's door: that loads the validator, which most commands never use.
import { NAME_PATTERN, QUOTA_PATTERN } from '../spec/patterns.ts';

/**
 * What a flag takes. Each command declares its flags with these; `parse` reads them once, turns every
 * value into its typed form and refuses a malformed one as USAGE (exit 2), naming the flag, what it
 * expected and what it got, as the spec's validator does for fields. Bounds are the spec's where the
 * flag overrides a spec field.
 */
export type OptionSpec =
  | { type: 'boolean'; short?: string; default?: boolean }
  | { type: 'string'; short?: string; default?: string }
  /** A whole number; `unit` names what it counts in the message ("seconds"). */
  | { type: 'integer'; short?: string; default?: number; min: number; max?: number; unit?: string }
  | { type: 'port'; short?: string; default?: number }
  /** A listen address `HOST:PORT` (an IPv6 host in brackets) → `{ host, port }`; port 0 binds any free port. */
  | { type: 'host-port'; short?: string; default?: string }
  /** A mailbox quota as in the spec: `0` (none), `500M`, `1G`. */
  | { type: 'quota'; short?: string; default?: string }
  | { type: 'choice'; short?: string; default?: string; values: readonly string[] }
  /** An http:// or https:// URL; `list` takes several, comma-separated → string[]. */
  | { type: 'url'; short?: string; default?: string; list?: boolean }
  /** A Kubernetes object name (DNS label), as the spec's names: namespaces, Services, Leases. */
  | { type: 'name'; short?: string; default?: string }
  /** An IPv4 or IPv6 address literal. */
  | { type: 'ip'; short?: string; default?: string };

export type Options = Record<string, OptionSpec>;

export interface HostPort {
  host: string;
  port: number;
}

type ValueOf<S extends OptionSpec> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'integer' | 'port' }
    ? number
    : S extends { type: 'host-port' }
      ? HostPort
      : S extends { type: 'choice'; values: readonly (infer V)[] }
        ? V
        : S extends { type: 'url'; list: true }
          ? string[]
          : string;

/** The typed values of parsed flags: a flag with a default is always there. */
export type Values<O extends Options> = { readonly [K in keyof O]: O[K] extends { default: unknown } ? ValueOf<O[K]> : ValueOf<O[K]> | undefined };

const PORT_RANGE = 'from 1 to 65535';
const NAME = new RegExp(NAME_PATTERN);
const QUOTA = new RegExp(QUOTA_PATTERN);
const WHOLE = /^(0|[1-9][0-9]*)$/;

function isUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function whole(text: string, min: number, max: number): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

function hostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([^:]+)$/.exec(text);
  if (!m) return undefined;
  const host = m[1] ?? m[2] ?? '';
  const port = whole(m[3] ?? '', 0, 65535);
  if (port === undefined || (m[1] !== undefined && isIP(host) !== 6)) return undefined;
  if (m[2] !== undefined && isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host)) return undefined;
  return { host, port };
}

/** What a flag of this kind expects, as the end of "expected …". */
function expectation(spec: OptionSpec): string {
  switch (spec.type) {
    case 'boolean':
    case 'string':
      return 'a value';
    case 'integer': {
      const what = spec.unit ? `a whole number of ${spec.unit}` : 'a whole number';
      return spec.max === undefined ? `${what} ≥ ${spec.min}` : `${what} from ${spec.min} to ${spec.max}`;
    }
    case 'port':
      return `a port number ${PORT_RANGE}`;
    case 'host-port':
      return 'HOST:PORT with a port from 0 (any free port) to 65535 (e.g. 0.0.0.0:8081, [::]:8081)';
    case 'quota':
      return 'a quota: 0 (none) or a whole number with an optional K, M, G or T (e.g. 1G)';
    case 'choice':
      return `one of ${spec.values.join(', ')}`;
    case 'url':
      return spec.list ? 'comma-separated http:// or https:// URLs' : 'an http:// or https:// URL';
    case 'name':
      return "a name of lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit";
    case 'ip':
      return 'an IPv4 or IPv6 address';
  }
}

/** The typed value of `raw`, or undefined when it is malformed. */
function convert(spec: OptionSpec, raw: string): unknown {
  switch (spec.type) {
    case 'boolean':
    case 'string':
      return raw;
    case 'integer':
      return whole(raw, spec.min, spec.max ?? Number.MAX_SAFE_INTEGER);
    case 'port':
      return whole(raw, 1, 65535);
    case 'host-port':
      return hostPort(raw);
    case 'quota':
      return QUOTA.test(raw) ? raw : undefined;
    case 'choice':
      return spec.values.includes(raw) ? raw : undefined;
    case 'url': {
      if (!spec.list) return isUrl(raw) ? raw : undefined;
      const urls = raw.split(',').map((u) => u.trim());
      return urls.every(isUrl) ? urls : undefined;
    }
    case 'name':
      return NAME.test(raw) ? raw : undefined;
    case 'ip':
      return isIP(raw) !== 0 ? raw : undefined;
  }
}

export function usageError(usage: string, why: string): MailfleetError {
  return new MailfleetError('USAGE', `${why}\nusage: ${usage}`);
}

/**
 * What a command of subcommands (`dkim`, `dns`, `exporter`) throws for a first argument that names none of them:
 * its usage as asked for (HELP, exit 0) for `--help` or `-h`, else USAGE.
 */
export function notASubcommand(sub: string | undefined, usage: string): MailfleetError {
  if (sub === '--help' || sub === '-h') return new MailfleetError('HELP', `usage: ${usage}`);
  return usageError(usage, sub === undefined ? 'missing subcommand' : `unknown subcommand ${sub}`);
}

/** node:util parseArgs's message in the words of the rest of the CLI (its own ends on an unbalanced quote). */
function parseArgsMessage(err: Error & { code?: string }): string {
  const option = /'([^']+)'/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined) {
    // `scale mailbox -1`: a negative number reads as a short option.
    if (/^-[0-9]/.test(option)) return `${option}: no argument here takes a negative number`;
    return `unknown option ${option}`;
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined) {
    // `-s, --state-dir <value>` for a flag with a short form.
    const flag = /--[A-Za-z0-9-]+/.exec(option)?.[0] ?? option.split(' ')[0] ?? option;
    return /argument missing/.test(err.message) ? `${flag} needs a value` : `${flag} takes no value`;
  }
  return err.message;
}

/**
 * The typed value of one argument (a flag's or a positional's, named by `label`: `--resync`, `N`).
 * Throws USAGE: `--resync: expected a whole number of seconds from 1 to 3600, got "abc"`.
 */
export function check<S extends OptionSpec>(label: string, spec: S, raw: string, usage: string): ValueOf<S> {
  const value = convert(spec, raw);
  if (value === undefined) throw usageError(usage, `${label}: expected ${expectation(spec)}, got ${JSON.stringify(raw)}`);
  return value as ValueOf<S>;
}

/**
 * node:util parseArgs over the declared flags, every value checked and typed; frozen. At most `maxPositionals`
 * arguments that are not flags (none unless given): one more is refused, not ignored. Usage errors are USAGE
 * (exit 2).
 */
export function parse<const O extends Options>(argv: string[], options: O, usage: string, maxPositionals = 0): { values: Values<O>; positionals: string[] } {
  // `--help` (or `-h`) anywhere before a `--`: the command's usage on stdout, exit 0 (main.ts), nothing else done.
  const end = argv.indexOf('--');
  if (!('help' in options) && (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h')) throw new MailfleetError('HELP', `usage: ${usage}`);
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries(options)) {
    config[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string', ...(spec.short === undefined ? {} : { short: spec.short }) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: config, allowPositionals: true, strict: true });
  } catch (err) {
    throw new MailfleetError('USAGE', `${parseArgsMessage(err as Error)}\nusage: ${usage}`, { cause: err });
  }
  const extra = parsed.positionals[maxPositionals];
  if (extra !== undefined) throw usageError(usage, `unexpected argument ${extra}`);
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(options)) {
    const raw = parsed.values[name] ?? spec.default;
    if (raw === undefined) continue;
    values[name] = typeof raw === 'boolean' ? raw : check(`--${name}`, spec, String(raw), usage);
  }
  return { values: Object.freeze(values) as Values<O>, positionals: parsed.positionals };
}
