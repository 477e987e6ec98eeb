-- forget.lua: removes a finished record at once (zero retention), after the caller woke
-- its local waiters; publishes the record to the other replicas' waiters first.
--
-- KEYS[1] record hash (P p:id)       KEYS[2] store index (P all)
-- ARGV[1] store key prefix (P)        ARGV[2] id
-- ARGV[3] event channel (P events)    ARGV[4] event message (the id and the record)
-- Touches P n:namespace and P j:key besides the declared keys (named by the record's
-- fields, so not in KEYS; same hash tag). Returns 1, or 0 when the record was already gone (cleared
-- or purged) or is not finished (no finish marker `f`).
local f = redis.call('HMGET', KEYS[1], 'f', 'n', 'k')
if not f[1] or not f[2] then return 0 end
redis.call('PUBLISH', ARGV[3], ARGV[4])
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[1] .. 'n:' .. f[2], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
if f[3] then redis.call('ZREM', ARGV[1] .. 'j:' .. f[3], ARGV[2]) end
return 1
