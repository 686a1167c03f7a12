-- KEYS: batch, mailbox, claims.  ARGV: job, attempt, worker, finished,
-- email.
local m, c = KEYS[2], KEYS[3]
local f = redis.call('HMGET', m, 'state', 'job', 'attempt',
                     'claim_worker')
if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] or f[4] ~= ARGV[3] or
   not running(f[1]) then
  return {'OK', 0}
end
if ARGV[4] == '1' then
  redis.call('ZREM', c, ARGV[5])
  redis.call('HSET', m, 'claim_worker', '', 'claim_expiry', 0)
else
  redis.call('HSET', m, 'claim_expiry', 0, 'released', 1)
  redis.call('ZADD', c, 0, ARGV[5])
end
return {'OK', 1}
