/** How an audit is shown: text for people, a plain object for `--json`. Pure. */
import type { ObservedQuery } from './audit-server.ts';
import type { AuditReport, ProfileAudit } from './audit.ts';
import { optionWords } from './resolv-conf.ts';
import type { PredictedQuery } from './search.ts';

function describeConf(audit: ProfileAudit): string {
  const { conf } = audit.profile;
  const search = conf.search.length === 0 ? 'no search list' : `search ${conf.search.join(' ')}`;
  return `${optionWords(conf).join(' ')}; ${search}`;
}

const NUMBER_WIDTH = 4;

function queryLines(queries: readonly (PredictedQuery | ObservedQuery)[]): string[] {
  return queries.map((q, i) => {
    const transport = 'transport' in q ? `${q.transport}  ` : '';
    return `${String(i + 1).padStart(NUMBER_WIDTH)}  ${transport}${q.type.padEnd(4)}  ${q.name}`;
  });
}

function plural(count: number): string {
  return `${count} ${count === 1 ? 'query' : 'queries'}`;
}

function outcome(audit: ProfileAudit): string {
  const { resolvedAs, queries } = audit.prediction;
  if (queries.length === 0) return 'no query is sent (attempts:0)';
  return resolvedAs === undefined ? 'the name does not resolve' : `resolved as ${resolvedAs}`;
}

function profileText(audit: ProfileAudit): string[] {
  const lines = [`${audit.profile.title}: ${describeConf(audit)}`];
  const observation = audit.observation;
  if (observation === undefined) {
    lines.push(...queryLines(audit.prediction.queries), `  total: ${plural(audit.prediction.queries.length)}, ${outcome(audit)}`);
    return lines;
  }
  lines.push(...queryLines(observation.queries));
  const verdict = observation.matches ? 'as predicted' : `MISMATCH: ${plural(audit.prediction.queries.length)} predicted`;
  lines.push(`  total: ${plural(observation.queries.length)} observed, ${verdict}; getent ${observation.exitCode === 0 ? 'resolved the name' : 'found no address'}`);
  if (!observation.matches) lines.push('  predicted:', ...queryLines(audit.prediction.queries).map((line) => `  ${line}`));
  return lines;
}

export function formatAuditReport(report: AuditReport): string {
  const how = report.observed
    ? `observed on the real glibc resolver (getent ahosts in a private mount namespace; AI_ADDRCONFIG asks for ${report.types.join(' and ')})`
    : `predicted from glibc's search rules (${report.types.join(' and ')} per name tried)`;
  const lines = [
    `DNS queries for getaddrinfo("${report.name}", AF_UNSPEC), ${how};`,
    `every search-list name answers NXDOMAIN, ${report.name.endsWith('.') ? report.name : `${report.name}.`} itself resolves.`,
  ];
  for (const audit of report.profiles) lines.push('', ...profileText(audit));
  const totals = report.profiles.map((audit) => `${audit.profile.title} ${(audit.observation ?? audit.prediction).queries.length}`);
  lines.push('', `queries per lookup, ${report.observed ? 'observed' : 'predicted'}: ${totals.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** The report as plain JSON: fixed key order, no undefined values. */
export function auditReportJson(report: AuditReport): object {
  return {
    name: report.name,
    observed: report.observed,
    types: report.types,
    profiles: report.profiles.map((audit) => ({
      id: audit.profile.id,
      title: audit.profile.title,
      ndots: audit.profile.conf.ndots,
      search: audit.profile.conf.search,
      options: optionWords(audit.profile.conf),
      predicted: {
        total: audit.prediction.queries.length,
        queries: audit.prediction.queries.map((q) => ({ name: q.name, type: q.type })),
        resolvedAs: audit.prediction.resolvedAs ?? null,
      },
      ...(audit.observation === undefined
        ? {}
        : {
            observed: {
              total: audit.observation.queries.length,
              queries: audit.observation.queries.map((q) => ({ name: q.name, type: q.type, transport: q.transport })),
              matchesPrediction: audit.observation.matches,
              getentExitCode: audit.observation.exitCode,
            },
          }),
    })),
  };
}
