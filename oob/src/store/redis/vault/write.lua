-- The vault's write (RedisVault, vault/mod.rs), one entry with its compare-and-swap.
-- KEYS: entry, index. ARGV: now, mode (`any`, `absent`, `version`), expected version,
-- new version, value, expiry (ms or empty), member (the key), key expiry (ms or empty),
-- slack (ms), latest key expiry Redis takes (ms).
-- Drops the index entries of expired keys, and gives the index the key expiry of its
-- longest-lived entry (none while one has no expiry), so the index of a namespace nobody
-- writes again ends by itself. A write already expired at `now` removes the entry instead
-- (its index entry too). Returns {1, new version} or {0, current version or ''} (nothing
-- written).
local cur = redis.call('HMGET', KEYS[1], 'v', 'e')
local live = cur[1]
if live and cur[2] and cur[2] ~= '' and tonumber(cur[2]) <= tonumber(ARGV[1]) then
  live = false
end
if (ARGV[2] == 'absent' and live) or (ARGV[2] == 'version' and live ~= ARGV[3]) then
  return {0, live or ''}
end
if ARGV[6] ~= '' and tonumber(ARGV[6]) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[7])
else
  redis.call('HSET', KEYS[1], 'val', ARGV[5], 'w', ARGV[1], 'e', ARGV[6], 'v', ARGV[4])
  if ARGV[8] ~= '' then
    redis.call('PEXPIREAT', KEYS[1], ARGV[8])
  else
    redis.call('PERSIST', KEYS[1])
  end
  local score = '+inf'
  if ARGV[6] ~= '' then score = ARGV[6] end
  redis.call('ZADD', KEYS[2], score, ARGV[7])
end
-- The index: expired entries out, then its key expiry from its longest-lived entry (an
-- index left empty Redis has deleted).
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
  local at = tonumber(last[2]) + tonumber(ARGV[9])
  if at <= tonumber(ARGV[10]) then
    redis.call('PEXPIREAT', KEYS[2], string.format('%.0f', at))
  else
    redis.call('PERSIST', KEYS[2])
  end
end
return {1, ARGV[4]}
