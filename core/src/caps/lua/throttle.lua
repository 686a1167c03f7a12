-- The limits in force on an endpoint's connections beyond each job's
-- own caps: a server's throttling, shared by the fleet, and the caps an
-- admin lowered while jobs run (design in core/src/caps/throttle.c).
-- KEYS: pause, tlimit, cap:total, and for 'get' and 'over': conf (the
--       batch's caps as `batch set` left them), cap:user:<user>,
--       cap:ip:<ip> (all of one endpoint; a name the caller has none
--       for is a key that never exists)
-- ARGV: op ('note' | 'get' | 'over'), pause_ms, cap, floor, window_ms,
--       member (a lease in the caps; 'over' only)
-- Replies: 'note' {pause_ms_left, lowered limit (0: none)};
--   'get' {pause_ms_left, total, per_user, per_ip, throttled}: the
--   limits in force (0: none), total the lower of the throttled limit
--   and the configured cap, throttled 1 when total is the throttled one;
--   'over' the same and then the cap the lease is above (0: none, 1
--   total, 2 per user, 3 per IP: its rank among the live leases of that
--   cap, by expiry, is the limit or more) and that cap's limit.
if redis.replicate_commands then redis.replicate_commands() end
local PAUSE, TLIMIT, TOTAL = KEYS[1], KEYS[2], KEYS[3]
local left = redis.call('PTTL', PAUSE)
if left < 0 then left = 0 end
local lim = tonumber(redis.call('GET', TLIMIT) or '0')
if ARGV[1] == 'get' or ARGV[1] == 'over' then
  local conf = redis.call('HMGET', KEYS[4], 'total', 'user', 'ip')
  local total, thr = lim, 0
  local ct = tonumber(conf[1] or '0')
  if lim > 0 then thr = 1 end
  if ct > 0 and (total == 0 or ct < total) then total, thr = ct, 0 end
  local limits = {total, tonumber(conf[2] or '0'), tonumber(conf[3] or '0')}
  local reply = {left, limits[1], limits[2], limits[3], thr}
  if ARGV[1] == 'get' then return reply end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local caps = {TOTAL, KEYS[5], KEYS[6]}
  for i = 1, 3 do
    local score = redis.call('ZSCORE', caps[i], ARGV[6])
    local l = limits[i]
    if l > 0 and score and tonumber(score) > now then
      -- Expired leases rank first (lower scores): not counted, not
      -- removed (lease.lua removes them and wakes the waiters).
      local dead = redis.call('ZCOUNT', caps[i], '-inf', now)
      local live = redis.call('ZCARD', caps[i]) - dead
      local rank = redis.call('ZRANK', caps[i], ARGV[6]) - dead
      if live > l and rank >= l then
        reply[6], reply[7] = i, l
        return reply
      end
    end
  end
  reply[6], reply[7] = 0, 0
  return reply
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
