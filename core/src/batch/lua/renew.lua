-- KEYS: batch, mailbox, claims.  ARGV: job, attempt, worker, ttl, email.
local b, m, c = KEYS[1], KEYS[2], KEYS[3]
local f = redis.call('HMGET', m, 'state', 'job', 'attempt',
                     'claim_worker', 'claim_expiry', 'stop_job')
local now = now_ms()
if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] or f[4] ~= ARGV[3] or
   num(f[5]) <= now or not running(f[1]) then
  return {'LOST', f[1] or '', f[4] or ''}
end
local exp = now + tonumber(ARGV[4])
redis.call('HSET', m, 'claim_expiry', exp)
redis.call('ZADD', c, exp, ARGV[5])
local bst = redis.call('HGET', b, 'state')
local stop = 0
if not running(bst) and bst ~= 'Completing' then stop = 1 end
-- `batch stop NAME --mailbox` (edit_op.lua) stops this mailbox's job.
if f[6] and f[6] == f[2] then stop = 1 end
return {'OK', exp, stop}
