/*
 * The Lua scripts of the batch module and the runner that calls them by
 * SHA-1 (EVALSHA), falling back to EVAL when Redis has not seen a script
 * (first use, or a restart emptied the script cache).
 *
 * Every script starts with a common prelude:
 *   now_ms()      Redis TIME in ms: the fleet agrees on lease expiry
 *                 whatever the hosts' clocks say;
 *   mb_set()      sets a mailbox's state and keeps the per-state counts
 *                 ("n:<State>") in the batch hash, so list, settle and
 *                 status are O(1) in the number of mailboxes;
 *   settle()      the derived batch state (mf_batch_derive_state() in
 *                 state.c is the same rule in C);
 *   drop_progress() takes a job attempt's live progress back out of the
 *                 batch totals behind the throughput chart;
 *   sample()      appends a throughput sample (one per second at most;
 *                 thinned to half when MF_BATCH_SAMPLES_MAX is reached).
 *
 * A script answers an array whose first element is a status word ("OK",
 * "STATE", "CLAIMED", ...) that the C side turns into an mf_err with a
 * clear detail. Mailbox keys a script builds itself (expired claims) are
 * in the batch's hash tag, hence in the slot of its declared keys.
 */
#include "batch/batch_int.h"

#include "mailferry/util.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR2(x) #x
#define STR(x) STR2(x)

static const char prelude[] = "local SAMPLES_MAX = " STR(
    MF_BATCH_SAMPLES_MAX) "\n"
                          "local function now_ms()\n"
                          "  local t = redis.call('TIME')\n"
                          "  return tonumber(t[1]) * 1000 + "
                          "math.floor(tonumber(t[2]) / 1000)\n"
                          "end\n"
                          "local function num(v) return tonumber(v) or 0 end\n"
                          "local function running(s)\n"
                          "  return s == 'Syncing' or s == "
                          "'IncrementalSyncing'\n"
                          "end\n"
                          "local function mb_set(b, m, to)\n"
                          "  local from = redis.call('HGET', m, 'state')\n"
                          "  if from ~= to then\n"
                          "    redis.call('HSET', m, 'state', to)\n"
                          "    if from then redis.call('HINCRBY', b, 'n:' .. "
                          "from, -1) end\n"
                          "    redis.call('HINCRBY', b, 'n:' .. to, 1)\n"
                          "  end\n"
                          "end\n"
                          "local function settle(b)\n"
                          "  local st = redis.call('HGET', b, 'state')\n"
                          "  if not st then return '' end\n"
                          "  if redis.call('HGET', b, 'enqueuing') then return "
                          "st end\n"
                          "  local function n(s) return num(redis.call('HGET', "
                          "b, 'n:' .. s)) end\n"
                          "  if n('Queued') + n('Syncing') + "
                          "n('IncrementalSyncing') > 0 then\n"
                          "    return st\n"
                          "  end\n"
                          "  local total = num(redis.call('HGET', b, "
                          "'n_mailboxes'))\n"
                          "  local to = st\n"
                          "  if st == 'Syncing' or st == 'IncrementalSyncing' "
                          "then\n"
                          "    if n('Synced') + n('Completed') == total then "
                          "to = 'Synced'\n"
                          "    else to = 'SyncedWithErrors' end\n"
                          "  elseif st == 'Completing' then\n"
                          "    if n('Completed') == total then to = "
                          "'Completed'\n"
                          "    else to = 'CompletedWithErrors' end\n"
                          "  elseif st == 'Stopping' then to = 'Stopped' end\n"
                          "  if to ~= st then\n"
                          "    redis.call('HSET', b, 'state', to)\n"
                          "    if to ~= 'Stopped' then\n"
                          "      local t = math.floor(now_ms() / 1000)\n"
                          "      redis.call('HSET', b, 'finished', t, "
                          "'last_pass_finished', t)\n"
                          "    end\n"
                          "  end\n"
                          "  return to\n"
                          "end\n"
                          "local function drop_progress(b, m)\n"
                          "  local p = redis.call('HMGET', m, 'p_messages', "
                          "'p_bytes')\n"
                          "  redis.call('HINCRBY', b, 't_messages', 0 - "
                          "num(p[1]))\n"
                          "  redis.call('HINCRBY', b, 't_bytes', 0 - "
                          "num(p[2]))\n"
                          "  redis.call('HSET', m, 'p_key', '', 'p_seq', 0, "
                          "'p_messages', 0,\n"
                          "             'p_bytes', 0)\n"
                          "end\n"
                          "local function sample(b, s)\n"
                          "  local t = math.floor(now_ms() / 1000)\n"
                          "  local v = t .. ' ' .. num(redis.call('HGET', b, "
                          "'t_messages')) ..\n"
                          "            ' ' .. num(redis.call('HGET', b, "
                          "'t_bytes'))\n"
                          "  local last = redis.call('LINDEX', s, -1)\n"
                          "  if last and string.match(last, '^(%d+)') == "
                          "tostring(t) then\n"
                          "    redis.call('LSET', s, -1, v)\n"
                          "    return\n"
                          "  end\n"
                          "  redis.call('RPUSH', s, v)\n"
                          "  if redis.call('LLEN', s) > SAMPLES_MAX then\n"
                          "    local all = redis.call('LRANGE', s, 0, -1)\n"
                          "    redis.call('DEL', s)\n"
                          "    for i = 1, #all, 2 do redis.call('RPUSH', s, "
                          "all[i]) end\n"
                          "    if #all % 2 == 0 then redis.call('RPUSH', s, "
                          "all[#all]) end\n"
                          "  end\n"
                          "end\n";

