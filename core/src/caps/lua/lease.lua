-- Every lease and waiter operation of the caps module (design in
-- core/src/caps/lease.c), atomically.
-- KEYS: q, qexp, qinfo, qseq, cap1..capN
-- ARGV: op, member, ttl_ms, waiter_id, (unused), waiter_ttl_ms,
--       wake_prefix, limit1..limitN
-- Replies:
--   acquire  {1, expiry_ms, now_ms} | {0, full_cap_index, ticket}
--   renew    {1, expiry_ms, now_ms} | {0, lost_cap_index}
--   release  {entries_removed}
--   cancel   {was_queued}
--   usage    {live in cap1, live in cap2, waiters}  (KEYS: 4 + 2 caps)
if redis.replicate_commands then redis.replicate_commands() end
local op = ARGV[1]
local Q, QEXP, QINFO, QSEQ = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local WTTL, WAKE = tonumber(ARGV[6]), ARGV[7]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local freed = false
local cards = {}
-- Live holders of a cap; expired ones are dropped on first look.
local function card(key)
  local c = cards[key]
  if c == nil then
    if redis.call('ZREMRANGEBYSCORE', key, '-inf', now) > 0 then
      freed = true
    end
    c = redis.call('ZCARD', key)
    cards[key] = c
  end
  return c
end
local function keep(key, ms)
  if redis.call('PTTL', key) < ms then
    redis.call('PEXPIRE', key, ms)
  end
end
local function parse(spec)
  local caps = {}
  for key, lim in string.gmatch(spec, '([^\t\n]+)\t(%d+)\n') do
    caps[#caps + 1] = {key, tonumber(lim)}
  end
  return caps
end
-- Index of the first cap without room once earlier waiters have had
-- theirs, or 0.
local function blocked(caps, reserved)
  for i, c in ipairs(caps) do
    if c[2] > 0 and card(c[1]) + (reserved[c[1]] or 0) >= c[2] then
      return i
    end
  end
  return 0
end
local function reserve(caps, reserved)
  for _, c in ipairs(caps) do
    reserved[c[1]] = (reserved[c[1]] or 0) + 1
  end
end
local function purge_queue()
  local gone = redis.call('ZRANGEBYSCORE', QEXP, '-inf', now)
  for _, id in ipairs(gone) do
    redis.call('ZREM', Q, id)
    redis.call('HDEL', QINFO, id)
    redis.call('DEL', WAKE .. id)
  end
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', QEXP, '-inf', now)
  end
  return #gone
end
-- Pushes a wake-up to every queued waiter that could now go ahead.
local function wake()
  local reserved = {}
  for _, id in ipairs(redis.call('ZRANGE', Q, 0, -1)) do
    local spec = redis.call('HGET', QINFO, id)
    if spec then
      local caps = parse(spec)
      if blocked(caps, reserved) == 0 then
        local wk = WAKE .. id
        if redis.call('LLEN', wk) == 0 then
          redis.call('RPUSH', wk, '1')
          redis.call('PEXPIRE', wk, WTTL)
        end
      end
      reserve(caps, reserved)
    end
  end
end
local mine = {}
for i = 5, #KEYS do
  mine[#mine + 1] = {KEYS[i], tonumber(ARGV[i + 3])}
end
if op == 'acquire' then
  local member, ttl, wid = ARGV[2], tonumber(ARGV[3]), ARGV[4]
  -- The member is the caller's token for this acquire: when it already
  -- holds a live entry in every cap, this is a retry of an acquire whose
  -- reply was lost, and the answer is the one it missed (counted once).
  local held = #mine > 0
  for _, c in ipairs(mine) do
    local s = redis.call('ZSCORE', c[1], member)
    if not s or tonumber(s) <= now then held = false end
  end
  if held then
    return {1, tonumber(redis.call('ZSCORE', mine[1][1], member)), now}
  end
  local purged = purge_queue()
  local ticket = redis.call('ZSCORE', Q, wid)
  local ahead
  if ticket then
    ahead = redis.call('ZRANGEBYSCORE', Q, '-inf', '(' .. ticket)
  else
    ahead = redis.call('ZRANGE', Q, 0, -1)
  end
  local reserved = {}
  for _, id in ipairs(ahead) do
    local spec = redis.call('HGET', QINFO, id)
    if spec then reserve(parse(spec), reserved) end
  end
  local b = blocked(mine, reserved)
  if b == 0 then
    local exp = now + ttl
    for _, c in ipairs(mine) do
      redis.call('ZADD', c[1], exp, member)
      keep(c[1], 2 * ttl + 1000)
    end
    if ticket then
      redis.call('ZREM', Q, wid)
      redis.call('ZREM', QEXP, wid)
      redis.call('HDEL', QINFO, wid)
    end
    redis.call('DEL', WAKE .. wid)
    if purged > 0 or freed then wake() end
    return {1, exp, now}
  end
  if not ticket then
    ticket = redis.call('INCR', QSEQ)
    redis.call('ZADD', Q, ticket, wid)
    local spec = ''
    for _, c in ipairs(mine) do
      spec = spec .. c[1] .. '\t' .. c[2] .. '\n'
    end
    redis.call('HSET', QINFO, wid, spec)
  end
  redis.call('ZADD', QEXP, now + WTTL, wid)
  keep(Q, 2 * WTTL)
  keep(QEXP, 2 * WTTL)
  keep(QINFO, 2 * WTTL)
  if purged > 0 or freed then wake() end
  return {0, b, tonumber(ticket)}
elseif op == 'renew' then
  local member, ttl = ARGV[2], tonumber(ARGV[3])
  for i, c in ipairs(mine) do
    local s = redis.call('ZSCORE', c[1], member)
    if not s or tonumber(s) <= now then
      for _, d in ipairs(mine) do
        redis.call('ZREM', d[1], member)
      end
      purge_queue()
      wake()
      return {0, i}
    end
  end
  local exp = now + ttl
  for _, c in ipairs(mine) do
    redis.call('ZADD', c[1], 'XX', exp, member)
    keep(c[1], 2 * ttl + 1000)
  end
  return {1, exp, now}
elseif op == 'release' then
  local n = 0
  for _, c in ipairs(mine) do
    n = n + redis.call('ZREM', c[1], ARGV[2])
  end
  purge_queue()
  wake()
  return {n}
elseif op == 'cancel' then
  local wid = ARGV[4]
  local n = redis.call('ZREM', Q, wid)
  redis.call('ZREM', QEXP, wid)
  redis.call('HDEL', QINFO, wid)
  redis.call('DEL', WAKE .. wid)
  purge_queue()
  if n > 0 then wake() end
  return {n}
elseif op == 'usage' then
  purge_queue()
  return {card(KEYS[5]), card(KEYS[6]), redis.call('ZCARD', Q)}
end
return redis.error_reply('caps: unknown op ' .. tostring(op))
