-- purge.lua: forgets up to ARGV[2] records whose retention window ended.
--
-- KEYS[1] store index (P all), scored by deadline while open and finish time after
-- ARGV[1] latest score to forget (now - retention, ms)   ARGV[2] batch size
-- ARGV[3] store key prefix (P)        ARGV[4] event channel (P events)
-- Touches each forgotten record's hash, P n:namespace and P j:key (named by the index
-- entry and the record's fields, so not in KEYS; same hash tag). Reads only what it
-- forgets (ZRANGEBYSCORE ... LIMIT). Records carry no TTL, so every index entry still
-- has its record here. Returns {examined, forgotten ids...}.
local max = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {#ids}
for _, m in ipairs(ids) do
  local k = ARGV[3] .. 'p:' .. m
  local f = redis.call('HMGET', k, 'f', 'e', 'n', 'k')
  if not f[3] then
    redis.call('ZREM', KEYS[1], m)
  else
    -- A finish marker counts from when it finished, unless it came too late (expired).
    local base = tonumber(f[2])
    if f[1] then
      local at = tonumber(string.sub(f[1], 2))
      if at < base then base = at end
    end
    if base <= max then
      redis.call('DEL', k)
      redis.call('ZREM', KEYS[1], m)
      redis.call('ZREM', ARGV[3] .. 'n:' .. f[3], m)
      redis.call('ZREM', ARGV[3] .. 'j:' .. f[4], m)
      redis.call('PUBLISH', ARGV[4], m)
      out[#out + 1] = m
    else
      redis.call('ZADD', KEYS[1], base, m)
    end
  end
end
return out
