-- Moves the batch to ARGV[1] if it is in one of the allowed states.
-- KEYS: batch.  ARGV: to, allowed from states...
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {'NOTFOUND'} end
for i = 2, #ARGV do
  if ARGV[i] == cur then
    redis.call('HSET', KEYS[1], 'state', ARGV[1])
    return {'OK', cur}
  end
end
return {'STATE', cur}
