-- Creates mailbox records (sent with EVAL inside MULTI by store.c).
-- KEYS: batch, mailboxes list, mailbox keys...  ARGV: 6 per mailbox:
-- email, user, password, user_root, target_user, target_password.
for i = 3, #KEYS do
  local o = (i - 3) * 6
  redis.call('HSET', KEYS[i], 'email', ARGV[o + 1], 'user', ARGV[o + 2],
    'password', ARGV[o + 3], 'user_root', ARGV[o + 4],
    'target_user', ARGV[o + 5], 'target_password', ARGV[o + 6],
    'state', 'Queued', 'pass', 0, 'attempt', 0, 'job', '', 'kind', '')
  redis.call('RPUSH', KEYS[2], ARGV[o + 1])
end
return #KEYS - 2