/* KEYS: batch, mailboxes list, mailbox keys...  ARGV: 6 per mailbox. */
static const char create_mb_lua[] =
    "for i = 3, #KEYS do\n"
    "  local o = (i - 3) * 6\n"
    "  redis.call('HSET', KEYS[i], 'email', ARGV[o + 1], 'user', ARGV[o + 2],\n"
    "    'password', ARGV[o + 3], 'user_root', ARGV[o + 4],\n"
    "    'target_user', ARGV[o + 5], 'target_password', ARGV[o + 6],\n"
    "    'state', 'Queued', 'pass', 0, 'attempt', 0, 'job', '', 'kind', '')\n"
    "  redis.call('RPUSH', KEYS[2], ARGV[o + 1])\n"
    "end\n"
    "return #KEYS - 2\n";

/* KEYS: batch.  ARGV: to, allowed from states... */
static const char set_state_lua[] =
    "local cur = redis.call('HGET', KEYS[1], 'state')\n"
    "if not cur then return {'NOTFOUND'} end\n"
    "for i = 2, #ARGV do\n"
    "  if ARGV[i] == cur then\n"
    "    redis.call('HSET', KEYS[1], 'state', ARGV[1])\n"
    "    return {'OK', cur}\n"
    "  end\n"
    "end\n"
    "return {'STATE', cur}\n";

/* KEYS: batch, mailbox.  ARGV: to, allowed from states... */
static const char mb_set_state_lua[] =
    "local cur = redis.call('HGET', KEYS[2], 'state')\n"
    "if not cur then return {'NOTFOUND'} end\n"
    "for i = 2, #ARGV do\n"
    "  if ARGV[i] == cur then\n"
    "    mb_set(KEYS[1], KEYS[2], ARGV[1])\n"
    "    return {'OK', cur, settle(KEYS[1])}\n"
    "  end\n"
    "end\n"
    "return {'STATE', cur}\n";

/* KEYS: mailbox keys.  Replies one HGETALL per key. */
static const char getmany_lua[] =
    "local out = {}\n"
    "for i = 1, #KEYS do out[i] = redis.call('HGETALL', KEYS[i]) end\n"
    "return out\n";

