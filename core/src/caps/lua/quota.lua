-- A user's daily bandwidth quota, shared by the fleet (the rule in
-- mailferry/caps.h, mf_caps_quota_take(); design in core/src/caps/quota.c).
-- KEYS: the user's count (HASH used, full; PTTL: the window's time left)
-- ARGV: op ('take' | 'fill'), bytes, limit (0: none), window_ms
-- Reply: {wait_ms (0: taken), used}
if redis.replicate_commands then redis.replicate_commands() end
local K = KEYS[1]
local bytes, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local left = redis.call('PTTL', K)
local used, full = 0, false
if left == -1 then
  -- A count without its window (never left so by this script).
  redis.call('PEXPIRE', K, window)
  left = window
end
if left > 0 then
  local v = redis.call('HMGET', K, 'used', 'full')
  used, full = tonumber(v[1] or '0') or 0, v[2] == '1'
else
  -- No window open: the first bytes (or the server's word) open one.
  left = 0
end
if ARGV[1] == 'fill' then
  if left == 0 then
    redis.call('HSET', K, 'used', 0, 'full', 1)
    redis.call('PEXPIRE', K, window)
    left = window
  else
    redis.call('HSET', K, 'full', 1)
  end
  return {left, used}
end
if left == 0 then
  redis.call('HSET', K, 'used', bytes, 'full', 0)
  redis.call('PEXPIRE', K, window)
  return {0, bytes}
end
if full or (limit > 0 and used > 0 and used + bytes > limit) then
  return {left, used}
end
return {0, redis.call('HINCRBY', K, 'used', bytes)}
