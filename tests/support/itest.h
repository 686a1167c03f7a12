/*
 * Helpers of the C integration tests (tests/integration/): a cmocka group
 * run against the redis fixture with a name prefix of its own (so runs
 * against a shared redis-server never see each other's keys), a client to
 * that fixture that fails the test unless it connects, and the Dovecot
 * fixture's values. Include after <cmocka.h>.
 */
#ifndef MF_TEST_ITEST_H
#define MF_TEST_ITEST_H

#include "mailferry/redis.h"

#include <stddef.h>

/* mf_itest_redis_run()'s db for the fixture's URL as it is (no database
 * appended: the server's database 0). */
#define MF_ITEST_DB_DEFAULT (-1)

/* Runs the group (cmocka_run_group_tests, no group setup) against the
 * redis fixture (mf_testenv_redis_fixture()): its URL with database db
 * appended, or as it is for MF_ITEST_DB_DEFAULT; the prefix is
 * "<tag><seconds>-<pid>". The group's result, 1 with a line on stderr
 * when there is no such fixture. */
int mf_itest_redis_run(const char *group, const struct CMUnitTest *tests,
                       size_t n, int db, const char *tag);
#define MF_ITEST_REDIS_RUN(tests, db, tag)                                     \
    mf_itest_redis_run(#tests, tests, sizeof(tests) / sizeof((tests)[0]), db,  \
                       tag)

/* Borrowed, valid while mf_itest_redis_run() runs the group. */
const char *mf_itest_redis_url(void);
const char *mf_itest_prefix(void);

/* A new client of mf_itest_redis_url() (the caller frees it); fails the
 * running test unless it connects. */
struct mf_redis *mf_itest_redis(void);

/* "<prefix>-<what>" into out (a batch or key name of this run). */
void mf_itest_name(char *out, size_t n, const char *what);

/* The end of a batch test: removes batch name (failing the test unless
 * mf_batch_remove() returns MF_E_OK), then frees *r and sets it NULL. */
void mf_itest_batch_end(struct mf_redis **r, const char *name);

/* The value of key in dovecot.env, as a new string the caller frees;
 * fails the running test when the file or key is missing. */
char *mf_itest_dovecot(const char *key);

#endif
