/*
 * A scripted fake Redis on a unix socket, for unit tests of code that
 * talks to Redis: it answers each command it receives with the next of a
 * list of raw RESP replies (NULL: hang up without answering; the next
 * command reconnects) and records what it received.
 */
#ifndef MF_TEST_FAKEREDIS_H
#define MF_TEST_FAKEREDIS_H

#include "mailferry/redis.h"

#include <pthread.h>
#include <stddef.h>

#define MF_FAKEREDIS_SEEN 8  /* commands recorded */
#define MF_FAKEREDIS_ARGS 16 /* arguments recorded per command */

struct mf_fakeredis {
    char dir[32], path[64];
    int lfd;
    const char *const *replies; /* borrowed */
    size_t n_replies;
    pthread_t thread;
    /* What the client sent: the first arguments (truncated to 63 bytes)
     * and the count of each of the first commands; seen counts all. */
    char arg[MF_FAKEREDIS_SEEN][MF_FAKEREDIS_ARGS][64];
    size_t argc[MF_FAKEREDIS_SEEN], seen;
};

/* Starts the fake with n replies and returns a client connected to it. */
struct mf_redis *mf_fakeredis_start(struct mf_fakeredis *fk,
                                    const char *const *replies, size_t n);
/* Frees the client, stops the fake and removes its socket. */
void mf_fakeredis_stop(struct mf_fakeredis *fk, struct mf_redis **r);

#endif
