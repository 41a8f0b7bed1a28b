/**
 * The Redis script of the auth rules: one script, three modes, each atomic across every policy server sharing the
 * Redis. Counts are GCRA buckets as in limiter-script.ts (a hash per bucket, a theoretical arrival time per window,
 * in microseconds of Redis's own clock), but a check and a count are separate requests here: Dovecot asks before a
 * login (`allow`) and reports its outcome after (`report`).
 *
 * - `check`: which buckets are full, so that one more failure would not fit in some window. Writes nothing.
 *   A bucket with a known-networks set holding the client's member is never full.
 * - `fail`: counts one failure in every bucket. A bucket with a distinct-passwords set counts only when the
 *   password's member was not in the set (SADD added it). A count never moves a window more than its span ahead,
 *   so failures that raced past a check do not lengthen the refusal.
 * - `success`: adds the client's member to each known-networks set (at most MAX_KNOWN members a set).
 *
 * KEYS, three per bucket: the counter hash, the distinct-passwords set, the known-networks set.
 * ARGV: mode, then per bucket: window count n, n × (field, period µs, span µs), password member ('' none),
 * known member ('' none), sets' time to live in ms.
 * Returns the 0-based indexes of the buckets full (`check`) or counted (`fail`); nothing (`success`).
 */
import { createHash } from 'node:crypto';

/** Members a known-networks set holds at most: an account's usual places, not every address a roaming phone had. */
export const MAX_KNOWN = 32;

export const AUTH_SCRIPT = `
local mode = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pos = 2
local out = {}
-- Window j of the bucket whose windows start at ARGV[first]: its field, period, span, and its arrival time, not before now.
local function window(key, first, j)
  local at = first + j * 3
  local tat = tonumber(redis.call('HGET', key, ARGV[at])) or now
  if tat < now then tat = now end
  return ARGV[at], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), tat
end
for i = 1, #KEYS / 3 do
  local key = KEYS[3 * i - 2]
  local pwset = KEYS[3 * i - 1]
  local known = KEYS[3 * i]
  local n = tonumber(ARGV[pos])
  local first = pos + 1
  pos = pos + 1 + n * 3
  local pw = ARGV[pos]
  local member = ARGV[pos + 1]
  local ttl = tonumber(ARGV[pos + 2])
  pos = pos + 3
  if mode == 'success' then
    if member ~= '' and (redis.call('SCARD', known) < ${MAX_KNOWN} or redis.call('SISMEMBER', known, member) == 1) then
      redis.call('SADD', known, member)
      redis.call('PEXPIRE', known, ttl)
    end
  elseif mode == 'check' then
    if member == '' or redis.call('SISMEMBER', known, member) == 0 then
      local full = false
      for j = 0, n - 1 do
        local _, period, span, tat = window(key, first, j)
        if tat - now + period > span + period / 2 then full = true end
      end
      if full then out[#out + 1] = i - 1 end
    end
  else
    local counts = true
    if pw ~= '' then
      counts = redis.call('SADD', pwset, pw) == 1
      redis.call('PEXPIRE', pwset, ttl)
    end
    if counts then
      local horizon = 0
      for j = 0, n - 1 do
        local field, period, span, tat = window(key, first, j)
        local nextTat = tat + period
        if nextTat > now + span then nextTat = now + span end
        redis.call('HSET', key, field, nextTat)
        if nextTat - now > horizon then horizon = nextTat - now end
      end
      redis.call('PEXPIRE', key, math.ceil(horizon / 1000) + 1000)
      out[#out + 1] = i - 1
    end
  end
end
return out
`;

export const AUTH_SCRIPT_SHA1 = createHash('sha1').update(AUTH_SCRIPT).digest('hex');

export type AuthScriptMode = 'check' | 'fail' | 'success';
