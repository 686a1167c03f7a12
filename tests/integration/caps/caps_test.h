/*
 * Helpers shared by the caps integration tests (header-only: each test is
 * one program built from one file): connections to the "redis" fixture,
 * raw commands for looking behind the API, and Redis' command counters.
 */
#ifndef MF_CAPS_TEST_H
#define MF_CAPS_TEST_H

#include "mailferry/caps.h"
#include "mailferry/util.h"
#include "testenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline struct mf_redis *
ct_connect(void) {
    char *url = mf_testenv_get("redis", "REDIS_URL");
    struct mf_redis *r = NULL;
    struct mf_error err = {0};

    if (!url || mf_redis_connect(url, 5000, &r, &err) != MF_E_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", url ? url : "(none)",
                err.detail);
        abort();
    }
    free(url);
    return r;
}

/* Runs a printf-style command, retrying once after a dropped connection;
 * returns its integer reply (or -1 for a non-integer one). */
static inline long long
ct_int(struct mf_redis *r, const char *fmt, const char *a, const char *b) {
    struct mf_error err = {0};
    redisReply *reply = NULL;
    long long v;
    mf_err rc = mf_redis_command(r, &reply, &err, fmt, a, b);

    if (rc == MF_E_REDIS_UNAVAILABLE)
        rc = mf_redis_command(r, &reply, &err, fmt, a, b);
    if (rc != MF_E_OK) {
        fprintf(stderr, "%s: %s\n", fmt, err.detail);
        abort();
    }
    v = reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    freeReplyObject(reply);
    return v;
}

/* Live members of a cap ZSET as Redis sees it now. */
static inline long long
ct_zcard(struct mf_redis *r, const char *endpoint, const char *cap) {
    char *key = mf_xasprintf("mf:{c:%s}:cap:%s", endpoint, cap);
    long long v = ct_int(r, "ZCARD %s", key, NULL);
    free(key);
    return v;
}

/* Calls of one command since the server started (INFO commandstats). */
static inline long long
ct_calls(struct mf_redis *r, const char *cmd) {
    struct mf_error err = {0};
    redisReply *reply = NULL;
    char needle[64];
    long long v = 0;
    const char *p;

    if (mf_redis_command(r, &reply, &err, "INFO commandstats") != MF_E_OK)
        abort();
    snprintf(needle, sizeof(needle), "cmdstat_%s:calls=", cmd);
    if ((p = strstr(reply->str, needle)))
        v = strtoll(p + strlen(needle), NULL, 10);
    freeReplyObject(reply);
    return v;
}

/* A unique endpoint id per test run, so that reruns and parallel tests
 * never see each other's leases. */
static inline char *
ct_endpoint(const char *name) {
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return mf_xasprintf("src:%s:%ld.%09ld:%d", name, (long)ts.tv_sec,
                        ts.tv_nsec, (int)getpid());
}

static inline void
ct_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#endif
