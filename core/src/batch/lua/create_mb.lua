-- Creates mailbox records (sent by create.c, a chunk of rows per call,
-- before the batch hash exists).
-- KEYS: batch, mailboxes list, mailbox keys...  ARGV: 6 per mailbox:
-- email, user, password, user_root, target_user, target_password.
-- A record that exists already is an address twice in the batch: the
-- chunk stops there with {'DUPLICATE', email} (the caller removes what
-- the create wrote). Otherwise {'OK', rows written}.
for i = 3, #KEYS do
  local o = (i - 3) * 6
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return {'DUPLICATE', ARGV[o + 1]}
  end
  redis.call('HSET', KEYS[i], 'email', ARGV[o + 1], 'user', ARGV[o + 2],
    'password', ARGV[o + 3], 'user_root', ARGV[o + 4],
    'target_user', ARGV[o + 5], 'target_password', ARGV[o + 6],
    'state', 'Queued', 'pass', 0, 'attempt', 0, 'job', '', 'kind', '')
  redis.call('RPUSH', KEYS[2], ARGV[o + 1])
end
return {'OK', #KEYS - 2}
