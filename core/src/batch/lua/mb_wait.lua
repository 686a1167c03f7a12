-- A running mailbox's job waits for something outside mailferry (a
-- provider's daily bandwidth quota, core/src/migrate/quota.c), or no
-- longer: what `batch status` shows as its waiting and until when.
-- Only while the mailbox runs; mb_set() drops it with the job.
-- KEYS: batch, mailbox.  ARGV: until (Unix s; 0: no longer waits), why.
local m = KEYS[2]
if not running(redis.call('HGET', m, 'state')) then return {'OK', 0} end
if ARGV[1] == '0' then
  redis.call('HDEL', m, 'wait_until', 'wait_why')
else
  redis.call('HSET', m, 'wait_until', ARGV[1], 'wait_why', ARGV[2])
end
return {'OK', 1}