/* KEYS: batch.  ARGV: op ("start", "sync", "complete"). */
static const char pass_begin_lua[] =
    "local b, op = KEYS[1], ARGV[1]\n"
    "local cur = redis.call('HGET', b, 'state')\n"
    "if not cur then return {'NOTFOUND'} end\n"
    "local to\n"
    "if op == 'start' then\n"
    "  if cur == 'Created' then to = 'Syncing'\n"
    "  elseif cur == 'Stopped' then\n"
    "    to = redis.call('HGET', b, 'stopped_from') or 'Syncing'\n"
    "  end\n"
    "elseif cur == 'Synced' or cur == 'SyncedWithErrors' then\n"
    "  if op == 'sync' then to = 'IncrementalSyncing'\n"
    "  elseif op == 'complete' then to = 'Completing' end\n"
    "end\n"
    "if not to then\n"
    "  if redis.call('HGET', b, 'enqueuing') == op then\n"
    "    return {'OK', cur, redis.call('HGET', b, 'pass')}\n"
    "  end\n"
    "  return {'STATE', cur}\n"
    "end\n"
    "redis.call('HSET', b, 'state', to, 'enqueuing', op, 'finished', 0)\n"
    "if num(redis.call('HGET', b, 'started')) == 0 then\n"
    "  redis.call('HSET', b, 'started', math.floor(now_ms() / 1000))\n"
    "end\n"
    "return {'OK', to, redis.call('HINCRBY', b, 'pass', 1)}\n";

/* KEYS: batch, mailbox keys...  ARGV: op, batch pass, batch name.
 * op "stop": Queued -> Stopped. Otherwise each mailbox the op picks gets
 * a new job; replies "OK" then 5 fields per Queued mailbox of this pass:
 * email, job, pass, attempt, kind. */
static const char pass_chunk_lua[] =
    "local b, op, bpass = KEYS[1], ARGV[1], ARGV[2]\n"
    "local st = redis.call('HGET', b, 'state')\n"
    "if op == 'stop' then\n"
    "  if st ~= 'Stopping' and st ~= 'Stopped' then\n"
    "    return {'STATE', st or ''}\n"
    "  end\n"
    "  for i = 2, #KEYS do\n"
    "    if redis.call('HGET', KEYS[i], 'state') == 'Queued' then\n"
    "      mb_set(b, KEYS[i], 'Stopped')\n"
    "    end\n"
    "  end\n"
    "  return {'OK'}\n"
    "end\n"
    "if redis.call('HGET', b, 'enqueuing') ~= op then\n"
    "  return {'STATE', st or ''}\n"
    "end\n"
    "local out = {'OK'}\n"
    "local function emit(e, j, p, a, k)\n"
    "  out[#out + 1] = e; out[#out + 1] = j; out[#out + 1] = p\n"
    "  out[#out + 1] = a; out[#out + 1] = k\n"
    "end\n"
    "for i = 2, #KEYS do\n"
    "  local m = KEYS[i]\n"
    "  local f = redis.call('HMGET', m, 'state', 'bpass', 'synced_once',\n"
    "                       'email', 'job', 'pass', 'attempt', 'kind')\n"
    "  local s = f[1]\n"
    "  if f[2] == bpass then\n"
    "    if s == 'Queued' then emit(f[4], f[5], f[6], f[7], f[8]) end\n"
    "  elseif s and not running(s) then\n"
    "    local pick\n"
    "    if op == 'start' then\n"
    "      pick = s == 'Queued' or s == 'Stopped' or s == 'Failed'\n"
    "    else pick = s ~= 'Completed' end\n"
    "    if pick then\n"
    "      local kind = 'full'\n"
    "      if st == 'Completing' then kind = 'final'\n"
    "      elseif f[3] == '1' then kind = 'incremental' end\n"
    "      local p = redis.call('HINCRBY', m, 'pass', 1)\n"
    "      local job = ARGV[3] .. '/' .. f[4] .. '/' .. p .. '/' .. kind\n"
    "      redis.call('HSET', m, 'job', job, 'attempt', 1, 'lost', 0,\n"
    "        'released', 0, 'kind', kind, 'bpass', bpass,\n"
    "        'claim_worker', '', 'claim_expiry', 0)\n"
    "      mb_set(b, m, 'Queued')\n"
    "      emit(f[4], job, tostring(p), '1', kind)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: batch.  ARGV: op. */
