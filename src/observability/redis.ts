/**
 * Redis pack: the `kvs` role as its agent reports it under redis_exporter's names (src/agent/redis-metrics.ts: INFO
 * at every scrape). Scoped to the platform like the mail rules. The replica rule matches nothing until a replica
 * exists; `maxmemory` is set from the kvs's memory limit (src/config/redis.ts).
 */
import type { AlertRule, RuleGroup, Scope } from './rule.ts';

const MIN = 60;
/** Evictions (or refused writes under noeviction) start at maxmemory: warn with room to act. */
const MEMORY_USED_WARNING = 0.9;

function redis(s: Scope): AlertRule[] {
  return [
    {
      alert: 'MailfleetRedisDown',
      expr: `${s.sel('redis_up')} == 0`,
      forSeconds: 2 * MIN,
      severity: 'critical',
      summary: 'Redis {{ $labels.instance }} is down',
      description: 'The kvs agent cannot read Redis\'s INFO (mailfleet_agent_redis_scrape_errors_total says why): what the platform keeps there (policy counters, the filters\' data) is unavailable.',
      runbook: 'The kvs instance\'s log; a full disk stops its append-only file.',
    },
    {
      alert: 'MailfleetRedisMemoryHigh',
      expr: `${s.sel('redis_memory_used_bytes')} / ${s.sel('redis_memory_max_bytes')} > ${MEMORY_USED_WARNING} and ${s.sel('redis_memory_max_bytes')} > 0`,
      forSeconds: 5 * MIN,
      severity: 'warning',
      summary: 'Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its maxmemory',
      description: 'At maxmemory Redis evicts keys or refuses writes.',
      runbook: 'redis-cli info memory and --bigkeys; raise maxmemory and the pod\'s memory limit together.',
    },
    {
      alert: 'MailfleetRedisRejectingConnections',
      expr: `increase(${s.sel('redis_rejected_connections_total')}[5m]) > 0`,
      forSeconds: 5 * MIN,
      severity: 'warning',
      summary: 'Redis {{ $labels.instance }} rejects connections',
      description: 'It is at maxclients: clients that cannot connect fail their lookups.',
      runbook: 'redis-cli client list: which client holds so many connections?',
    },
    {
      alert: 'MailfleetRedisReplicationBroken',
      expr: `${s.sel('redis_master_link_up')} == 0`,
      forSeconds: 5 * MIN,
      severity: 'warning',
      summary: 'Redis replica {{ $labels.instance }} lost its primary',
      description: 'The replica no longer receives writes: a failover to it would lose them.',
      runbook: 'redis-cli info replication on both sides; check the network between them.',
    },
    {
      alert: 'MailfleetRedisPersistenceFailing',
      expr: `${s.sel('redis_aof_last_write_status')} == 0`,
      forSeconds: 5 * MIN,
      severity: 'critical',
      summary: 'Redis {{ $labels.instance }} cannot write its append-only file',
      description: 'Writes are not persisted (and Redis refuses them while the file fails): a restart would lose data.',
      runbook: 'Free or grow the kvs volume; check the instance\'s log for the write error.',
    },
  ];
}

export function redisGroups(s: Scope): RuleGroup[] {
  return [{ name: 'mailfleet-redis', rules: redis(s) }];
}
