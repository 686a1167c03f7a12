-- KEYS: claims.  ARGV: mailbox key prefix.  5 fields per expired claim:
-- email, job, attempt, worker, expiry.
local z = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(),
                     'WITHSCORES', 'LIMIT', 0, 1000)
local out = {'OK'}
for i = 1, #z, 2 do
  local f = redis.call('HMGET', ARGV[1] .. z[i], 'job', 'attempt',
                       'claim_worker')
  out[#out + 1] = z[i]; out[#out + 1] = f[1] or ''
  out[#out + 1] = f[2] or '0'; out[#out + 1] = f[3] or ''
  out[#out + 1] = z[i + 1]
end
return out
