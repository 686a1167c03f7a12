/*
 * Internals of the redis module (see mailferry/redis.h), shared by its
 * files and its unit tests.
 *
 *   client.c   connections, commands, Redis' error words to mf_err
 *   script.c   the one Lua script runner (EVALSHA, EVAL on NOSCRIPT)
 */
#ifndef MF_REDIS_INT_H
#define MF_REDIS_INT_H

#include "mailferry/redis.h"

#include <stddef.h>

/* The code for a Redis error reply of len bytes, by its first word:
 * NOSCRIPT is MF_E_REDIS_NOSCRIPT; LOADING, BUSY, MASTERDOWN, TRYAGAIN
 * and CLUSTERDOWN (Redis is there but not ready) are
 * MF_E_REDIS_UNAVAILABLE; anything else is MF_E_REDIS. Pure. */
mf_err mf__redis_reply_error(const char *text, size_t len);

#endif