static const char pass_end_lua[] =
    "if redis.call('HGET', KEYS[1], 'enqueuing') == ARGV[1] then\n"
    "  redis.call('HDEL', KEYS[1], 'enqueuing')\n"
    "end\n"
    "return {'OK', settle(KEYS[1])}\n";

/* KEYS: batch. */
static const char stop_lua[] =
    "local b = KEYS[1]\n"
    "local cur = redis.call('HGET', b, 'state')\n"
    "if not cur then return {'NOTFOUND'} end\n"
    "if cur == 'Syncing' or cur == 'IncrementalSyncing' or\n"
    "   cur == 'Completing' then\n"
    "  redis.call('HSET', b, 'state', 'Stopping', 'stopped_from', cur)\n"
    "elseif cur ~= 'Stopping' then\n"
    "  return {'STATE', cur}\n"
    "end\n"
    "redis.call('HDEL', b, 'enqueuing')\n"
    "return {'OK', 'Stopping'}\n";

/* KEYS: batch. */
static const char settle_lua[] = "return {'OK', settle(KEYS[1])}\n";

/* KEYS: batch, mailbox, claims.  ARGV: job, attempt, worker, ttl, email. */
static const char claim_lua[] =
    "local b, m, c = KEYS[1], KEYS[2], KEYS[3]\n"
    "if redis.call('EXISTS', m) == 0 then return {'NOTFOUND'} end\n"
    "local f = redis.call('HMGET', m, 'state', 'job', 'attempt',\n"
    "  'claim_worker', 'claim_expiry', 'kind', 'synced_once', 'first_sync')\n"
    "local now = now_ms()\n"
    "if f[4] and f[4] ~= '' and num(f[5]) > now then\n"
    "  return {'CLAIMED', f[4]}\n"
    "end\n"
    "if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] then\n"
    "  return {'STALE', f[2] or '', f[3] or ''}\n"
    "end\n"
    "if f[1] ~= 'Queued' then return {'STATE', f[1] or ''} end\n"
    "local bst = redis.call('HGET', b, 'state')\n"
    "if not running(bst) and bst ~= 'Completing' then\n"
    "  return {'BATCH', bst or ''}\n"
    "end\n"
    "local to = 'Syncing'\n"
    "if f[6] ~= 'full' and f[7] == '1' then to = 'IncrementalSyncing' end\n"
    "local exp = now + tonumber(ARGV[4])\n"
    "local t = math.floor(now / 1000)\n"
    "drop_progress(b, m)\n"
    "mb_set(b, m, to)\n"
    "redis.call('HSET', m, 'claim_worker', ARGV[3], 'claim_expiry', exp,\n"
    "  'worker', ARGV[3], 'last_sync', t, 'released', 0)\n"
    "if num(f[8]) == 0 then redis.call('HSET', m, 'first_sync', t) end\n"
    "redis.call('HINCRBY', m, 'attempts_total', 1)\n"
    "redis.call('ZADD', c, exp, ARGV[5])\n"
    "return {'OK', exp, 0}\n";

