-- KEYS: batch, mailbox, claims.  ARGV: email.  Replies a status word and
-- job, attempt, pass, kind.
local b, m, c = KEYS[1], KEYS[2], KEYS[3]
local score = redis.call('ZSCORE', c, ARGV[1])
if not score then return {'NOCLAIM'} end
if tonumber(score) > now_ms() then return {'LIVE'} end
redis.call('ZREM', c, ARGV[1])
local f = redis.call('HMGET', m, 'state', 'job', 'attempt', 'pass',
                     'kind', 'released', 'lost', 'claim_worker', 'stop_job')
if not running(f[1]) then return {'NOCLAIM'} end
redis.call('HSET', m, 'claim_worker', '', 'claim_expiry', 0,
           'released', 0)
drop_progress(b, m)
local lost = num(f[7])
if f[6] ~= '1' then lost = redis.call('HINCRBY', m, 'lost', 1) end
local maxa = num(redis.call('HGET', b, 'max_attempts'))
if maxa < 1 then maxa = 3 end
local bst = redis.call('HGET', b, 'state')
-- The batch, or this mailbox (`batch stop --mailbox`), is being stopped.
if bst == 'Stopping' or bst == 'Stopped' or f[9] == f[2] then
  mb_set(b, m, 'Stopped')
  return {'STOPPED', f[2], f[3], f[4], f[5], settle(b)}
end
if lost >= maxa then
  mb_set(b, m, 'Failed')
  redis.call('HSET', m, 'error_code', 502, 'error_name', 'LEASE_LOST',
    'error_detail', 'worker lost: ' .. (f[8] or '?') ..
    ' stopped renewing its claim (attempt ' .. f[3] .. ' of ' ..
    maxa .. ')')
  set_times(m, now_ms(), 'finished')
  return {'DEAD', f[2], f[3], f[4], f[5], settle(b)}
end
local a = redis.call('HINCRBY', m, 'attempt', 1)
mb_set(b, m, 'Queued')
return {'OK', f[2], tostring(a), f[4], f[5], settle(b)}
