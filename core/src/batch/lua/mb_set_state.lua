-- Moves a mailbox to ARGV[1] if it is in one of the allowed states.
-- KEYS: batch, mailbox.  ARGV: to, allowed from states...
local cur = redis.call('HGET', KEYS[2], 'state')
if not cur then return {'NOTFOUND'} end
for i = 2, #ARGV do
  if ARGV[i] == cur then
    mb_set(KEYS[1], KEYS[2], ARGV[1])
    return {'OK', cur, settle(KEYS[1])}
  end
end
return {'STATE', cur}