/* KEYS: batch, mailbox, claims.  ARGV: job, attempt, worker, ttl, email. */
static const char renew_lua[] =
    "local b, m, c = KEYS[1], KEYS[2], KEYS[3]\n"
    "local f = redis.call('HMGET', m, 'state', 'job', 'attempt',\n"
    "                     'claim_worker', 'claim_expiry')\n"
    "local now = now_ms()\n"
    "if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] or f[4] ~= ARGV[3] or\n"
    "   num(f[5]) <= now or not running(f[1]) then\n"
    "  return {'LOST', f[1] or '', f[4] or ''}\n"
    "end\n"
    "local exp = now + tonumber(ARGV[4])\n"
    "redis.call('HSET', m, 'claim_expiry', exp)\n"
    "redis.call('ZADD', c, exp, ARGV[5])\n"
    "local bst = redis.call('HGET', b, 'state')\n"
    "local stop = 0\n"
    "if not running(bst) and bst ~= 'Completing' then stop = 1 end\n"
    "return {'OK', exp, stop}\n";

/* KEYS: batch, mailbox, claims.  ARGV: job, attempt, worker, finished,
 * email. */
static const char release_lua[] =
    "local m, c = KEYS[2], KEYS[3]\n"
    "local f = redis.call('HMGET', m, 'state', 'job', 'attempt',\n"
    "                     'claim_worker')\n"
    "if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] or f[4] ~= ARGV[3] or\n"
    "   not running(f[1]) then\n"
    "  return {'OK', 0}\n"
    "end\n"
    "if ARGV[4] == '1' then\n"
    "  redis.call('ZREM', c, ARGV[5])\n"
    "  redis.call('HSET', m, 'claim_worker', '', 'claim_expiry', 0)\n"
    "else\n"
    "  redis.call('HSET', m, 'claim_expiry', 0, 'released', 1)\n"
    "  redis.call('ZADD', c, 0, ARGV[5])\n"
    "end\n"
    "return {'OK', 1}\n";

/* KEYS: claims.  ARGV: mailbox key prefix.  5 fields per expired claim:
 * email, job, attempt, worker, expiry. */
static const char expired_lua[] =
    "local z = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(),\n"
    "                     'WITHSCORES', 'LIMIT', 0, 1000)\n"
    "local out = {'OK'}\n"
    "for i = 1, #z, 2 do\n"
    "  local f = redis.call('HMGET', ARGV[1] .. z[i], 'job', 'attempt',\n"
    "                       'claim_worker')\n"
    "  out[#out + 1] = z[i]; out[#out + 1] = f[1] or ''\n"
    "  out[#out + 1] = f[2] or '0'; out[#out + 1] = f[3] or ''\n"
    "  out[#out + 1] = z[i + 1]\n"
    "end\n"
    "return out\n";

/* KEYS: batch, mailbox, claims.  ARGV: email.  Replies a status word and
 * job, attempt, pass, kind. */
static const char requeue_lua[] =
    "local b, m, c = KEYS[1], KEYS[2], KEYS[3]\n"
    "local score = redis.call('ZSCORE', c, ARGV[1])\n"
    "if not score then return {'NOCLAIM'} end\n"
    "if tonumber(score) > now_ms() then return {'LIVE'} end\n"
    "redis.call('ZREM', c, ARGV[1])\n"
    "local f = redis.call('HMGET', m, 'state', 'job', 'attempt', 'pass',\n"
    "                     'kind', 'released', 'lost', 'claim_worker')\n"
    "if not running(f[1]) then return {'NOCLAIM'} end\n"
    "redis.call('HSET', m, 'claim_worker', '', 'claim_expiry', 0,\n"
    "           'released', 0)\n"
    "drop_progress(b, m)\n"
    "local lost = num(f[7])\n"
    "if f[6] ~= '1' then lost = redis.call('HINCRBY', m, 'lost', 1) end\n"
    "local maxa = num(redis.call('HGET', b, 'max_attempts'))\n"
    "if maxa < 1 then maxa = 3 end\n"
    "local bst = redis.call('HGET', b, 'state')\n"
    "if bst == 'Stopping' or bst == 'Stopped' then\n"
    "  mb_set(b, m, 'Stopped')\n"
    "  return {'STOPPED', f[2], f[3], f[4], f[5], settle(b)}\n"
    "end\n"
    "if lost >= maxa then\n"
    "  mb_set(b, m, 'Failed')\n"
    "  redis.call('HSET', m, 'error_code', 502, 'error_name', 'LEASE_LOST',\n"
    "    'error_detail', 'worker lost: ' .. (f[8] or '?') ..\n"
    "    ' stopped renewing its claim (attempt ' .. f[3] .. ' of ' ..\n"
    "    maxa .. ')', 'finished', math.floor(now_ms() / 1000))\n"
    "  return {'DEAD', f[2], f[3], f[4], f[5], settle(b)}\n"
    "end\n"
    "local a = redis.call('HINCRBY', m, 'attempt', 1)\n"
    "mb_set(b, m, 'Queued')\n"
    "return {'OK', f[2], tostring(a), f[4], f[5], settle(b)}\n";

