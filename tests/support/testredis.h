/*
 * A private redis-server for one C test: a temporary directory of the
 * test's own, a redis-server child in it (mf_redis_child_start(),
 * mailferry/embedded.h) listening only on a unix socket, and a client
 * connected to it, so that no other test shares its keys. Unit tests of
 * code that must talk to a real Redis (Lua scripts, leases, the service)
 * use it instead of the shared redis fixture.
 */
#ifndef MF_TEST_TESTREDIS_H
#define MF_TEST_TESTREDIS_H

#include "mailferry/crypto.h"
#include "mailferry/embedded.h"
#include "mailferry/redis.h"

#include <stdbool.h>

struct mf_testredis {
    char dir[256];                /* the test's directory, child's inside */
    struct mf_redis_child *child; /* owned */
    struct mf_redis *r;           /* owned: connected to child */
    char keyfile[300];            /* dir/keys, once mf_testredis_keyring() */
    struct mf_crypto_keyring *kr; /* owned: loaded from keyfile */
};

/* Ignores SIGPIPE (hiredis writes with plain send(), redis.h), makes
 * $TMPDIR/<name>_XXXXXX, starts redis-server under it and connects.
 * false, with the reason on stderr and nothing left behind, when a step
 * fails. The test may keep files of its own in dir. */
bool mf_testredis_start(struct mf_testredis *tr, const char *name);

/* The child's URL (unix://...), for code that connects by itself. */
const char *mf_testredis_url(const struct mf_testredis *tr);

/* Writes a new key file (key "k1") into dir for the secrets of the
 * test's batches and loads it into tr->kr; false, with the reason on
 * stderr, if it cannot. */
bool mf_testredis_keyring(struct mf_testredis *tr);

/* Frees the client and the key ring, stops the server, removes the key
 * file and dir (which must hold nothing else of the test's by then).
 * Safe on a zeroed or stopped struct. */
void mf_testredis_stop(struct mf_testredis *tr);

/* As a cmocka setup's state: mf_testredis_start() (and, when keyring,
 * mf_testredis_keyring()) on a new struct into *state. Returns 0, or -1
 * (which fails the test) with the reason on stderr, nothing left behind
 * and *state NULL. */
int mf_testredis_setup(void **state, const char *name, bool keyring);

/* cmocka teardown of mf_testredis_setup(): mf_testredis_stop() and free
 * of *state (NULL is fine). Returns 0. */
int mf_testredis_teardown(void **state);

#endif
