/*
 * The Lua scripts of the caps module and the runner that calls them by
 * SHA-1 (EVALSHA) and falls back to EVAL when Redis has not seen them
 * (first use, or after a restart emptied its script cache).
 *
 * Both scripts read the time with redis.call('TIME'), never from the
 * worker, so the fleet agrees on when a lease expires whatever the hosts'
 * clocks say. See lease.c for the design of the lease script.
 */
#include "caps/caps_int.h"

#include "mailferry/util.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS: q, qexp, qinfo, qseq, cap1..capN
 * ARGV: op, member, ttl_ms, waiter_id, (unused), waiter_ttl_ms,
 *       wake_prefix, limit1..limitN
 * Replies:
 *   acquire  {1, expiry_ms, now_ms} | {0, full_cap_index, ticket}
 *   renew    {1, expiry_ms, now_ms} | {0, lost_cap_index}
 *   release  {entries_removed}
 *   cancel   {was_queued}
 *   usage    {live in cap1, live in cap2, waiters}  (KEYS: 4 + 2 caps) */
static const char lease_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local op = ARGV[1]\n"
    "local Q, QEXP, QINFO, QSEQ = KEYS[1], KEYS[2], KEYS[3], KEYS[4]\n"
    "local WTTL, WAKE = tonumber(ARGV[6]), ARGV[7]\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local freed = false\n"
    "local cards = {}\n"
    /* Live holders of a cap; expired ones are dropped on first look. */
    "local function card(key)\n"
    "  local c = cards[key]\n"
    "  if c == nil then\n"
    "    if redis.call('ZREMRANGEBYSCORE', key, '-inf', now) > 0 then\n"
    "      freed = true\n"
    "    end\n"
    "    c = redis.call('ZCARD', key)\n"
    "    cards[key] = c\n"
    "  end\n"
    "  return c\n"
    "end\n"
    "local function keep(key, ms)\n"
    "  if redis.call('PTTL', key) < ms then\n"
    "    redis.call('PEXPIRE', key, ms)\n"
    "  end\n"
    "end\n"
    "local function parse(spec)\n"
    "  local caps = {}\n"
    "  for key, lim in string.gmatch(spec, '([^\\t\\n]+)\\t(%d+)\\n') do\n"
    "    caps[#caps + 1] = {key, tonumber(lim)}\n"
    "  end\n"
    "  return caps\n"
    "end\n"
    /* Index of the first cap without room once earlier waiters have had
     * theirs, or 0. */
    "local function blocked(caps, reserved)\n"
    "  for i, c in ipairs(caps) do\n"
    "    if c[2] > 0 and card(c[1]) + (reserved[c[1]] or 0) >= c[2] then\n"
    "      return i\n"
    "    end\n"
    "  end\n"
    "  return 0\n"
    "end\n"
    "local function reserve(caps, reserved)\n"
    "  for _, c in ipairs(caps) do\n"
    "    reserved[c[1]] = (reserved[c[1]] or 0) + 1\n"
    "  end\n"
    "end\n"
    "local function purge_queue()\n"
    "  local gone = redis.call('ZRANGEBYSCORE', QEXP, '-inf', now)\n"
    "  for _, id in ipairs(gone) do\n"
    "    redis.call('ZREM', Q, id)\n"
    "    redis.call('HDEL', QINFO, id)\n"
    "    redis.call('DEL', WAKE .. id)\n"
    "  end\n"
    "  if #gone > 0 then\n"
    "    redis.call('ZREMRANGEBYSCORE', QEXP, '-inf', now)\n"
    "  end\n"
    "  return #gone\n"
    "end\n"
    /* Pushes a wake-up to every queued waiter that could now go ahead. */
    "local function wake()\n"
    "  local reserved = {}\n"
    "  for _, id in ipairs(redis.call('ZRANGE', Q, 0, -1)) do\n"
    "    local spec = redis.call('HGET', QINFO, id)\n"
    "    if spec then\n"
    "      local caps = parse(spec)\n"
    "      if blocked(caps, reserved) == 0 then\n"
    "        local wk = WAKE .. id\n"
    "        if redis.call('LLEN', wk) == 0 then\n"
    "          redis.call('RPUSH', wk, '1')\n"
    "          redis.call('PEXPIRE', wk, WTTL)\n"
    "        end\n"
    "      end\n"
    "      reserve(caps, reserved)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local mine = {}\n"
    "for i = 5, #KEYS do\n"
    "  mine[#mine + 1] = {KEYS[i], tonumber(ARGV[i + 3])}\n"
    "end\n"
    "if op == 'acquire' then\n"
    "  local member, ttl, wid = ARGV[2], tonumber(ARGV[3]), ARGV[4]\n"
    "  local purged = purge_queue()\n"
    "  local ticket = redis.call('ZSCORE', Q, wid)\n"
    "  local ahead\n"
    "  if ticket then\n"
    "    ahead = redis.call('ZRANGEBYSCORE', Q, '-inf', '(' .. ticket)\n"
    "  else\n"
    "    ahead = redis.call('ZRANGE', Q, 0, -1)\n"
    "  end\n"
    "  local reserved = {}\n"
    "  for _, id in ipairs(ahead) do\n"
    "    local spec = redis.call('HGET', QINFO, id)\n"
    "    if spec then reserve(parse(spec), reserved) end\n"
    "  end\n"
    "  local b = blocked(mine, reserved)\n"
    "  if b == 0 then\n"
    "    local exp = now + ttl\n"
    "    for _, c in ipairs(mine) do\n"
    "      redis.call('ZADD', c[1], exp, member)\n"
    "      keep(c[1], 2 * ttl + 1000)\n"
    "    end\n"
    "    if ticket then\n"
    "      redis.call('ZREM', Q, wid)\n"
    "      redis.call('ZREM', QEXP, wid)\n"
    "      redis.call('HDEL', QINFO, wid)\n"
    "    end\n"
    "    redis.call('DEL', WAKE .. wid)\n"
    "    if purged > 0 or freed then wake() end\n"
    "    return {1, exp, now}\n"
    "  end\n"
    "  if not ticket then\n"
    "    ticket = redis.call('INCR', QSEQ)\n"
    "    redis.call('ZADD', Q, ticket, wid)\n"
    "    local spec = ''\n"
    "    for _, c in ipairs(mine) do\n"
    "      spec = spec .. c[1] .. '\\t' .. c[2] .. '\\n'\n"
    "    end\n"
    "    redis.call('HSET', QINFO, wid, spec)\n"
    "  end\n"
    "  redis.call('ZADD', QEXP, now + WTTL, wid)\n"
    "  keep(Q, 2 * WTTL)\n"
    "  keep(QEXP, 2 * WTTL)\n"
    "  keep(QINFO, 2 * WTTL)\n"
    "  if purged > 0 or freed then wake() end\n"
    "  return {0, b, tonumber(ticket)}\n"
    "elseif op == 'renew' then\n"
    "  local member, ttl = ARGV[2], tonumber(ARGV[3])\n"
    "  for i, c in ipairs(mine) do\n"
    "    local s = redis.call('ZSCORE', c[1], member)\n"
    "    if not s or tonumber(s) <= now then\n"
    "      for _, d in ipairs(mine) do\n"
    "        redis.call('ZREM', d[1], member)\n"
    "      end\n"
    "      purge_queue()\n"
    "      wake()\n"
    "      return {0, i}\n"
    "    end\n"
    "  end\n"
    "  local exp = now + ttl\n"
    "  for _, c in ipairs(mine) do\n"
    "    redis.call('ZADD', c[1], 'XX', exp, member)\n"
    "    keep(c[1], 2 * ttl + 1000)\n"
    "  end\n"
    "  return {1, exp, now}\n"
    "elseif op == 'release' then\n"
    "  local n = 0\n"
    "  for _, c in ipairs(mine) do\n"
    "    n = n + redis.call('ZREM', c[1], ARGV[2])\n"
    "  end\n"
    "  purge_queue()\n"
    "  wake()\n"
    "  return {n}\n"
    "elseif op == 'cancel' then\n"
    "  local wid = ARGV[4]\n"
    "  local n = redis.call('ZREM', Q, wid)\n"
    "  redis.call('ZREM', QEXP, wid)\n"
    "  redis.call('HDEL', QINFO, wid)\n"
    "  redis.call('DEL', WAKE .. wid)\n"
    "  purge_queue()\n"
    "  if n > 0 then wake() end\n"
    "  return {n}\n"
    "elseif op == 'usage' then\n"
    "  purge_queue()\n"
    "  return {card(KEYS[5]), card(KEYS[6]), redis.call('ZCARD', Q)}\n"
    "end\n"
    "return redis.error_reply('caps: unknown op ' .. tostring(op))\n";

