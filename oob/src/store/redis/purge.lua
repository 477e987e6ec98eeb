-- purge.lua: forgets up to ARGV[2] records whose retention window ended.
--
-- KEYS[1] store index (P all), scored by deadline while open and finish time after
-- ARGV[1] latest score to forget (now - retention, ms)   ARGV[2] batch size
-- ARGV[3] store key prefix (P)        ARGV[4] event channel (P events)
-- ARGV[5] grace (ms) after a finish before it is forgotten (WAKE_GRACE with zero
--         retention, else 0; an expiry gets none)
-- ARGV[6] how many entries scored up to ARGV[1] earlier calls kept (in their grace): skipped
-- ARGV[7] (optional) how far behind Redis's own clock to purge (ms): then ARGV[1] is
--         ignored and the latest score is TIME - ARGV[7] (the store's own sweep, so that
--         its host's clock does not matter)
-- Touches each forgotten record's hash, P n:namespace and P j:key (named by the index
-- entry and the record's fields, so not in KEYS; same hash tag). Reads only what it
-- forgets or keeps (ZRANGEBYSCORE ... LIMIT; the kept ones skipped by offset). Records
-- carry no TTL, so every index entry still has its record here. Returns {examined, kept (in their grace), forgotten ids...}.
local max = tonumber(ARGV[1])
local grace = tonumber(ARGV[5])
if ARGV[7] then
  local t = redis.call('TIME')
  max = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[7])
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', max, 'LIMIT', tonumber(ARGV[6]),
  tonumber(ARGV[2]))
local out = {#ids, 0}
for _, m in ipairs(ids) do
  local k = ARGV[3] .. 'p:' .. m
  local f = redis.call('HMGET', k, 'f', 'e', 'n', 'k')
  if not f[3] then
    redis.call('ZREM', KEYS[1], m)
  else
    -- A finish marker counts from when it finished, unless it came too late (expired).
    local base = tonumber(f[2])
    local due = base
    if f[1] then
      local at = tonumber(string.sub(f[1], 2))
      if at < base then base, due = at, at + grace end
    end
    if due <= max then
      redis.call('DEL', k)
      redis.call('ZREM', KEYS[1], m)
      redis.call('ZREM', ARGV[3] .. 'n:' .. f[3], m)
      redis.call('ZREM', ARGV[3] .. 'j:' .. f[4], m)
      redis.call('PUBLISH', ARGV[4], m)
      out[#out + 1] = m
    elseif base <= max then
      -- In its grace: stays scored by its finish time (so not counted as open).
      out[2] = out[2] + 1
    else
      redis.call('ZADD', KEYS[1], base, m)
    end
  end
end
return out
