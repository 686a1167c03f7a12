/*
 * Test-side access to server fixtures: each fixture's start script writes
 * $MF_TEST_RUN_DIR/<fixture>.env with KEY=VALUE lines.
 */
#ifndef MF_TESTENV_H
#define MF_TESTENV_H

#include <stdbool.h>
#include <stddef.h>

/* The value of key in fixture's .env file, as a new string the caller
 * frees, or NULL when the file or key is missing. */
char *mf_testenv_get(const char *fixture, const char *key);

/* The name of the redis-server fixture this test runs against:
 * $MF_TEST_REDIS_FIXTURE (redis_auth, redis_restart) or "redis". */
const char *mf_testenv_redis_fixture(void);

/* mf_testenv_get() of that fixture. */
char *mf_testenv_redis(const char *key);

/* The redis fixture's URL with database db (a test's own, see
 * tests/support/dovecot/README.md), as a new string the caller frees;
 * NULL, with a line on stderr, without the fixture. */
char *mf_testenv_redis_url(unsigned db);

/* Makes a private directory $TMPDIR/<name>_XXXXXX (/tmp without
 * TMPDIR) into dir; returns false when mkdtemp fails. */
bool mf_testenv_mkdtemp(char *dir, size_t size, const char *name);

#endif
