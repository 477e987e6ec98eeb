-- finish.lua: completes or cancels an open record this store created lately, whose
-- namespace and deadline the caller knows (see `finish.rs`). Writes nothing for an id that
-- names no record, one already finished, or one past its deadline (the caller then sends
-- no marker).
--
-- KEYS[1] record hash (P p:id)       KEYS[2] namespace index (P n:namespace)
-- KEYS[3] store index (P all)
-- ARGV[1] the finish marker (the new state's code and now, ms; '' past the deadline)
-- ARGV[2] now (ms)
-- ARGV[3] id                          ARGV[4] event channel (P events), or '' for no event
-- ARGV[5] this call's token (random), kept in `w` beside the marker: a cluster client
--         sends a script again when its reply was lost, and the resent call must find its
--         own win, not report it as another's (see `transitions.rs`, `call_token`)
-- The record exists exactly when its `s` field does; its index entries exist with it.
-- A win re-scores them by the finish time, this call's `now` (which may be after another
-- replica's `now`: a create at a bound discounts such entries; see `create.lua`, which
-- also says what the scores mean).
-- Returns 1 (this call finished it, or past the deadline found it open)
--       | 0 (no such record) | the finish marker already there.
local f = redis.call('HMGET', KEYS[1], 'f', 's', 'w')
if not f[2] then return 0 end
if f[1] then
  if f[3] == ARGV[5] then return 1 end
  return f[1]
end
if ARGV[1] == '' then return 1 end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 'w', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[3]) end
return 1
