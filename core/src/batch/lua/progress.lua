-- KEYS: batch, mailbox, samples.  ARGV: job, attempt, seq, messages_total,
-- messages_done, bytes_done, folders_total, folders_done, bytes_total,
-- and the caps now: source and target connections held, what it waits
-- for ('' nothing, 'source', 'target', 'mailbox'), the cap found full,
-- for how long (ms).
local b, m = KEYS[1], KEYS[2]
local f = redis.call('HMGET', m, 'state', 'job', 'attempt', 'p_key',
                     'p_seq', 'p_messages', 'p_bytes')
if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] or not running(f[1]) then
  return {'OK', 0}
end
local pk = ARGV[1] .. '#' .. ARGV[2]
if f[4] == pk and tonumber(ARGV[3]) <= num(f[5]) then
  return {'OK', 0}
end
redis.call('HINCRBY', b, 't_messages', tonumber(ARGV[5]) - num(f[6]))
redis.call('HINCRBY', b, 't_bytes', tonumber(ARGV[6]) - num(f[7]))
redis.call('HSET', m, 'p_key', pk, 'p_seq', ARGV[3], 'p_total',
  ARGV[4], 'p_messages', ARGV[5], 'p_bytes', ARGV[6], 'p_ftotal',
  ARGV[7], 'p_fdone', ARGV[8], 'p_btotal', ARGV[9], 'p_shold', ARGV[10],
  'p_thold', ARGV[11], 'p_wait', ARGV[12], 'p_wcap', ARGV[13], 'p_wms',
  ARGV[14])
sample(b, KEYS[3])
return {'OK', 1}
