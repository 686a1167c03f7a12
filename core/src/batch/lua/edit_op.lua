-- One operation on chosen mailboxes of a batch (edit.c).
-- KEYS: batch, mailbox keys...  ARGV: op, batch name, the emails.
-- op: 'stop' (Queued -> Stopped now; a running one is asked to stop:
-- renew.lua answers its worker "stop"), 'reissue' (a Queued mailbox's
-- job again as its next attempt, so the job built now replaces the
-- one already on Kafka), or a new job for the mailboxes the op picks:
-- 'sync' (any not running, not Completed, without a job waiting),
-- 'start' (Stopped, Failed, or Queued without a job), 'retry' (Failed),
-- 'retry-auth' (Failed with AUTH). A new job makes a settled batch run
-- again: Synced* -> IncrementalSyncing, Stopped -> the state it was
-- stopped in, CompletedWithErrors -> Completing (a final job).
-- Replies {'OK', batch state, then per mailbox: email, outcome, state,
-- job, pass, attempt, kind} with outcome 'queued', 'reissued',
-- 'stopped', 'stopping', 'skipped' or 'unknown' (job fields '' unless
-- there is a job to produce).
local b, op, name = KEYS[1], ARGV[1], ARGV[2]
local st = redis.call('HGET', b, 'state')
if not st then return {'NOTFOUND'} end
if redis.call('HGET', b, 'enqueuing') then return {'STATE', st .. ' (a pass is being queued)'} end
local jobs = op ~= 'stop' and op ~= 'reissue'
local to = st
if st == 'Removing' then return {'STATE', st} end
if jobs then
  if st == 'Synced' or st == 'SyncedWithErrors' then to = 'IncrementalSyncing'
  elseif st == 'Stopped' then to = redis.call('HGET', b, 'stopped_from') or 'Syncing'
  elseif st == 'CompletedWithErrors' then to = 'Completing'
  elseif not running(st) and st ~= 'Completing' then return {'STATE', st} end
end
local bpass = redis.call('HGET', b, 'pass') or '0'
local out = {'OK', st}
local picked = 0
for i = 2, #KEYS do
  local m, e = KEYS[i], ARGV[i + 1]
  local f = redis.call('HMGET', m, 'state', 'job', 'synced_once',
                       'error_name', 'pass', 'attempt', 'kind')
  local s, word, j = f[1], 'skipped', {'', '', '', ''}
  local waiting = s == 'Queued' and f[2] and f[2] ~= ''
  if not s then word, s = 'unknown', ''
  elseif op == 'stop' then
    if s == 'Queued' then mb_set(b, m, 'Stopped'); word = 'stopped'
    elseif running(s) then
      redis.call('HSET', m, 'stop_job', f[2]); word = 'stopping'
    end
  elseif op == 'reissue' then
    if waiting then
      local a = redis.call('HINCRBY', m, 'attempt', 1)
      word, j = 'reissued', {f[2], f[5], tostring(a), f[7]}
    end
  else
    local pick
    if op == 'sync' then
      pick = not running(s) and s ~= 'Completed' and not waiting
    elseif op == 'start' then
      pick = s == 'Stopped' or s == 'Failed' or (s == 'Queued' and not waiting)
    elseif op == 'retry' then pick = s == 'Failed'
    elseif op == 'retry-auth' then pick = s == 'Failed' and f[4] == 'AUTH'
    end
    if pick then
      local kind = 'full'
      if to == 'Completing' then kind = 'final'
      elseif f[3] == '1' then kind = 'incremental' end
      local p = redis.call('HINCRBY', m, 'pass', 1)
      local job = name .. '/' .. e .. '/' .. p .. '/' .. kind
      redis.call('HSET', m, 'job', job, 'attempt', 1, 'lost', 0,
        'released', 0, 'kind', kind, 'bpass', bpass, 'claim_worker', '',
        'claim_expiry', 0, 'stop_job', '')
      mb_set(b, m, 'Queued')
      word, j, picked = 'queued', {job, tostring(p), '1', kind}, picked + 1
    end
  end
  out[#out + 1] = e; out[#out + 1] = word; out[#out + 1] = s
  for k = 1, 4 do out[#out + 1] = j[k] end
end
if picked > 0 and to ~= st then
  redis.call('HSET', b, 'state', to, 'finished', 0,
    'finished_ms', 0)
end
out[2] = settle(b)
return out
