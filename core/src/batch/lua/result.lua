-- KEYS: batch, mailbox, claims, results, samples, skipped, failed.
-- ARGV: 1 job, 2 attempt, 3 worker, 4 outcome, 5 email, 6 error code,
-- 7 error name, 8 error detail, 9-28 the 20 stats below (results.c,
-- add_stats(), in this order), then (from n = 8 + #stats) n+1 skipped
-- total, n+2 failed total, n+3 skipped listed, n+4 failed listed, items.
local b, m = KEYS[1], KEYS[2]
if redis.call('SADD', KEYS[4], ARGV[1] .. '#' .. ARGV[2]) == 0 then
  return {'DUP'}
end
local f = redis.call('HMGET', m, 'state', 'job', 'attempt', 'kind',
  'messages_source', 'p_messages', 'p_bytes', 'pass')
if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] or not running(f[1]) then
  return {'STALE', f[1] or ''}
end
local stats = {'folders_copied', 'folders_excluded', 'folders_created',
  'folders_renamed', 'messages_source', 'bytes_source',
  'messages_copied', 'bytes_copied', 'messages_present',
  'skipped_too_large', 'skipped_vanished', 'skipped_excluded',
  'failed', 'flags_updated', 'uidvalidity_changes', 'seconds',
  'outside_window', 'bytes_outside_window', 'deleted_on_target',
  'moved_on_target'}
local acc = {messages_copied = 1, bytes_copied = 1,
  messages_present = 1, flags_updated = 1, deleted_on_target = 1,
  moved_on_target = 1, uidvalidity_changes = 1}
local n = 8 + #stats
local outcome = ARGV[4]
local replace = outcome == 'synced' or outcome == 'incomplete' or
  num(f[5]) == 0
redis.call('HINCRBY', b, 't_messages', num(ARGV[15]) - num(f[6]))
redis.call('HINCRBY', b, 't_bytes', num(ARGV[16]) - num(f[7]))
redis.call('HSET', m, 'p_key', '', 'p_messages', 0, 'p_bytes', 0)
for i, name in ipairs(stats) do
  local v = ARGV[8 + i]
  if name == 'seconds' then
    redis.call('HINCRBYFLOAT', m, name, v)
  elseif acc[name] then redis.call('HINCRBY', m, name, v)
  elseif replace then redis.call('HSET', m, name, v) end
end
if replace then
  local ns, nf = num(ARGV[n + 3]), num(ARGV[n + 4])
  redis.call('DEL', KEYS[6], KEYS[7])
  for i = 1, ns do redis.call('RPUSH', KEYS[6], ARGV[n + 4 + i]) end
  for i = 1, nf do redis.call('RPUSH', KEYS[7], ARGV[n + 4 + ns + i]) end
  redis.call('HSET', m, 'skipped_unlisted', num(ARGV[n + 1]) - ns,
             'failed_unlisted', num(ARGV[n + 2]) - nf)
end
if num(ARGV[6]) ~= 0 then
  redis.call('HSET', m, 'error_code', ARGV[6], 'error_name', ARGV[7],
             'error_detail', ARGV[8])
elseif outcome == 'synced' then
  redis.call('HSET', m, 'error_code', 0, 'error_name', '',
             'error_detail', '')
end
redis.call('ZREM', KEYS[3], ARGV[5])
redis.call('HSET', m, 'claim_worker', '', 'claim_expiry', 0, 'worker',
  ARGV[3])
set_times(m, now_ms(), 'finished')
local to, ret = 'Failed', {'OK', f[2], f[3], f[8], f[4]}
if outcome == 'synced' then
  if f[4] == 'final' then to = 'Completed' else to = 'Synced' end
  redis.call('HSET', m, 'synced_once', 1)
elseif outcome == 'incomplete' then
  redis.call('HSET', m, 'synced_once', 1)
elseif outcome == 'stopped' then to = 'Stopped'
elseif outcome == 'retry' then
  local bst = redis.call('HGET', b, 'state')
  if bst == 'Stopping' or bst == 'Stopped' then to = 'Stopped'
  else
    local lost = redis.call('HINCRBY', m, 'lost', 1)
    local maxa = num(redis.call('HGET', b, 'max_attempts'))
    if maxa < 1 then maxa = 3 end
    if lost >= maxa then ret[1] = 'DEAD'
    else
      to = 'Queued'
      ret = {'REQUEUE', f[2],
             tostring(redis.call('HINCRBY', m, 'attempt', 1)),
             f[8], f[4]}
    end
  end
end
mb_set(b, m, to)
sample(b, KEYS[5])
ret[6] = settle(b)
return ret
