-- Prepended to every batch script (cmake/MfEmbedLua.cmake); see
-- core/src/batch/script.c for what each helper is for. A name between
-- two at-signs is replaced at build time by its #define in batch.h.
local SAMPLES_MAX = @MF_BATCH_SAMPLES_MAX@
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(v) return tonumber(v) or 0 end
-- Sets each named time field of hash k to t (ms): the field in seconds,
-- as readers from before the twins know it, and its <name>_ms twin.
local function set_times(k, t, ...)
  for _, name in ipairs({...}) do
    redis.call('HSET', k, name, math.floor(t / 1000), name .. '_ms', t)
  end
end
local function running(s)
  return s == 'Syncing' or s == 'IncrementalSyncing'
end
local function mb_set(b, m, to)
  local from = redis.call('HGET', m, 'state')
  if from ~= to then
    redis.call('HSET', m, 'state', to)
    -- A wait (mb_wait.lua) belongs to the job that runs: gone with it.
    redis.call('HDEL', m, 'wait_until', 'wait_why')
    if from then redis.call('HINCRBY', b, 'n:' .. from, -1) end
    redis.call('HINCRBY', b, 'n:' .. to, 1)
  end
end
local function settle(b)
  local st = redis.call('HGET', b, 'state')
  if not st then return '' end
  if redis.call('HGET', b, 'enqueuing') then return st end
  local function n(s) return num(redis.call('HGET', b, 'n:' .. s)) end
  if n('Queued') + n('Syncing') + n('IncrementalSyncing') > 0 then
    return st
  end
  local total = num(redis.call('HGET', b, 'n_mailboxes'))
  local to = st
  if st == 'Syncing' or st == 'IncrementalSyncing' then
    if n('Synced') + n('Completed') == total then to = 'Synced'
    else to = 'SyncedWithErrors' end
  elseif st == 'Completing' then
    if n('Completed') == total then to = 'Completed'
    else to = 'CompletedWithErrors' end
  elseif st == 'Stopping' then to = 'Stopped' end
  if to ~= st then
    redis.call('HSET', b, 'state', to)
    if to ~= 'Stopped' then
      set_times(b, now_ms(), 'finished', 'last_pass_finished')
    end
  end
  return to
end
-- The progress of an attempt that ended without a result (its worker was
-- lost, or its result never reached the service), when the job is queued
-- again or claimed anew: what it copied stays counted, in the mailbox's
-- messages_copied and in the batch's running total. Those messages are on
-- the target, most of them checkpointed, so the next attempt neither
-- copies them nor finds them there; dropped, the report of a mailbox
-- whose worker was lost said it copied fewer than it holds. A message
-- the lost attempt copied after its last checkpoint is found on the
-- target by the next attempt and counted there as present as well.
local function fold_progress(m)
  local p = redis.call('HMGET', m, 'p_messages', 'p_bytes')
  redis.call('HINCRBY', m, 'messages_copied', num(p[1]))
  redis.call('HINCRBY', m, 'bytes_copied', num(p[2]))
  redis.call('HSET', m, 'p_key', '', 'p_seq', 0, 'p_messages', 0,
             'p_bytes', 0)
end
-- One throughput sample "<ms>ms <messages> <bytes>" (before the ms
-- twins: "<seconds> <messages> <bytes>"), at most one a step: 100 ms,
-- doubled while the batch has run for more than 2000 steps, so a batch
-- of a second has a chart and one of days about 2000 samples.
local function sample(b, s)
  local t = now_ms()
  local f = redis.call('HMGET', b, 'started_ms', 'started', 't_messages',
                       't_bytes')
  local start, step = num(f[1]), 100
  if start <= 0 then start = num(f[2]) * 1000 end
  while start > 0 and (t - start) / step > 2000 do step = step * 2 end
  -- The counters as Redis holds them: a Lua number prints 14 digits.
  local v = t .. 'ms ' .. (f[3] or '0') .. ' ' .. (f[4] or '0')
  local last = redis.call('LINDEX', s, -1)
  if last then
    local lt, unit = string.match(last, '^(%d+)(m?s?) ')
    lt = tonumber(lt)
    if lt and unit ~= 'ms' then lt = lt * 1000 end
    if lt and math.floor(lt / step) == math.floor(t / step) then
      redis.call('LSET', s, -1, v)
      return
    end
  end
  redis.call('RPUSH', s, v)
  if redis.call('LLEN', s) > SAMPLES_MAX then
    local all = redis.call('LRANGE', s, 0, -1)
    redis.call('DEL', s)
    for i = 1, #all, 2 do redis.call('RPUSH', s, all[i]) end
    if #all % 2 == 0 then redis.call('RPUSH', s, all[#all]) end
  end
end