/* KEYS: batch, mailbox, samples.  ARGV: job, attempt, seq, messages_total,
 * messages_done, bytes_done, folders_total, folders_done. */
static const char progress_lua[] =
    "local b, m = KEYS[1], KEYS[2]\n"
    "local f = redis.call('HMGET', m, 'state', 'job', 'attempt', 'p_key',\n"
    "                     'p_seq', 'p_messages', 'p_bytes')\n"
    "if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] or not running(f[1]) then\n"
    "  return {'OK', 0}\n"
    "end\n"
    "local pk = ARGV[1] .. '#' .. ARGV[2]\n"
    "if f[4] == pk and tonumber(ARGV[3]) <= num(f[5]) then\n"
    "  return {'OK', 0}\n"
    "end\n"
    "redis.call('HINCRBY', b, 't_messages', tonumber(ARGV[5]) - num(f[6]))\n"
    "redis.call('HINCRBY', b, 't_bytes', tonumber(ARGV[6]) - num(f[7]))\n"
    "redis.call('HSET', m, 'p_key', pk, 'p_seq', ARGV[3], 'p_total',\n"
    "  ARGV[4], 'p_messages', ARGV[5], 'p_bytes', ARGV[6], 'p_ftotal',\n"
    "  ARGV[7], 'p_fdone', ARGV[8])\n"
    "sample(b, KEYS[3])\n"
    "return {'OK', 1}\n";

/* KEYS: batch, mailbox, claims, results, samples, skipped, failed.
 * ARGV: 1 job, 2 attempt, 3 worker, 4 outcome, 5 email, 6 error code,
 * 7 error name, 8 error detail, 9-24 the 16 stats below, 25 skipped
 * total, 26 failed total, 27 skipped listed, 28 failed listed, items. */
