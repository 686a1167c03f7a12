-- KEYS: batch, mailbox, claims.  ARGV: email, results current ('1': the
-- service has read every result published so far).  Replies a status
-- word and job, attempt, pass, kind, the batch's settle(), and '1' when
-- the claim was a finished job's whose result never arrived.
local b, m, c = KEYS[1], KEYS[2], KEYS[3]
local score = redis.call('ZSCORE', c, ARGV[1])
if not score then return {'NOCLAIM'} end
if tonumber(score) > now_ms() then return {'LIVE'} end
local f = redis.call('HMGET', m, 'state', 'job', 'attempt', 'pass',
                     'kind', 'released', 'lost', 'claim_worker', 'stop_job',
                     'worker')
-- A finished job (release.lua) whose result wait has run out: its result
-- is lost only if the service is not still behind on the results topic
-- (after an outage of its own, say); until then it waits.
local result_lost = f[6] == '2'
if result_lost and ARGV[2] ~= '1' then return {'WAIT'} end
redis.call('ZREM', c, ARGV[1])
if not running(f[1]) then return {'NOCLAIM'} end
redis.call('HSET', m, 'claim_worker', '', 'claim_expiry', 0,
           'released', 0)
fold_progress(m)
local lost = num(f[7])
if f[6] ~= '1' then lost = redis.call('HINCRBY', m, 'lost', 1) end
local maxa = num(redis.call('HGET', b, 'max_attempts'))
if maxa < 1 then maxa = 3 end
local bst = redis.call('HGET', b, 'state')
local rl = result_lost and '1' or '0'
-- The batch, or this mailbox (`batch stop --mailbox`), is being stopped.
if bst == 'Stopping' or bst == 'Stopped' or f[9] == f[2] then
  mb_set(b, m, 'Stopped')
  return {'STOPPED', f[2], f[3], f[4], f[5], settle(b), rl}
end
if lost >= maxa then
  local who, why = f[8], ' stopped renewing its claim'
  if result_lost then
    who, why = f[10], ' finished, but its result never reached the service'
  end
  mb_set(b, m, 'Failed')
  redis.call('HSET', m, 'error_code', 502, 'error_name', 'LEASE_LOST',
    'error_detail', 'worker lost: ' .. (who or '?') .. why ..
    ' (attempt ' .. f[3] .. ' of ' .. maxa .. ')')
  set_times(m, now_ms(), 'finished')
  return {'DEAD', f[2], f[3], f[4], f[5], settle(b), rl}
end
local a = redis.call('HINCRBY', m, 'attempt', 1)
mb_set(b, m, 'Queued')
return {'OK', f[2], tostring(a), f[4], f[5], settle(b), rl}
