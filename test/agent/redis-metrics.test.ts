import assert from 'node:assert/strict';
import { test } from 'node:test';
import { infoToPrometheus, parseInfo, readInfoReply } from '../../src/agent/redis-metrics.ts';

const INFO = '# Server\r\nuptime_in_seconds:42\r\n\r\n# Replication\r\nrole:slave\r\nmaster_link_status:down\r\n# Persistence\r\naof_enabled:1\r\naof_last_write_status:err\r\n# Keyspace\r\ndb0:keys=5,expires=2,avg_ttl=100\r\ndb3:keys=1,expires=0,avg_ttl=0\r\nused_memory:not-a-number\r\n';

test('GIVEN AUTH\'s +OK and INFO\'s bulk string arriving in pieces WHEN read THEN only the complete answer is taken; an error reply is named without more', () => {
  const whole = Buffer.from('+OK\r\n$11\r\nrole:master\r\n');
  for (let cut = 0; cut < whole.length - 1; cut++) assert.equal(readInfoReply(whole.subarray(0, cut)), undefined, `cut at ${cut}`);
  assert.deepEqual(readInfoReply(whole), { info: 'role:master' });
  assert.deepEqual(readInfoReply(Buffer.from('-WRONGPASS invalid username-password pair\r\n')), { error: 'AUTH answered -WRONGPASS invalid username-password pair' });
  assert.deepEqual(readInfoReply(Buffer.from('+OK\r\n-NOPERM no\r\n')), { error: 'INFO answered -NOPERM no' });
});

test('GIVEN INFO of a replica with a failing AOF WHEN converted THEN the statuses read 0, databases get their label, a field that is not a number is left out', () => {
  const text = infoToPrometheus(parseInfo(INFO), { role: 'kvs', instance: 'kvs-"1"' });
  assert.match(text, /^redis_up\{role="kvs",instance="kvs-\\"1\\""\} 1$/m);
  assert.match(text, /^redis_uptime_in_seconds\{[^}]*\} 42$/m);
  assert.match(text, /^redis_master_link_up\{[^}]*\} 0$/m);
  assert.match(text, /^redis_aof_last_write_status\{[^}]*\} 0$/m);
  assert.match(text, /^redis_db_keys\{[^}]*,db="db0"\} 5$/m);
  assert.match(text, /^redis_db_keys\{[^}]*,db="db3"\} 1$/m);
  assert.match(text, /^redis_db_keys_expiring\{[^}]*,db="db0"\} 2$/m);
  assert.doesNotMatch(text, /redis_memory_used_bytes/);
  // One HELP and TYPE per name.
  assert.equal(text.match(/^# TYPE redis_db_keys gauge$/gm)?.length, 1);
});

test('GIVEN no INFO WHEN converted THEN redis_up 0 alone', () => {
  assert.equal(infoToPrometheus(undefined, { role: 'kvs' }), '# HELP redis_up Whether the agent could read Redis\'s INFO.\n# TYPE redis_up gauge\nredis_up{role="kvs"} 0\n');
});
