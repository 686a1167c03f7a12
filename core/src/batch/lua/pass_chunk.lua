-- KEYS: batch, mailbox keys...  ARGV: op, batch pass, batch name.
-- op "stop": Queued -> Stopped. Otherwise each mailbox the op picks gets
-- a new job; replies "OK" then 5 fields per Queued mailbox of this pass:
-- email, job, pass, attempt, kind.
local b, op, bpass = KEYS[1], ARGV[1], ARGV[2]
local st = redis.call('HGET', b, 'state')
if op == 'stop' then
  if st ~= 'Stopping' and st ~= 'Stopped' then
    return {'STATE', st or ''}
  end
  for i = 2, #KEYS do
    if redis.call('HGET', KEYS[i], 'state') == 'Queued' then
      mb_set(b, KEYS[i], 'Stopped')
    end
  end
  return {'OK'}
end
if redis.call('HGET', b, 'enqueuing') ~= op then
  return {'STATE', st or ''}
end
local out = {'OK'}
local function emit(e, j, p, a, k)
  out[#out + 1] = e; out[#out + 1] = j; out[#out + 1] = p
  out[#out + 1] = a; out[#out + 1] = k
end
for i = 2, #KEYS do
  local m = KEYS[i]
  local f = redis.call('HMGET', m, 'state', 'bpass', 'synced_once',
                       'email', 'job', 'pass', 'attempt', 'kind')
  local s = f[1]
  if f[2] == bpass then
    if s == 'Queued' then emit(f[4], f[5], f[6], f[7], f[8]) end
  elseif s and not running(s) then
    local pick
    if op == 'start' then
      pick = s == 'Queued' or s == 'Stopped' or s == 'Failed'
    else pick = s ~= 'Completed' end
    if pick then
      local kind = 'full'
      if st == 'Completing' then kind = 'final'
      elseif f[3] == '1' then kind = 'incremental' end
      local p = redis.call('HINCRBY', m, 'pass', 1)
      local job = ARGV[3] .. '/' .. f[4] .. '/' .. p .. '/' .. kind
      redis.call('HSET', m, 'job', job, 'attempt', 1, 'lost', 0,
        'released', 0, 'kind', kind, 'bpass', bpass,
        'claim_worker', '', 'claim_expiry', 0)
      mb_set(b, m, 'Queued')
      emit(f[4], job, tostring(p), '1', kind)
    end
  end
end
return out
