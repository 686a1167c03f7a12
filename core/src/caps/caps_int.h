/*
 * Internals of the caps module, shared by its files and the unit tests:
 * key names and the Lua scripts (lua/<name>.lua, embedded at build time).
 *
 * Keys of one endpoint all carry the hash tag "{c:<endpoint>}" so that one
 * script may touch any of them in a Redis Cluster:
 *
 *   mf:{c:EP}:cap:total          ZSET lease member -> expiry (ms, TIME)
 *   mf:{c:EP}:cap:user:<user>    ZSET per login name (percent-encoded)
 *   mf:{c:EP}:cap:ip:<ip>        ZSET per egress IP (percent-encoded)
 *   mf:{c:EP}:cap:mailboxes      ZSET of mailbox leases
 *   mf:{c:EP}:q                  ZSET waiter id -> ticket (FIFO order)
 *   mf:{c:EP}:qexp               ZSET waiter id -> expiry of its place
 *   mf:{c:EP}:qinfo              HASH waiter id -> "key\tlimit\n..." caps
 *   mf:{c:EP}:qseq               counter that numbers tickets
 *   mf:{c:EP}:wake:<waiter id>   LIST a waiter BLPOPs on
 *   mf:{c:EP}:bw                 HASH tokens, ts (bandwidth bucket)
 *   mf:{c:EP}:pause              STRING while the server's throttling
 *                                pauses the endpoint (PTTL: time left)
 *   mf:{c:EP}:tlimit             STRING the lowered connection limit
 *                                (throttle.c)
 *   mf:{c:EP}:conf:<batch>       HASH total, user, ip: a batch's
 *                                connection caps as `batch set` left
 *                                them, for its running jobs (throttle.c)
 *   mf:{c:EP}:quota:<dl|ul>:<user>  HASH used, full: a user's count in
 *                                its quota window (PTTL: the time left;
 *                                quota.c)
 */
#ifndef MF_CAPS_INT_H
#define MF_CAPS_INT_H

#include "mailferry/caps.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define MF__CAPS_MAX_CAPS 3
#define MF__CAPS_ID_LEN 32 /* hex digits of a random id */

/* Every key name one lease or waiter needs (all owned). */
struct mf__caps_keys {
    char *q, *qexp, *qinfo, *qseq, *wake_prefix;
    size_t ncaps;
    char *cap[MF__CAPS_MAX_CAPS];
    unsigned limit[MF__CAPS_MAX_CAPS];
    enum mf_caps_cap which[MF__CAPS_MAX_CAPS];
};

/* "mf:{c:<endpoint>}:<rest>" as a new string. */
char *mf__caps_key(const char *endpoint, const char *rest);
/* Percent-encodes every byte outside [A-Za-z0-9._@+-] so that names never
 * contain the separators of qinfo or a hash tag. Returns a new string. */
char *mf__caps_encode(const char *s);
/* "mf:{c:<endpoint>}:<kind>:<encoded name>" as a new string: the key of
 * one login name's or IP's record ("cap:user", "quota:ul", "conf" of a
 * batch...); a NULL name reads as empty, a key nothing ever writes. */
char *mf__caps_named_key(const char *endpoint, const char *kind,
                         const char *name);
/* Fills k for a checked spec. */
void mf__caps_keys_init(struct mf__caps_keys *k,
                        const struct mf_caps_spec *spec);
void mf__caps_keys_copy(struct mf__caps_keys *dst,
                        const struct mf__caps_keys *src);
void mf__caps_keys_fini(struct mf__caps_keys *k);
/* A random id of MF__CAPS_ID_LEN hex digits into out (>= 33 bytes). */
void mf__caps_random_id(char *out);

/* The scripts (lua/lease.lua, lua/bandwidth.lua; script.c). */
extern const struct mf_redis_script *const mf__caps_lease_script;
extern const struct mf_redis_script *const mf__caps_bw_script;
extern const struct mf_redis_script *const mf__caps_throttle_script;
extern const struct mf_redis_script *const mf__caps_quota_script;

/* Runs script s with keys and args through mf_redis_script_run(). A
 * broken connection is retried once (every script here is safe to
 * repeat: ids are chosen by the caller). *reply_r as for
 * mf_redis_command_argv(). */
MF_WARN_UNUSED mf_err mf__caps_script_run(struct mf_redis *r,
                                          const struct mf_redis_script *s,
                                          int nkeys, const char **keys,
                                          int nargs, const char **args,
                                          redisReply **reply_r,
                                          struct mf_error *err);

/* Bandwidth counters, owned by lease.c with the other metrics. */
extern _Atomic uint64_t mf__caps_bw_waits, mf__caps_bw_wait_ms;

/* The integer element i of an array reply, or false. */
bool mf__caps_reply_int(const redisReply *reply, size_t i, long long *v_r);

#endif