static const char result_lua[] =
    "local b, m = KEYS[1], KEYS[2]\n"
    "if redis.call('SADD', KEYS[4], ARGV[1] .. '#' .. ARGV[2]) == 0 then\n"
    "  return {'DUP'}\n"
    "end\n"
    "local f = redis.call('HMGET', m, 'state', 'job', 'attempt', 'kind',\n"
    "  'messages_source', 'p_messages', 'p_bytes', 'pass')\n"
    "if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] or not running(f[1]) then\n"
    "  return {'STALE', f[1] or ''}\n"
    "end\n"
    "local stats = {'folders_copied', 'folders_excluded', 'folders_created',\n"
    "  'folders_renamed', 'messages_source', 'bytes_source',\n"
    "  'messages_copied', 'bytes_copied', 'messages_present',\n"
    "  'skipped_too_large', 'skipped_vanished', 'skipped_excluded',\n"
    "  'failed', 'flags_updated', 'uidvalidity_changes', 'seconds'}\n"
    "local acc = {messages_copied = 1, bytes_copied = 1,\n"
    "  messages_present = 1, flags_updated = 1, uidvalidity_changes = 1}\n"
    "local outcome = ARGV[4]\n"
    "local replace = outcome == 'synced' or outcome == 'incomplete' or\n"
    "  num(f[5]) == 0\n"
    "redis.call('HINCRBY', b, 't_messages', num(ARGV[15]) - num(f[6]))\n"
    "redis.call('HINCRBY', b, 't_bytes', num(ARGV[16]) - num(f[7]))\n"
    "redis.call('HSET', m, 'p_key', '', 'p_messages', 0, 'p_bytes', 0)\n"
    "for i, name in ipairs(stats) do\n"
    "  local v = ARGV[8 + i]\n"
    "  if name == 'seconds' then\n"
    "    redis.call('HINCRBYFLOAT', m, name, v)\n"
    "  elseif acc[name] then redis.call('HINCRBY', m, name, v)\n"
    "  elseif replace then redis.call('HSET', m, name, v) end\n"
    "end\n"
    "if replace then\n"
    "  local ns, nf = num(ARGV[27]), num(ARGV[28])\n"
    "  redis.call('DEL', KEYS[6], KEYS[7])\n"
    "  for i = 1, ns do redis.call('RPUSH', KEYS[6], ARGV[28 + i]) end\n"
    "  for i = 1, nf do redis.call('RPUSH', KEYS[7], ARGV[28 + ns + i]) end\n"
    "  redis.call('HSET', m, 'skipped_unlisted', num(ARGV[25]) - ns,\n"
    "             'failed_unlisted', num(ARGV[26]) - nf)\n"
    "end\n"
    "if num(ARGV[6]) ~= 0 then\n"
    "  redis.call('HSET', m, 'error_code', ARGV[6], 'error_name', ARGV[7],\n"
    "             'error_detail', ARGV[8])\n"
    "elseif outcome == 'synced' then\n"
    "  redis.call('HSET', m, 'error_code', 0, 'error_name', '',\n"
    "             'error_detail', '')\n"
    "end\n"
    "redis.call('ZREM', KEYS[3], ARGV[5])\n"
    "redis.call('HSET', m, 'claim_worker', '', 'claim_expiry', 0, 'worker',\n"
    "  ARGV[3], 'finished', math.floor(now_ms() / 1000))\n"
    "local to, ret = 'Failed', {'OK', f[2], f[3], f[8], f[4]}\n"
    "if outcome == 'synced' then\n"
    "  if f[4] == 'final' then to = 'Completed' else to = 'Synced' end\n"
    "  redis.call('HSET', m, 'synced_once', 1)\n"
    "elseif outcome == 'incomplete' then\n"
    "  redis.call('HSET', m, 'synced_once', 1)\n"
    "elseif outcome == 'stopped' then to = 'Stopped'\n"
    "elseif outcome == 'retry' then\n"
    "  local bst = redis.call('HGET', b, 'state')\n"
    "  if bst == 'Stopping' or bst == 'Stopped' then to = 'Stopped'\n"
    "  else\n"
    "    local lost = redis.call('HINCRBY', m, 'lost', 1)\n"
    "    local maxa = num(redis.call('HGET', b, 'max_attempts'))\n"
    "    if maxa < 1 then maxa = 3 end\n"
    "    if lost >= maxa then ret[1] = 'DEAD'\n"
    "    else\n"
    "      to = 'Queued'\n"
    "      ret = {'REQUEUE', f[2],\n"
    "             tostring(redis.call('HINCRBY', m, 'attempt', 1)),\n"
    "             f[8], f[4]}\n"
    "    end\n"
    "  end\n"
    "end\n"
    "mb_set(b, m, to)\n"
    "sample(b, KEYS[5])\n"
    "ret[6] = settle(b)\n"
    "return ret\n";

