-- The vault's delete (RedisVault, vault/mod.rs).
-- KEYS: entry, index. ARGV: now, member. Returns 1 when a live entry was deleted.
-- (Redis deletes an index left empty by itself.)
local cur = redis.call('HMGET', KEYS[1], 'v', 'e')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if not cur[1] then return 0 end
if cur[2] and cur[2] ~= '' and tonumber(cur[2]) <= tonumber(ARGV[1]) then return 0 end
return 1
