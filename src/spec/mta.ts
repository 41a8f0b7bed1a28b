/**
 * `spec.mta`: settings of the inbound MX beyond its replicas, so far its postscreen (the screen in front of every
 * smtpd on port 25 and on the balancer's port). Its schema, defaults and the checks past ajv.
 */
import type { MtaSpec } from './mta-spec.ts';
import { networkProblem } from './networks.ts';
import { CIDR_PATTERN, DOMAIN_PATTERN } from './patterns.ts';

/**
 * What a DNS blocklist answers for a listed client, in postscreen's form: an address whose octets may be a range
 * `[2..11]` or a list `[2;4;9]`, e.g. `127.0.0.[2..11]`.
 */
const DNSBL_REPLY_PATTERN = '^([0-9]{1,3}|\\[[0-9]{1,3}(\\.\\.[0-9]{1,3}|(;[0-9]{1,3})*)\\])(\\.([0-9]{1,3}|\\[[0-9]{1,3}(\\.\\.[0-9]{1,3}|(;[0-9]{1,3})*)\\])){3}$';

const NETWORKS = { type: 'array', default: [], maxItems: 10_000, uniqueItems: true, items: { type: 'string', pattern: CIDR_PATTERN } };

/** `spec.mta`; see MtaSpec. */
export const MTA_SPEC_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    postscreen: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        greetWaitSeconds: { type: 'integer', minimum: 1, maximum: 60, default: 6 },
        dnsbl: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            sites: {
              type: 'array',
              default: [],
              maxItems: 50,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['domain'],
                properties: {
                  domain: { type: 'string', pattern: DOMAIN_PATTERN },
                  reply: { type: 'string', pattern: DNSBL_REPLY_PATTERN },
                  weight: { type: 'integer', minimum: -100, maximum: 100, default: 1 },
                },
              },
            },
            threshold: { type: 'integer', minimum: 1, maximum: 1000, default: 1 },
          },
        },
        allowNetworks: NETWORKS,
        denyNetworks: NETWORKS,
        connectionCountLimit: { type: 'integer', minimum: 0, maximum: 10_000, default: 50 },
        preQueueLimit: { type: 'integer', minimum: 1, maximum: 100_000, default: 200 },
      },
    },
  },
} as const;

/** Problems of `spec.mta` past the schema: the networks (their form only is the schema's), the blocklist sites. */
export function mtaProblems(mta: MtaSpec): string[] {
  const { postscreen } = mta;
  const problems: string[] = [];
  for (const field of ['allowNetworks', 'denyNetworks'] as const) {
    postscreen[field].forEach((value, i) => {
      const problem = networkProblem(value);
      if (problem !== undefined) problems.push(`spec.mta.postscreen.${field}[${i}]: ${JSON.stringify(value)} ${problem}`);
    });
  }
  const seen = new Map<string, number>();
  postscreen.dnsbl.sites.forEach((site, i) => {
    const key = `${site.domain}=${site.reply ?? ''}`;
    const other = seen.get(key);
    if (other !== undefined) problems.push(`spec.mta.postscreen.dnsbl.sites[${i}]: the same list and reply as sites[${other}]; give it one entry with the summed weight`);
    else seen.set(key, i);
    if (site.reply !== undefined && (site.reply.match(/[0-9]+/g) ?? []).some((n) => Number(n) > 255)) {
      problems.push(`spec.mta.postscreen.dnsbl.sites[${i}].reply: ${JSON.stringify(site.reply)} expected octets from 0 to 255`);
    }
  });
  const { sites, threshold } = postscreen.dnsbl;
  const reachable = sites.reduce((sum, s) => sum + Math.max(s.weight, 0), 0);
  if (sites.length > 0 && reachable < threshold) {
    problems.push(`spec.mta.postscreen.dnsbl.threshold: ${threshold} is more than the positive weights of the sites add up to (${reachable}); no client would ever be refused`);
  }
  return problems;
}
