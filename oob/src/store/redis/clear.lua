-- clear.lua: removes up to ARGV[4] records of one namespace, open or finished.
--
-- KEYS[1] namespace index (P n:namespace)   KEYS[2] store index (P all)
-- ARGV[1] store key prefix (P)        ARGV[2] event channel (P events)
-- ARGV[3] the namespace               ARGV[4] batch size
-- Touches each removed record's hash and P j:key. Returns {examined, removed ids...}.
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[4]) - 1)
local out = {#ids}
for _, m in ipairs(ids) do
  local k = ARGV[1] .. 'p:' .. m
  local f = redis.call('HMGET', k, 'n', 'k')
  redis.call('ZREM', KEYS[1], m)
  if f[1] == ARGV[3] then
    redis.call('DEL', k)
    redis.call('ZREM', KEYS[2], m)
    -- A hash without its dedup key (edited by hand) leaves its dedup entry to the lookups
    -- and purges that meet it (they drop ids whose record is gone).
    if f[2] then redis.call('ZREM', ARGV[1] .. 'j:' .. f[2], m) end
    redis.call('PUBLISH', ARGV[2], m)
    out[#out + 1] = m
  end
end
return out
