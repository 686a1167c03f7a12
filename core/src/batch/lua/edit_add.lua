-- Adds mailboxes to an existing batch (edit.c), all or none.
-- KEYS: batch, mailboxes list, changes list, mailbox keys...
-- ARGV: batch name, then 6 per mailbox: email, user, password, user_root,
-- target_user, target_password.
-- Refused while the batch is being queued, stopped, completed or
-- removed. A mailbox already in the batch refuses the whole call:
-- {'DUP', index, ...} (1-based, in KEYS order from the 4th key). In a
-- running or synced batch each new mailbox gets its full job at once
-- (a synced batch runs again: IncrementalSyncing); in a Created or
-- Stopped one it waits, Queued, for `batch start`. Replies {'OK', state,
-- then email, job, pass, attempt, kind per job to produce}.
local b, list, changes, name = KEYS[1], KEYS[2], KEYS[3], ARGV[1]
local st = redis.call('HGET', b, 'state')
if not st then return {'NOTFOUND'} end
if redis.call('HGET', b, 'enqueuing') then return {'STATE', st .. ' (a pass is being queued)'} end
local now_running = running(st) or st == 'Synced' or st == 'SyncedWithErrors'
if not now_running and st ~= 'Created' and st ~= 'Stopped' then
  return {'STATE', st}
end
local dups = {}
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then dups[#dups + 1] = i - 3 end
end
if #dups > 0 then
  table.insert(dups, 1, 'DUP')
  return dups
end
local before = num(redis.call('HGET', b, 'n_mailboxes'))
local to = st
if st == 'Synced' or st == 'SyncedWithErrors' then to = 'IncrementalSyncing' end
local bpass = redis.call('HGET', b, 'pass') or '0'
local out = {'OK', to}
for i = 4, #KEYS do
  local m, o = KEYS[i], (i - 4) * 6 + 1
  local e = ARGV[o + 1]
  redis.call('HSET', m, 'email', e, 'user', ARGV[o + 2],
    'password', ARGV[o + 3], 'user_root', ARGV[o + 4],
    'target_user', ARGV[o + 5], 'target_password', ARGV[o + 6],
    'pass', 0, 'attempt', 0, 'job', '', 'kind', '')
  mb_set(b, m, 'Queued')
  redis.call('RPUSH', list, e)
  if now_running then
    local job = name .. '/' .. e .. '/1/full'
    redis.call('HSET', m, 'job', job, 'pass', 1, 'attempt', 1, 'lost', 0,
      'released', 0, 'kind', 'full', 'bpass', bpass)
    out[#out + 1] = e; out[#out + 1] = job; out[#out + 1] = '1'
    out[#out + 1] = '1'; out[#out + 1] = 'full'
  end
end
local after = redis.call('HINCRBY', b, 'n_mailboxes', #KEYS - 3)
if to ~= st then
  redis.call('HSET', b, 'state', to, 'finished', 0, 'finished_ms', 0)
end
redis.call('RPUSH', changes, math.floor(now_ms() / 1000) ..
  ' add-mailboxes ' .. before .. ' ' .. after)
return out