/* KEYS: bucket. ARGV: bytes, rate (bytes/s), burst_ms. Reply: wait_ms.
 * A debt bucket: the take always happens, tokens may go negative, and
 * the caller waits until the debt would be paid off. Callers are thus
 * served in the order of their calls and every byte is counted once, so
 * the long-run rate is the configured one. */
static const char bw_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local bytes, rate = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local burst_ms = tonumber(ARGV[3])\n"
    "local cap = rate * burst_ms / 1000\n"
    "local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "local tokens, ts = tonumber(v[1]), tonumber(v[2])\n"
    "if not tokens or not ts then tokens, ts = cap, now end\n"
    "if now > ts then tokens = tokens + (now - ts) * rate / 1000000 end\n"
    "if tokens > cap then tokens = cap end\n"
    "tokens = tokens - bytes\n"
    "redis.call('HSET', KEYS[1], 'tokens', string.format('%.3f', tokens),\n"
    "           'ts', string.format('%d', math.max(now, ts)))\n"
    "local wait_ms = 0\n"
    "if tokens < 0 then wait_ms = math.ceil(-tokens * 1000 / rate) end\n"
    "redis.call('PEXPIRE', KEYS[1], wait_ms + burst_ms + 60000)\n"
    "return wait_ms\n";

struct mf__caps_script mf__caps_lease_script = {.text = lease_lua};
struct mf__caps_script mf__caps_bw_script = {.text = bw_lua};

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void
sha_one(struct mf__caps_script *s) {
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA_DIGEST_LENGTH];

    SHA1((const unsigned char *)s->text, strlen(s->text), md);
    for (size_t i = 0; i < sizeof(md); i++) {
        s->sha[2 * i] = hex[md[i] >> 4];
        s->sha[2 * i + 1] = hex[md[i] & 15];
    }
    s->sha[40] = '\0';
}

