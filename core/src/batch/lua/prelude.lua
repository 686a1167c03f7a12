-- Prepended to every batch script (cmake/MfEmbedLua.cmake); see
-- core/src/batch/script.c for what each helper is for. A name between
-- two at-signs is replaced at build time by its #define in batch.h.
local SAMPLES_MAX = @MF_BATCH_SAMPLES_MAX@
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(v) return tonumber(v) or 0 end
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
      local t = math.floor(now_ms() / 1000)
      redis.call('HSET', b, 'finished', t, 'last_pass_finished', t)
    end
  end
  return to
end
local function drop_progress(b, m)
  local p = redis.call('HMGET', m, 'p_messages', 'p_bytes')
  redis.call('HINCRBY', b, 't_messages', 0 - num(p[1]))
  redis.call('HINCRBY', b, 't_bytes', 0 - num(p[2]))
  redis.call('HSET', m, 'p_key', '', 'p_seq', 0, 'p_messages', 0,
             'p_bytes', 0)
end
local function sample(b, s)
  local t = math.floor(now_ms() / 1000)
  local v = t .. ' ' .. num(redis.call('HGET', b, 't_messages')) ..
            ' ' .. num(redis.call('HGET', b, 't_bytes'))
  local last = redis.call('LINDEX', s, -1)
  if last and string.match(last, '^(%d+)') == tostring(t) then
    redis.call('LSET', s, -1, v)
    return
  end
  redis.call('RPUSH', s, v)
  if redis.call('LLEN', s) > SAMPLES_MAX then
    local all = redis.call('LRANGE', s, 0, -1)
    redis.call('DEL', s)
    for i = 1, #all, 2 do redis.call('RPUSH', s, all[i]) end
    if #all % 2 == 0 then redis.call('RPUSH', s, all[#all]) end
  end
end
