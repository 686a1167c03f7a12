-- KEYS: batch, mailbox, claims.  ARGV: job, attempt, worker, finished,
-- email, result wait (ms).
-- finished: the worker has published the job's result. The claim stays
-- (released 2, its worker cleared: nobody renews it) until result.lua
-- applies the result, which removes it. A result that never arrives
-- (lost between the worker and the service) would otherwise leave the
-- mailbox Syncing with no claim, and the batch would never settle: after
-- the result wait the service requeues it (requeue.lua).
-- Not finished (worker shutdown): the claim expires now, released 1, and
-- the service requeues it at once without counting a lost worker.
local m, c = KEYS[2], KEYS[3]
local f = redis.call('HMGET', m, 'state', 'job', 'attempt',
                     'claim_worker')
if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] or f[4] ~= ARGV[3] or
   not running(f[1]) then
  return {'OK', 0}
end
if ARGV[4] == '1' then
  local exp = now_ms() + tonumber(ARGV[6])
  redis.call('HSET', m, 'claim_worker', '', 'claim_expiry', exp,
             'released', 2)
  redis.call('ZADD', c, exp, ARGV[5])
else
  redis.call('HSET', m, 'claim_expiry', 0, 'released', 1)
  redis.call('ZADD', c, 0, ARGV[5])
end
return {'OK', 1}
