-- Claims (job, attempt) of a mailbox for a worker (see jobs.c).
-- KEYS: batch, mailbox, claims.
-- ARGV: job, attempt, worker, ttl, email, token.
-- The token is unique per claim attempt and the same when the caller
-- retries it (after a lost reply): a claim by this worker with this
-- token, job and attempt is the caller's own, and it gets the answer it
-- missed instead of CLAIMED (its claim extended if it has expired and
-- nobody has requeued or released it yet). An empty token never matches.
local b, m, c = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', m) == 0 then return {'NOTFOUND'} end
local f = redis.call('HMGET', m, 'state', 'job', 'attempt',
  'claim_worker', 'claim_expiry', 'kind', 'synced_once', 'first_sync',
  'claim_token', 'released')
local now = now_ms()
local token = ARGV[6] or ''
if token ~= '' and f[9] == token and f[4] == ARGV[3] and
   f[2] == ARGV[1] and f[3] == ARGV[2] and running(f[1]) and
   f[10] ~= '1' then
  local exp = num(f[5])
  if exp <= now then
    exp = now + tonumber(ARGV[4])
    redis.call('HSET', m, 'claim_expiry', exp)
    redis.call('ZADD', c, exp, ARGV[5])
  end
  return {'OK', exp, 0}
end
if f[4] and f[4] ~= '' and num(f[5]) > now then
  return {'CLAIMED', f[4]}
end
if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] then
  return {'STALE', f[2] or '', f[3] or ''}
end
if f[1] ~= 'Queued' then return {'STATE', f[1] or ''} end
local bst = redis.call('HGET', b, 'state')
if not running(bst) and bst ~= 'Completing' then
  return {'BATCH', bst or ''}
end
local to = 'Syncing'
if f[6] ~= 'full' and f[7] == '1' then to = 'IncrementalSyncing' end
local exp = now + tonumber(ARGV[4])
fold_progress(m)
mb_set(b, m, to)
redis.call('HSET', m, 'claim_worker', ARGV[3], 'claim_expiry', exp,
  'claim_token', token, 'worker', ARGV[3], 'released', 0)
set_times(m, now, 'last_sync')
if num(f[8]) == 0 then set_times(m, now, 'first_sync') end
redis.call('HINCRBY', m, 'attempts_total', 1)
redis.call('ZADD', c, exp, ARGV[5])
return {'OK', exp, 0}
