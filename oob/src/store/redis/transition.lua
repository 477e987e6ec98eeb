-- transition.lua: completes, cancels or declines an open record (the path for a decline,
-- for a transition that must check the namespace first, and for a record this store did
-- not create lately: see `finish.rs` for the one without Lua). Writes nothing for an id
-- that names no record. Writes the finish marker `f` (state code and time, see `codec.rs`).
--
-- KEYS[1] record hash (P p:id)       KEYS[2] store index (P all)
-- ARGV[1] now (ms)                    ARGV[2] new state: 'c' completed, 'x' cancelled, 'd' declined
-- ARGV[3] '' or '=' .. the namespace the record must be in
-- ARGV[4] '1': publish the id on the event channel now, '0': not (the caller does, later)
-- ARGV[5] event channel (P events)    ARGV[6] id
-- ARGV[7] store key prefix (P)        ARGV[8] expiry of the decline key (PXAT, ms)
-- ARGV[9] this call's token (random), kept in `w` beside the marker: a resent call (a
--         cluster client sends a script again when its reply was lost) finds its own win
--
-- Touches, besides the declared keys: P n:namespace (the record re-scored by its finish
-- time, as in P all), and for a decline P x:key (the latest decline of the key, for the
-- cooldown) and the record it names (P p:id, its marker read): keys named by the record's
-- fields, so they are not in KEYS (they share the store's hash tag, so its slot). No scan:
-- every command is O(1) or O(log n).
-- The finish time is this call's `now`: on a replica whose clock is ahead it scores after
-- another replica's `now`, so there ZCOUNT (now, +inf) still counts it; a create at a
-- bound discounts such entries (see `create.lua`, which also says what the scores mean).
-- Returns {'ok', n, c, e, a, r, i, d} (the record's fields; a missing label is nil)
--       | {'none'} | {'malformed'}
--       | {'done', state, at} (state 'e': open but past its deadline, at = the deadline;
--         otherwise at = when it finished)
--       | {'other'} (in another namespace, open) | {'other', state, at} (ended, as 'done')
local f = redis.call('HMGET', KEYS[1], 'f', 'e', 'n', 'k', 'c', 'a', 'r', 'i', 'd', 'w')
if not f[3] then return {'none'} end
-- A deadline or finish time that is not the digits the store writes (a hash edited by
-- hand: Lua's tonumber would also take 'nan', '1e15' or '0x1f') is answered as malformed,
-- with nothing written.
if not string.find(f[2] or '', '^%d+$') then return {'malformed'} end
local due = tonumber(f[2])
if f[1] and f[10] == ARGV[9] then
  -- This very call, sent again: its first run won (and did everything below).
  return {'ok', f[3], f[5], f[2], f[6], f[7], f[8], f[9]}
end
-- How it ended, if it did: code and time (a marker at or after the deadline came too late:
-- expired at the deadline).
local code, at
if f[1] then
  if not string.find(f[1], '^.%d+$') then return {'malformed'} end
  if tonumber(string.sub(f[1], 2)) >= due then
    code, at = 'e', f[2]
  else
    code, at = string.sub(f[1], 1, 1), string.sub(f[1], 2)
  end
elseif due <= tonumber(ARGV[1]) then
  code, at = 'e', f[2]
end
-- Another namespace's record is a mismatch whatever its state (`lifecycle::refusal`); how
-- it ended goes back only for the caller to tell one past its retention (not found).
if ARGV[3] ~= '' and f[3] ~= string.sub(ARGV[3], 2) then return {'other', code, at} end
if code then return {'done', code, at} end
local p = ARGV[7]
redis.call('HSET', KEYS[1], 'f', ARGV[2] .. ARGV[1], 'w', ARGV[9])
redis.call('ZADD', p .. 'n:' .. f[3], ARGV[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[6])
if ARGV[2] == 'd' then
  -- The key's latest decline by its time, not by which was written last: a decline stamped
  -- later (by a clock ahead of this one) stays, with its own expiry.
  local latest = p .. 'x:' .. f[4]
  local prev = redis.call('GET', latest)
  local at = prev and redis.call('HGET', p .. 'p:' .. prev, 'f')
  if not (at and string.find(at, '^d%d+$') and tonumber(string.sub(at, 2)) > tonumber(ARGV[1])) then
    redis.call('SET', latest, ARGV[6], 'PXAT', ARGV[8])
  end
end
if ARGV[4] == '1' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return {'ok', f[3], f[5], f[2], f[6], f[7], f[8], f[9]}
