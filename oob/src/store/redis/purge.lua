-- purge.lua: forgets up to ARGV[2] records whose retention window ended.
--
-- KEYS[1] store index (P all), scored by deadline while open and, after, by the finish
--         time or earlier (a create at a bound may lower it to its `now`: see `create.lua`)
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
--
-- When a record is due is read from its fields, not its score: a finished entry scored
-- before its finish time is only met earlier, kept or re-scored by its finish time below.
-- A record whose fields do not parse (a deadline or finish time that is not the digits the
-- store writes, a field missing) is forgotten once its index score (its deadline while
-- open, its finish time after: the one time there is to go by) is up to ARGV[1], i.e. its
-- retention ended, with no grace (its state is unknown). Its index entries go with it:
-- P n:namespace and P j:key are named by `n` and `k`, or when one of them is missing, by
-- what the other holds (`k` begins with the namespace; rebuilt from `n`, `a` and `r`).
-- Only a record missing both leaves its entries there (entries without a record: the
-- readers skip them). So a malformed record never stops a purge (nor every later one: it
-- scores lowest).
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
  -- The deadline and the marker's finish time, each false or nil when it does not parse.
  local base = f[2] and string.find(f[2], '^%d+$') and tonumber(f[2])
  local at = f[1] and string.find(f[1], '^.%d+$') and tonumber(string.sub(f[1], 2))
  local due = max
  if f[3] and base and (at or not f[1]) then
    -- A finish marker counts from when it finished, unless it came too late (expired).
    due = base
    if at and at < base then base, due = at, at + grace end
  end
  if due <= max then
    local ns, key = f[3], f[4]
    if ns and not key then
      -- The dedup key rebuilt from the namespace and the labels, as `keys.rs` writes it.
      local l = redis.call('HMGET', k, 'a', 'r')
      key = #ns .. ':' .. ns
      for i = 1, 2 do
        if l[i] then key = key .. '+' .. #l[i] .. ':' .. l[i] else key = key .. '-' end
      end
    elseif key and not ns then
      -- The namespace read from the dedup key (its byte length, `:`, the namespace).
      local len = string.match(key, '^(%d+):')
      if len then ns = string.sub(key, #len + 2, #len + 1 + tonumber(len)) end
    end
    local gone = redis.call('DEL', k)
    redis.call('ZREM', KEYS[1], m)
    if ns then redis.call('ZREM', ARGV[3] .. 'n:' .. ns, m) end
    if key then redis.call('ZREM', ARGV[3] .. 'j:' .. key, m) end
    -- Told and counted unless there was no record: a hash gone already (cleared), or one
    -- holding nothing but a finish marker (not a record, see `codec.rs`).
    if gone == 1 and (f[2] or f[3] or f[4]) then
      redis.call('PUBLISH', ARGV[4], m)
      out[#out + 1] = m
    end
  elseif base <= max then
    -- In its grace: stays where it is scored (up to max, so not counted as open).
    out[2] = out[2] + 1
  else
    redis.call('ZADD', KEYS[1], base, m)
  end
end
return out
