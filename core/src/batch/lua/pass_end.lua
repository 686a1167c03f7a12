-- Clears the "enqueuing" mark and settles.
-- KEYS: batch.  ARGV: op.
if redis.call('HGET', KEYS[1], 'enqueuing') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'enqueuing')
end
return {'OK', settle(KEYS[1])}
