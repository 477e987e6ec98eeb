-- index.lua, the end of the vault's write and delete scripts (appended to each): the
-- namespace index keeps its rule, in one place. Expects `now`, `slack` (ms) and `latest`
-- (the latest key expiry Redis takes, ms) and `reply`, set by the script before it.
-- Expired entries leave the index, and the index gets the key expiry of its longest-lived
-- entry plus the slack (none while one has no expiry, or past what Redis takes), so the
-- index of a namespace nobody writes again ends by itself (Redis deletes an empty one).
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
  local at = tonumber(last[2]) + tonumber(slack)
  if at <= tonumber(latest) then
    redis.call('PEXPIREAT', KEYS[2], string.format('%.0f', at))
  else
    redis.call('PERSIST', KEYS[2])
  end
end
return reply
