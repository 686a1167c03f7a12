-- Begins a pass: moves the batch to its running state and sets the
-- "enqueuing" mark (see jobs.c).
-- KEYS: batch, samples.  ARGV: op ("start", "sync", "complete").
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
redis.call('HSET', b, 'state', to, 'enqueuing', op, 'finished', 0,
           'finished_ms', 0)
if num(redis.call('HGET', b, 'started')) == 0 then
  set_times(b, now_ms(), 'started')
end
-- The pass's first throughput sample: the chart's rate starts here.
sample(b, KEYS[2])
return {'OK', to, redis.call('HINCRBY', b, 'pass', 1)}
