-- A server's throttling, shared by the fleet (design in
-- core/src/caps/throttle.c).
-- KEYS: pause, tlimit, cap:total (all of one endpoint)
-- ARGV: op ('note' | 'get' | 'over'), pause_ms, cap, floor, window_ms,
--       member (a lease of cap:total; 'over' only)
-- Replies: {pause_ms_left, connection_limit (0: none)}; 'over' adds 1
-- when the lease is one of the connections above the lowered limit
-- (its rank among the live leases, by expiry, is the limit or more).
if redis.replicate_commands then redis.replicate_commands() end
local PAUSE, TLIMIT, TOTAL = KEYS[1], KEYS[2], KEYS[3]
local left = redis.call('PTTL', PAUSE)
if left < 0 then left = 0 end
local lim = tonumber(redis.call('GET', TLIMIT) or '0')
if ARGV[1] == 'get' then
  return {left, lim}
end
if ARGV[1] == 'over' then
  local score = redis.call('ZSCORE', TOTAL, ARGV[6])
  if lim == 0 or not score then return {left, lim, 0} end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if tonumber(score) <= now then return {left, lim, 0} end
  -- Expired leases rank first (lower scores): not counted, not removed
  -- (lease.lua removes them and wakes the waiters).
  local dead = redis.call('ZCOUNT', TOTAL, '-inf', now)
  local live = redis.call('ZCARD', TOTAL) - dead
  local rank = redis.call('ZRANK', TOTAL, ARGV[6]) - dead
  if live > lim and rank >= lim then return {left, lim, 1} end
  return {left, lim, 0}
end
local ms, cap = tonumber(ARGV[2]), tonumber(ARGV[3])
local floor, window = tonumber(ARGV[4]), tonumber(ARGV[5])
if left == 0 then
  -- A new throttling episode (not one more answer within the pause the
  -- fleet already keeps): halve the connections, from the lowered limit
  -- if one holds, else from what is open now, never above the cap.
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', TOTAL, '-inf', now)
  local base = lim
  if base == 0 then
    base = redis.call('ZCARD', TOTAL)
    if cap > 0 and (base == 0 or base > cap) then base = cap end
  end
  lim = math.max(floor, math.floor(base / 2))
end
if lim > 0 then
  redis.call('SET', TLIMIT, lim, 'PX', window)
end
if ms > left then
  redis.call('SET', PAUSE, '1', 'PX', ms)
  left = ms
end
return {left, lim}
