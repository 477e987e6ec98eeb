-- purge.lua: forgets up to ARGV[2] records whose retention window ended.
--
-- KEYS[1] store index (P all), scored by deadline while open and finish time after
-- ARGV[1] latest score to forget (now - retention, ms)   ARGV[2] batch size
-- ARGV[3] store key prefix (P)        ARGV[4] event channel (P events)
-- ARGV[5] (optional) how far behind Redis's own clock to purge (ms): then ARGV[1] is
--         ignored and the latest score is TIME - ARGV[5] (the store's own sweep, so that
--         its host's clock does not matter)
-- Touches each forgotten record's hash, P n:namespace and P j:key (named by the index
-- entry and the record's fields, so not in KEYS; same hash tag). Reads only what it
-- forgets (ZRANGEBYSCORE ... LIMIT). Records carry no TTL, so every index entry still
-- has its record here. Returns {examined, forgotten ids...}.
local max = tonumber(ARGV[1])
if ARGV[5] then
  local t = redis.call('TIME')
  max = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[5])
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', max, 'LIMIT', 0, tonumber(ARGV[2]))
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
