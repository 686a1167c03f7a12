-- Claims of verify jobs (batch/verify.c): a lease of its own per mailbox,
-- apart from the mailbox's migration claim, so that a verify never
-- changes the mailbox's job, attempt or state.
-- KEYS: mailbox record, verify claim (HASH job, attempt, worker, token).
-- ARGV: op (claim|renew|release), job, attempt, worker, ttl, token.
-- claim: the caller's own claim (same token) is extended; another live
-- verify claim is CLAIMED; a live migration claim of the mailbox is BUSY
-- (a verify beside a running copy would report its half-done state).
-- renew: LOST when the claim is not the caller's any more. release: gives
-- the claim up when it is still the caller's.
local m, v = KEYS[1], KEYS[2]
local op, ttl = ARGV[1], tonumber(ARGV[5])
if redis.call('EXISTS', m) == 0 then return {'NOTFOUND'} end
local f = redis.call('HMGET', v, 'job', 'attempt', 'worker', 'token')
local mine = f[1] == ARGV[2] and f[2] == ARGV[3] and f[3] == ARGV[4]
local now = now_ms()
if op == 'renew' then
  if not mine then return {'LOST', '', f[3] or ''} end
  redis.call('PEXPIRE', v, ttl)
  return {'OK', now + ttl, 0}
elseif op == 'release' then
  if mine then redis.call('DEL', v) end
  return {'OK', 1}
end
if mine and ARGV[6] ~= '' and f[4] == ARGV[6] then
  redis.call('PEXPIRE', v, ttl)
  return {'OK', now + ttl, 0}
end
if f[3] then return {'CLAIMED', f[3]} end
local c = redis.call('HMGET', m, 'claim_worker', 'claim_expiry')
if c[1] and c[1] ~= '' and num(c[2]) > now then
  return {'BUSY', c[1]}
end
redis.call('HSET', v, 'job', ARGV[2], 'attempt', ARGV[3], 'worker', ARGV[4],
  'token', ARGV[6])
redis.call('PEXPIRE', v, ttl)
return {'OK', now + ttl, 0}
