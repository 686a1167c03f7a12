-- New logins and passwords for mailboxes of a batch (edit.c), all or
-- none. KEYS: batch, changes list, mailbox keys...  ARGV: 5 per mailbox:
-- user, password, user_root, target_user, target_password (sealed blobs
-- as create stores them). A mailbox not in the batch refuses the whole
-- call: {'UNKNOWN', index, ...} (1-based from the 3rd key).
local b = KEYS[1]
local st = redis.call('HGET', b, 'state')
if not st then return {'NOTFOUND'} end
if st == 'Removing' then return {'STATE', st} end
local unknown = {}
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then unknown[#unknown + 1] = i - 2 end
end
if #unknown > 0 then
  table.insert(unknown, 1, 'UNKNOWN')
  return unknown
end
for i = 3, #KEYS do
  local o = (i - 3) * 5
  redis.call('HSET', KEYS[i], 'user', ARGV[o + 1], 'password', ARGV[o + 2],
    'user_root', ARGV[o + 3], 'target_user', ARGV[o + 4],
    'target_password', ARGV[o + 5])
end
redis.call('RPUSH', KEYS[2], math.floor(now_ms() / 1000) ..
  ' update-mailboxes - ' .. (#KEYS - 2))
return {'OK', st}
