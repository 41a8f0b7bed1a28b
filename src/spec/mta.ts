/**
 * `spec.mta`: settings of the inbound MX beyond its replicas, so far its postscreen (the screen in front of every
 * smtpd on port 25 and on the balancer's port). Its schema, defaults and the checks past ajv.
 */
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

/** The inbound MX (`mta`) beyond its replicas (`spec.roles.mta`). */
export interface MtaSpec {
  /**
   * postscreen in front of the smtpd processes on port 25 and on the balancer's port: one process holds every new
   * connection, sends the first line of a multi-line greeting and waits; a client that talks before its turn
   * (a bot: "pregreet"), or whose blocklist score reaches the threshold, is refused at RCPT with 550 and never
   * takes an smtpd process; one that waits its turn is handed to smtpd and remembered (`PASS NEW`; for a day after
   * each pass, `PASS OLD`, handed over at once). The cache lives in the instance's data directory (its volume in
   * Kubernetes). No test after the greeting (pipelining, non-SMTP commands, bare newlines) runs: those make
   * every new sender "try again later" once, which delays first-time mail by minutes. The health-check smtpd
   * (`ports.smtpHealth`) never goes through it.
   */
  postscreen: {
    /** Default true; false hands port 25 straight to smtpd. */
    enabled: boolean;
    /**
     * Seconds a new client waits for the greeting (`postscreen_greet_wait`), during which it must stay silent and
     * the blocklists answer. Once per client address per day. 1 to 60; default 6 (Postfix's).
     */
    greetWaitSeconds: number;
    /**
     * DNS blocklists (`postscreen_dnsbl_sites`): each listing adds the site's `weight` (default 1; negative for an
     * allow list) to the client's score when its answer matches `reply` (default any, e.g. `127.0.0.[2..11]`), and a
     * score of `threshold` (default 1) or more is refused. Default none: an ISP adds the lists it subscribes to (and
     * asks them through its own resolver; public lists refuse queries from large public resolvers). A platform
     * without a way to the Internet (as in the tests here) names none.
     */
    dnsbl: { sites: { domain: string; reply?: string; weight: number }[]; threshold: number };
    /**
     * Client networks postscreen lets through untested (`postscreen_access_list` permit; logged `ALLOWLISTED`),
     * besides `spec.relayNetworks`: e.g. partners' MTAs, or the platform's own prober where its network is known.
     * Default none.
     */
    allowNetworks: string[];
    /** Client networks refused at once with 521 (`postscreen_access_list` reject; logged `DENYLISTED`). Default none. */
    denyNetworks: string[];
    /** Connections one client address may hold in postscreen and smtpd together (0: no limit). Default 50, smtpd's. */
    connectionCountLimit: number;
    /**
     * Connections waiting in postscreen for their tests or for an smtpd process, at most; past it a newcomer is
     * told 421 (all server ports busy). Default 200, the number of smtpd processes.
     */
    preQueueLimit: number;
  };
}
