-- Takes mailboxes out of a batch (edit.c), all or none: their records,
-- item lists, verify results and checkpoints go; what was copied stays
-- on the target. KEYS: batch, mailboxes list, claims, changes list,
-- then KEYS_PER (below) keys per mailbox, its record first.
-- ARGV: the emails. A mailbox not in the batch: {'UNKNOWN', email}; one
-- a worker is copying: {'RUNNING', email, state}; every mailbox of the
-- batch: {'ALL'}. Replies {'OK', state after settling}.
local KEYS_PER = 8
local b, list, claims, changes = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local st = redis.call('HGET', b, 'state')
if not st then return {'NOTFOUND'} end
if st == 'Removing' then return {'STATE', st} end
if redis.call('HGET', b, 'enqueuing') then return {'STATE', st .. ' (a pass is being queued)'} end
for i = 1, #ARGV do
  local s = redis.call('HGET', KEYS[4 + (i - 1) * KEYS_PER + 1], 'state')
  if not s then return {'UNKNOWN', ARGV[i]} end
  if running(s) then return {'RUNNING', ARGV[i], s} end
end
local before = num(redis.call('HGET', b, 'n_mailboxes'))
if before - #ARGV < 1 then return {'ALL'} end
for i = 1, #ARGV do
  local base = 4 + (i - 1) * KEYS_PER
  local s = redis.call('HGET', KEYS[base + 1], 'state')
  redis.call('HINCRBY', b, 'n:' .. s, -1)
  redis.call('LREM', list, 0, ARGV[i])
  redis.call('ZREM', claims, ARGV[i])
  for k = 1, KEYS_PER do redis.call('DEL', KEYS[base + k]) end
end
local after = redis.call('HINCRBY', b, 'n_mailboxes', 0 - #ARGV)
redis.call('RPUSH', changes, math.floor(now_ms() / 1000) ..
  ' drop-mailboxes ' .. before .. ' ' .. after)
return {'OK', settle(b)}