static const char *const bodies[MF__BS_COUNT] = {
    [MF__BS_CREATE_MB] = create_mb_lua,
    [MF__BS_SET_STATE] = set_state_lua,
    [MF__BS_MB_SET_STATE] = mb_set_state_lua,
    [MF__BS_GETMANY] = getmany_lua,
    [MF__BS_PASS_BEGIN] = pass_begin_lua,
    [MF__BS_PASS_CHUNK] = pass_chunk_lua,
    [MF__BS_PASS_END] = pass_end_lua,
    [MF__BS_STOP] = stop_lua,
    [MF__BS_SETTLE] = settle_lua,
    [MF__BS_CLAIM] = claim_lua,
    [MF__BS_RENEW] = renew_lua,
    [MF__BS_RELEASE] = release_lua,
    [MF__BS_EXPIRED] = expired_lua,
    [MF__BS_REQUEUE] = requeue_lua,
    [MF__BS_PROGRESS] = progress_lua,
    [MF__BS_RESULT] = result_lua,
};

/* Full texts (prelude + body) and their SHA-1s, built once. */
static char *texts[MF__BS_COUNT];
static char shas[MF__BS_COUNT][41];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
build(void) {
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA_DIGEST_LENGTH];

    for (int s = 0; s < MF__BS_COUNT; s++) {
        MF_ASSERT(bodies[s]);
        texts[s] = mf_xasprintf("%s%s", prelude, bodies[s]);
        SHA1((const unsigned char *)texts[s], strlen(texts[s]), md);
        for (size_t i = 0; i < sizeof(md); i++) {
            shas[s][2 * i] = hex[md[i] >> 4];
            shas[s][2 * i + 1] = hex[md[i] & 15];
        }
        shas[s][40] = '\0';
    }
}

const char *
mf__batch_script_text(enum mf__batch_script s) {
    pthread_once(&once, build);
    return texts[s];
}

void
mf__batch_script_argv(struct mf__batch_argv *a, enum mf__batch_script s,
                      int nkeys) {
    pthread_once(&once, build);
    mf__batch_argv_reset(a);
    mf__batch_argv_adds(a, "EVALSHA");
    mf__batch_argv_adds(a, shas[s]);
    mf__batch_argv_addi(a, nkeys);
}

/* Redis' "not ready yet" replies: pause and retry, as for a lost
 * connection. */
static mf_err
transient(mf_err rc, struct mf_error *err) {
    static const char *const words[] = {"LOADING", "BUSY", "MASTERDOWN",
                                        "TRYAGAIN", "CLUSTERDOWN"};
    const char *p;

    if (rc != MF_E_REDIS)
        return rc;
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
mf__batch_script_run(struct mf_redis *r, struct mf__batch_argv *a,
                     redisReply **reply_r, struct mf_error *err) {
    char *sha = a->v[1];
    size_t sha_len = a->len[1];
    enum mf__batch_script s = MF__BS_COUNT;
    mf_err rc;

    MF_ASSERT(a->n >= 3 && strcmp(a->v[0], "EVALSHA") == 0);
    rc = mf__batch_argv_run(r, a, reply_r, err);
    if (rc != MF_E_REDIS || !strstr(err->detail, "NOSCRIPT"))
        return transient(rc, err);
    for (int i = 0; i < MF__BS_COUNT; i++)
        if (strcmp(shas[i], sha) == 0)
            s = (enum mf__batch_script)i;
    MF_ASSERT(s != MF__BS_COUNT);
    /* EVAL both runs the script and caches it for the next EVALSHA. */
    free(a->v[0]);
    a->v[0] = mf_xstrdup("EVAL");
    a->len[0] = 4;
    a->v[1] = mf_xstrdup(texts[s]);
    a->len[1] = strlen(texts[s]);
    rc = mf__batch_argv_run(r, a, reply_r, err);
    free(a->v[0]);
    free(a->v[1]);
    a->v[0] = mf_xstrdup("EVALSHA");
    a->len[0] = 7;
    a->v[1] = sha;
    a->len[1] = sha_len;
    return transient(rc, err);
}
