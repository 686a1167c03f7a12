-- Checkpoints written only by the claim's owner (fencing: a worker that
-- lost its claim can never move a checkpoint). The claim test of the batch
-- module's renew script, in Redis TIME. One folder or several: the
-- settled empty folders of a job go in one call (migrate/run.c).
-- KEYS[1] checkpoint hash, KEYS[2] mailbox record
-- ARGV[1] job, ARGV[2] attempt, ARGV[3] worker, then folder, value pairs
-- Returns {'OK'} or {'FENCED', job, attempt, worker} (the record's).
local f = redis.call('HMGET', KEYS[2], 'job', 'attempt',
                     'claim_worker', 'claim_expiry')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if f[1] ~= ARGV[1] or f[2] ~= ARGV[2] or f[3] ~= ARGV[3] or
   (tonumber(f[4]) or 0) <= now then
  return {'FENCED', f[1] or '', f[2] or '', f[3] or ''}
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
return {'OK'}