static void
sha_all(void) {
    sha_one(&mf__caps_lease_script);
    sha_one(&mf__caps_bw_script);
}

#define MAX_ARGV 32

static mf_err
run_once(struct mf_redis *r, struct mf__caps_script *s, int nkeys,
         const char **keys, int nargs, const char **args, redisReply **reply_r,
         struct mf_error *err) {
    const char *argv[MAX_ARGV];
    size_t argvlen[MAX_ARGV];
    char nk[16];
    int argc = 0;
    mf_err rc;

    MF_ASSERT(3 + nkeys + nargs <= MAX_ARGV);
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[argc++] = "EVALSHA";
    argv[argc++] = s->sha;
    argv[argc++] = nk;
    for (int i = 0; i < nkeys; i++)
        argv[argc++] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[argc++] = args[i];
    for (int i = 0; i < argc; i++)
        argvlen[i] = strlen(argv[i]);
    rc = mf_redis_command_argv(r, argc, argv, argvlen, reply_r, err);
    if (rc != MF_E_REDIS || !strstr(err->detail, "NOSCRIPT"))
        return rc;
    /* EVAL both runs the script and caches it for the next EVALSHA. */
    argv[0] = "EVAL";
    argv[1] = s->text;
    argvlen[0] = 4;
    argvlen[1] = strlen(s->text);
    return mf_redis_command_argv(r, argc, argv, argvlen, reply_r, err);
}

mf_err
mf__caps_transient(mf_err rc, struct mf_error *err) {
    static const char *const words[] = {"LOADING", "BUSY", "MASTERDOWN",
                                        "TRYAGAIN", "CLUSTERDOWN"};
    const char *p;

    if (rc != MF_E_REDIS)
        return rc;
    /* The detail reads "<command>: <Redis error text>". */
    p = strstr(err->detail, ": ");
    p = p ? p + 2 : err->detail;
    for (size_t i = 0; i < MF_ARRAY_LEN(words); i++) {
        size_t n = strlen(words[i]);
        if (strncmp(p, words[i], n) == 0 && (p[n] == ' ' || p[n] == '\0')) {
            err->code = MF_E_REDIS_UNAVAILABLE;
            return MF_E_REDIS_UNAVAILABLE;
        }
    }
    return rc;
}

mf_err
mf__caps_script_run(struct mf_redis *r, struct mf__caps_script *s, int nkeys,
                    const char **keys, int nargs, const char **args,
                    redisReply **reply_r, struct mf_error *err) {
    mf_err rc;

    pthread_once(&sha_once, sha_all);
    rc = run_once(r, s, nkeys, keys, nargs, args, reply_r, err);
    /* The client reports a broken connection once and reconnects on the
     * next command; a restarted Redis is thus reached on the retry. */
    if (rc == MF_E_REDIS_UNAVAILABLE)
        rc = run_once(r, s, nkeys, keys, nargs, args, reply_r, err);
    return mf__caps_transient(rc, err);
}
