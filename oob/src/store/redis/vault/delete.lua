-- The vault's delete (RedisVault, vault/mod.rs).
-- KEYS: entry, index. ARGV: now, member, slack (ms), latest key expiry Redis takes (ms).
-- Returns 1 when a live entry was deleted; the index then keeps its rule (index.lua,
-- appended).
local cur = redis.call('HMGET', KEYS[1], 'v', 'e')
local reply = 1
if not cur[1] then reply = 0 end
-- (An expiry that is not a number, an entry edited by hand, counts as none: live.)
local expiry = cur[2] and tonumber(cur[2])
if expiry and expiry <= tonumber(ARGV[1]) then reply = 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
local now, slack, latest = ARGV[1], ARGV[3], ARGV[4]
-- (index.lua follows: the index's rule.)
