-- The vault's write (RedisVault, vault/mod.rs), one entry with its compare-and-swap.
-- KEYS: entry, index. ARGV: now, mode (`any`, `absent`, `version`), expected version,
-- new version, value, expiry (ms or empty), member (the key), key expiry (ms or empty),
-- slack (ms), latest key expiry Redis takes (ms).
-- A write already expired at `now` removes the entry instead (its index entry too); the
-- index then keeps its rule (index.lua, appended). Returns {1, new version} or
-- {0, current version or ''} (nothing written).
local cur = redis.call('HMGET', KEYS[1], 'v', 'e')
local live = cur[1]
-- (An expiry that is not a number, an entry edited by hand, counts as none: live.)
local expiry = cur[2] and tonumber(cur[2])
if live and expiry and expiry <= tonumber(ARGV[1]) then
  live = false
end
-- The entry at this write's own (random) version: this very write, sent again (a cluster
-- client sends a script again when its reply was lost), so its first run wrote it.
if live and live == ARGV[4] then return {1, ARGV[4]} end
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
local now, slack, latest = ARGV[1], ARGV[9], ARGV[10]
local reply = {1, ARGV[4]}
-- (index.lua follows: the index's rule.)
