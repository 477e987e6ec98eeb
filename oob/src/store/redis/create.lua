-- create.lua: inserts an open record, atomically with dedup and both capacity bounds.
-- Every key shares the store's prefix (one slot on a cluster with a hash-tagged prefix).
--
-- KEYS[1] record hash (P p:id)        KEYS[2] namespace index (P n:namespace)
-- KEYS[3] store index (P all)         KEYS[4] dedup index of the record's key (P j:key)
-- KEYS[5] latest decline of the key (P x:key)
-- ARGV[1] now (ms)                    ARGV[2] per-namespace bound (-1: none)
-- ARGV[3] total bound (-1: none)      ARGV[4] decline cooldown (ms; -1: no dedup)
-- ARGV[5] deadline (ms)               ARGV[6] id
-- ARGV[7] record key prefix (P p:)    ARGV[8] store key prefix (P)
-- ARGV[9..] the record's field/value pairs, the first of them 'q' and this call's token
--          (random): a cluster client sends a script again when its reply was lost, and
--          the resent call finds the record its first run inserted by it
-- Also reads the record of an open id found in KEYS[4] and of the id KEYS[5] names (keys
-- named by index entries, so not in KEYS; same hash tag).
--
-- Scores in the namespace and store indexes: an open record's entry scores its deadline;
-- a transition re-scores a finished one by its finish time (the finisher's `now`), and the
-- capacity repair below may lower that to a creator's `now`: a finished entry always
-- scores at or before its finish time. So ZCOUNT (now, +inf), in O(log n), counts every
-- open, unexpired record, and the only finished ones it also counts are those finished
-- later than this call's `now` (by a replica whose clock is ahead, or a complete that
-- read its clock after this create read its own) or whose re-score was lost; the repair
-- discounts those. Purge reads the record's marker, not the score, to decide when its
-- retention ends (see `purge.lua`). The record gets no TTL: purge removes it with its
-- index entries.
-- Returns {'ok'} | {'dup'} | {'cap', 'namespace' | 'total'}
--       | {'join', id, fields} | {'declined', id, fields}
-- The store index doubles as the duplicate-id check: every record is in it until purged or
-- cleared, so ZADD NX adds nothing for a known id. Every refusal below takes the entry back.
-- (Each refusal takes it back inline: a local function would be a new closure per call.)
-- A known id whose record holds this call's token is this very call, sent again: its
-- first run inserted it.
if redis.call('ZADD', KEYS[3], 'NX', ARGV[5], ARGV[6]) == 0 then
  if redis.call('HGET', KEYS[1], 'q') == ARGV[10] then return {'ok'} end
  return {'dup'}
end
local now = tonumber(ARGV[1])
local cool = tonumber(ARGV[4])
if cool >= 0 then
  -- The dedup index keeps finished ids until purge or a lookup like this one meets them
  -- (transitions leave it alone): each such entry is dropped here, once, and the next one
  -- tried, so the loop ends.
  while true do
    local open = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. ARGV[1], '+inf', 'LIMIT', 0, 1)
    if not open[1] then break end
    local h = redis.call('HGETALL', ARGV[7] .. open[1])
    local joinable = #h > 0
    for i = 1, #h, 2 do
      if h[i] == 'f' then joinable = false end
    end
    if joinable then
      redis.call('ZREM', KEYS[3], ARGV[6])
      return {'join', open[1], h}
    end
    redis.call('ZREM', KEYS[4], open[1])
  end
  if cool > 0 then
    local d = redis.call('GET', KEYS[5])
    if d then
      local f = redis.call('HMGET', ARGV[7] .. d, 'f', 'e')
      -- (A marker or deadline that does not parse, the digits the store writes, is no
      -- decline to cool down from.)
      if f[1] and string.find(f[1], '^d%d+$') and f[2] and string.find(f[2], '^%d+$') then
        local at = tonumber(string.sub(f[1], 2))
        if at < tonumber(f[2]) and at + cool > now then
          redis.call('ZREM', KEYS[3], ARGV[6])
          return {'declined', d, redis.call('HGETALL', ARGV[7] .. d)}
        end
      end
    end
  end
end
-- Each bound in turn: the namespace's (first), then the store's, minus this record's own
-- entry there when it counts (a deadline after now).
--
-- Only at a bound, the repair: a finished entry scored after now (finished by a clock
-- ahead of this one, or re-scored by nobody: a marker written without its index moves, by
-- a completer of an earlier version, which sent them in a second round trip that may
-- fail, or by hand; see finish.rs) is not open, though ZCOUNT counts it. The entries in
-- (now, +inf) are looked at lowest score first: one with a finish marker before its
-- deadline (the record reads finished) is re-scored in the store index and its namespace
-- index (and the index looked at) by its finish time, or by now when that is later, never
-- raising a score (LT): so it leaves (now, +inf) for good (this clock only moves on), and
-- stays at or before its finish time. Any other entry (open, a marker at or after the
-- deadline: the record reads open until it, or fields that do not parse) counts as
-- scored. The open ones seen stay lowest in the range, so each next look starts after
-- them (LIMIT offset), and it ends once `bound` open ones besides this record's own are
-- seen, or the range is: then the count taken again is exact. The look stops at 256
-- entries seen open (this record's own among them at the total bound), so a namespace
-- bound up to 256 and a total bound up to 255 are exact; above, a finished entry scored
-- after the 256 lowest open ones still counts until a create's now passes its score.
-- Each round asks for a whole batch (min(bound + own, 256) entries) and the next starts
-- after the open ones seen, so a create reads at most two batches plus those it repairs.
-- (A loop, not a local function: that would be a new closure per call.)
local own = 0
if tonumber(ARGV[5]) > now then own = 1 end
for pass = 1, 2 do
  local index, bound, mine, scope = KEYS[2], tonumber(ARGV[2]), 0, 'namespace'
  if pass == 2 then index, bound, mine, scope = KEYS[3], tonumber(ARGV[3]), own, 'total' end
  if bound >= 0 then
    local open = redis.call('ZCOUNT', index, '(' .. ARGV[1], '+inf') - mine
    if open >= bound and bound > 0 then
      local seen, want = 0, math.min(bound + mine, 256)
      while seen < want do
        -- A whole batch each time, so each round repairs at least as many entries as
        -- its offset skips.
        local ids = redis.call('ZRANGEBYSCORE', index, '(' .. ARGV[1], '+inf',
          'LIMIT', seen, want)
        for _, m in ipairs(ids) do
          local f = redis.call('HMGET', ARGV[7] .. m, 'f', 'e', 'n')
          local at = f[1] and string.find(f[1], '^.%d+$') and tonumber(string.sub(f[1], 2))
          if at and f[3] and f[2] and string.find(f[2], '^%d+$') and at < tonumber(f[2]) then
            local score = ARGV[1]
            if at < now then score = string.sub(f[1], 2) end
            redis.call('ZADD', index, 'XX', 'LT', score, m)
            redis.call('ZADD', KEYS[3], 'XX', 'LT', score, m)
            redis.call('ZADD', ARGV[8] .. 'n:' .. f[3], 'XX', 'LT', score, m)
          else
            seen = seen + 1
          end
        end
        if #ids < want then break end
      end
      open = redis.call('ZCOUNT', index, '(' .. ARGV[1], '+inf') - mine
    end
    if open >= bound then
      redis.call('ZREM', KEYS[3], ARGV[6])
      return {'cap', scope}
    end
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[6])
return {'ok'}
