-- Begins a pass: moves the batch to its running state and sets the
-- "enqueuing" mark (see jobs.c).
-- KEYS: batch.  ARGV: op ("start", "sync", "complete").
local b, op = KEYS[1], ARGV[1]
local cur = redis.call('HGET', b, 'state')
if not cur then return {'NOTFOUND'} end
local to
if op == 'start' then
  if cur == 'Created' then to = 'Syncing'
  elseif cur == 'Stopped' then
    to = redis.call('HGET', b, 'stopped_from') or 'Syncing'
  end
elseif cur == 'Synced' or cur == 'SyncedWithErrors' then
  if op == 'sync' then to = 'IncrementalSyncing'
  elseif op == 'complete' then to = 'Completing' end
end
if not to then
  if redis.call('HGET', b, 'enqueuing') == op then
    return {'OK', cur, redis.call('HGET', b, 'pass')}
  end
  return {'STATE', cur}
end
redis.call('HSET', b, 'state', to, 'enqueuing', op, 'finished', 0)
if num(redis.call('HGET', b, 'started')) == 0 then
  redis.call('HSET', b, 'started', math.floor(now_ms() / 1000))
end
return {'OK', to, redis.call('HINCRBY', b, 'pass', 1)}
