/* A private redis-server per test (see testredis.h). */
#include "testredis.h"

#include "testenv.h"

#include "mailferry/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool
mf_testredis_start(struct mf_testredis *tr, const char *name) {
    struct mf_error err = {0};

    memset(tr, 0, sizeof(*tr));
    signal(SIGPIPE, SIG_IGN);
    if (!mf_testenv_mkdtemp(tr->dir, sizeof(tr->dir), name)) {
        fprintf(stderr, "testredis: mkdtemp %s failed\n", tr->dir);
        tr->dir[0] = '\0';
        return false;
    }
    if (mf_redis_child_start(NULL, tr->dir, &tr->child, &err) ||
        mf_redis_connect(mf_redis_child_url(tr->child), 0, &tr->r, &err)) {
        fprintf(stderr, "testredis: %s\n", err.detail);
        mf_testredis_stop(tr);
        return false;
    }
    return true;
}

int
mf_testredis_setup(void **state, const char *name, bool keyring) {
    struct mf_testredis *tr = mf_xcalloc(1, sizeof(*tr));

    *state = NULL;
    if (!mf_testredis_start(tr, name)) {
        free(tr);
        return -1;
    }
    if (keyring && !mf_testredis_keyring(tr)) {
        mf_testredis_stop(tr);
        free(tr);
        return -1;
    }
    *state = tr;
    return 0;
}

int
mf_testredis_teardown(void **state) {
    struct mf_testredis *tr = *state;

    if (tr) {
        mf_testredis_stop(tr);
        free(tr);
    }
    *state = NULL;
    return 0;
}

bool
mf_testredis_keyring(struct mf_testredis *tr) {
    struct mf_error err = {0};

    snprintf(tr->keyfile, sizeof(tr->keyfile), "%s/keys", tr->dir);
    if (mf_crypto_keyfile_generate(tr->keyfile, "k1", MF_CRYPTO_KEYFILE_CREATE,
                                   &err) ||
        mf_crypto_keyring_load(tr->keyfile, &tr->kr, &err)) {
        fprintf(stderr, "testredis: %s: %s\n", tr->keyfile, err.detail);
        return false;
    }
    return true;
}

const char *
mf_testredis_url(const struct mf_testredis *tr) {
    return mf_redis_child_url(tr->child);
}

void
mf_testredis_stop(struct mf_testredis *tr) {
    mf_redis_free(&tr->r);
    mf_redis_child_stop(&tr->child);
    mf_crypto_keyring_free(&tr->kr);
    if (tr->keyfile[0])
        unlink(tr->keyfile);
    tr->keyfile[0] = '\0';
    if (tr->dir[0] && rmdir(tr->dir) != 0)
        perror(tr->dir);
    tr->dir[0] = '\0';
}
