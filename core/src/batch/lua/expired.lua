-- KEYS: claims.  ARGV: mailbox key prefix.  6 fields per expired claim:
-- email, job, attempt, worker, expiry, released (2: a finished job's
-- claim waiting for its result, release.lua).
local z = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(),
                     'WITHSCORES', 'LIMIT', 0, 1000)
local out = {'OK'}
for i = 1, #z, 2 do
  local f = redis.call('HMGET', ARGV[1] .. z[i], 'job', 'attempt',
                       'claim_worker', 'released', 'worker')
  local who = f[3]
  if f[4] == '2' then who = f[5] end
  out[#out + 1] = z[i]; out[#out + 1] = f[1] or ''
  out[#out + 1] = f[2] or '0'; out[#out + 1] = who or ''
  out[#out + 1] = z[i + 1]; out[#out + 1] = f[4] or '0'
end
return out
