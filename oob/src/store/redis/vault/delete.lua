-- The vault's delete (RedisVault, vault/mod.rs).
-- KEYS: entry, index. ARGV: now, member, slack (ms), latest key expiry Redis takes (ms).
-- Returns 1 when a live entry was deleted. The index is kept as the write keeps it: expired
-- entries out, its key expiry from its longest-lived entry (Redis deletes an index left
-- empty by itself).
local cur = redis.call('HMGET', KEYS[1], 'v', 'e')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
  local at = tonumber(last[2]) + tonumber(ARGV[3])
  if at <= tonumber(ARGV[4]) then
    redis.call('PEXPIREAT', KEYS[2], string.format('%.0f', at))
  else
    redis.call('PERSIST', KEYS[2])
  end
end
if not cur[1] then return 0 end
if cur[2] and cur[2] ~= '' and tonumber(cur[2]) <= tonumber(ARGV[1]) then return 0 end
return 1
