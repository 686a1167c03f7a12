-- KEYS: bucket. ARGV: bytes, rate (bytes/s), burst_ms. Reply: wait_ms.
-- A debt bucket: the take always happens, tokens may go negative, and
-- the caller waits until the debt would be paid off. Callers are thus
-- served in the order of their calls and every byte is counted once, so
-- the long-run rate is the configured one.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local bytes, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local burst_ms = tonumber(ARGV[3])
local cap = rate * burst_ms / 1000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(v[1]), tonumber(v[2])
if not tokens or not ts then tokens, ts = cap, now end
if now > ts then tokens = tokens + (now - ts) * rate / 1000000 end
if tokens > cap then tokens = cap end
tokens = tokens - bytes
redis.call('HSET', KEYS[1], 'tokens', string.format('%.3f', tokens),
           'ts', string.format('%d', math.max(now, ts)))
local wait_ms = 0
if tokens < 0 then wait_ms = math.ceil(-tokens * 1000 / rate) end
redis.call('PEXPIRE', KEYS[1], wait_ms + burst_ms + 60000)
return wait_ms
