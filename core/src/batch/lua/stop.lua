-- KEYS: batch.
local b = KEYS[1]
local cur = redis.call('HGET', b, 'state')
if not cur then return {'NOTFOUND'} end
if cur == 'Syncing' or cur == 'IncrementalSyncing' or
   cur == 'Completing' then
  redis.call('HSET', b, 'state', 'Stopping', 'stopped_from', cur)
elseif cur ~= 'Stopping' then
  return {'STATE', cur}
end
redis.call('HDEL', b, 'enqueuing')
return {'OK', 'Stopping'}
