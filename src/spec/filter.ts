/**
 * `spec.filter`: mail filtering by the `as` role (rspamd, a milter of every `mta` and `msa`) and the `av` role
 * (clamd, which rspamd asks). Its schema, defaults and the checks past ajv.
 *
 * Defaults: `as` runs (spec.roles.as, 2 replicas), since rspamd needs nothing from the Internet to start and to
 * score mail (its rules ship with it; DNS checks use whatever resolver it is given); `av` does not (spec.roles.av,
 * 0 replicas), since clamd refuses to start without a signature database and only a network source (freshclam)
 * or its operator can provide one: a spec that runs it names where the signatures come from.
 */
import type { PlatformSpec } from './types.ts';

/** A resolver, `address` or `address:port`: an IPv4 address or a bracketed IPv6 one (a resolver cannot be looked up by name). */
const NAMESERVER_PATTERN = '^(\\[[0-9a-fA-F:]+\\]|[0-9]{1,3}(\\.[0-9]{1,3}){3})(:[0-9]{1,5})?$';

/** A secret that lands in rspamd's UCL between single quotes: one token, no quote, no backslash. */
const UCL_SECRET = { type: 'string', minLength: 16, maxLength: 512, pattern: '^[^\\s"\'\\\\]+$' };

const score = (value: number) => ({ type: 'number', minimum: 0, maximum: 10_000, default: value });

/** `spec.filter`; see FilterSpec. */
export const FILTER_SPEC_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    failure: { enum: ['open', 'closed'], default: 'open' },
    actions: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { reject: score(15), addHeader: score(6), greylist: score(4) },
    },
    greylisting: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        delaySeconds: { type: 'integer', minimum: 1, maximum: 86_400, default: 300 },
        expireSeconds: { type: 'integer', minimum: 60, maximum: 30 * 86_400, default: 86_400 },
      },
    },
    enforceDmarc: { type: 'boolean', default: true },
    nameservers: { type: 'array', maxItems: 8, uniqueItems: true, default: [], items: { type: 'string', pattern: NAMESERVER_PATTERN } },
    publicLists: { type: 'boolean', default: true },
    testPatterns: { type: 'boolean', default: false },
    processes: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
    // No default: generated like the other platform secrets (see secrets.ts).
    controllerPassword: UCL_SECRET,
    antivirus: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        signatures: {
          type: 'object',
          additionalProperties: false,
          properties: {
            mirror: { type: 'string', pattern: '^https?://[^\\s/]+(/\\S*)?$', maxLength: 2048 },
            directory: { type: 'string', pattern: '^/\\S*$', maxLength: 1024 },
            checksPerDay: { type: 'integer', minimum: 1, maximum: 50, default: 12 },
          },
        },
      },
    },
  },
} as const;

/** Whether rspamd runs: `as` replicas, and a Postfix role that uses it as a milter. */
export function filterRuns(spec: Pick<PlatformSpec, 'roles'>): boolean {
  return spec.roles.as.replicas > 0 && (spec.roles.mta.replicas > 0 || spec.roles.msa.replicas > 0);
}

/** Whether clamd runs: `av` replicas while rspamd, its only client, runs. */
export function antivirusRuns(spec: Pick<PlatformSpec, 'roles'>): boolean {
  return filterRuns(spec) && spec.roles.av.replicas > 0;
}

/** Problems of `spec.filter` and the `as`/`av` roles past the schema. */
export function filterProblems(spec: PlatformSpec): string[] {
  const problems: string[] = [];
  const { actions, antivirus } = spec.filter;
  if (actions.addHeader >= actions.reject) {
    problems.push(`spec.filter.actions.addHeader: expected below reject (${actions.reject}); mail that scores it would be refused before it could be tagged`);
  }
  if (actions.greylist >= actions.addHeader) {
    problems.push(`spec.filter.actions.greylist: expected below addHeader (${actions.addHeader})`);
  }
  if (filterRuns(spec) && spec.roles.kvs.replicas === 0) {
    problems.push('spec.roles.kvs.replicas: expected 1 while the filter runs (its Bayes statistics, greylisting and history live in Redis); or set spec.roles.as.replicas: 0');
  }
  if (spec.roles.av.replicas > 0 && spec.roles.as.replicas === 0) {
    problems.push('spec.roles.av.replicas: expected 0 while spec.roles.as.replicas is 0 (only rspamd asks clamd)');
  }
  const signatures = antivirus.signatures;
  if (spec.roles.av.replicas > 0) {
    if (signatures === undefined || (signatures.mirror === undefined) === (signatures.directory === undefined)) {
      problems.push(
        'spec.filter.antivirus.signatures: name where clamd\'s signatures come from, either mirror (a ClamAV mirror one updater per platform downloads from) '
        + 'or directory (one you keep filled); clamd never starts on an empty database',
      );
    }
  }
  return problems;
}
