/* Reads fixture .env files (see testenv.h). */
#include "testenv.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
mf_testenv_get(const char *fixture, const char *key) {
    const char *dir = getenv("MF_TEST_RUN_DIR");
    char path[4096], line[4096];
    size_t klen = strlen(key);
    char *value = NULL;
    FILE *f;

    if (!dir)
        return NULL;
    snprintf(path, sizeof(path), "%s/%s.env", dir, fixture);
    f = fopen(path, "r");
    if (!f)
        return NULL;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
            char *v = line + klen + 1;
            v[strcspn(v, "\r\n")] = '\0';
            value = mf_xstrdup(v);
            break;
        }
    }
    fclose(f);
    return value;
}

bool
mf_testenv_mkdtemp(char *dir, size_t size, const char *name) {
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, size, "%s/%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    return mkdtemp(dir) != NULL;
}

const char *
mf_testenv_redis_fixture(void) {
    const char *name = getenv("MF_TEST_REDIS_FIXTURE");

    return name && *name ? name : "redis";
}

char *
mf_testenv_redis(const char *key) {
    return mf_testenv_get(mf_testenv_redis_fixture(), key);
}

char *
mf_testenv_redis_url(unsigned db) {
    char *base = mf_testenv_redis("REDIS_URL");
    char *url;

    if (!base) {
        fprintf(stderr, "no redis fixture (REDIS_URL)\n");
        return NULL;
    }
    url = mf_xasprintf("%s/%u", base, db);
    free(base);
    return url;
}
