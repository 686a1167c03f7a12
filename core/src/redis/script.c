/*
 * The one runner of Redis Lua scripts (see mailferry/redis.h). Every
 * module's scripts are .lua files embedded at build time with their
 * SHA-1 (cmake/MfEmbedLua.cmake); this file only sends them.
 *
 * EVALSHA first: the usual case costs 40 bytes instead of the text. Redis
 * answers NOSCRIPT when its script cache lacks the digest (first use
 * since it started, a restart, SCRIPT FLUSH, a failover to a replica that
 * never saw it); then EVAL runs the text and caches it, so the fallback
 * happens once per script and server. The client has already turned
 * Redis' error words into codes (mf__redis_reply_error()), so nothing
 * here reads error text.
 */
#include "redis/redis_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arguments kept on the stack below this count. */
#define ARGV_STACK 32

/* "EVALSHA: <words>" becomes "<script name>: <words>": the command says
 * nothing a reader can use, the script's name does. */
static void
name_detail(const struct mf_redis_script *s, const char *cmd,
            struct mf_error *err) {
    char words[MF_ERROR_DETAIL_MAX];
    size_t n = strlen(cmd);
    const char *p = err->detail;

    if (strncmp(p, cmd, n) == 0 && p[n] == ':' && p[n + 1] == ' ')
        p += n + 2;
    snprintf(words, sizeof(words), "%s", p);
    mf_error_set(err, err->code, "%s: %s", s->name, words);
}

mf_err
mf_redis_script_run(struct mf_redis *r, const struct mf_redis_script *s,
                    size_t nkeys, size_t nargs, const char *const *argv,
                    const size_t *argvlen, redisReply **reply_r,
                    struct mf_error *err) {
    const char *sv[ARGV_STACK], **v = sv;
    size_t svlen[ARGV_STACK], *vlen = svlen;
    size_t argc = 3 + nkeys + nargs;
    char nk[24];
    mf_err rc;

    MF_ASSERT(s && s->text && s->sha1 && strlen(s->sha1) == 40);
    if (argc > ARGV_STACK) {
        v = mf_xcalloc(argc, sizeof(*v));
        vlen = mf_xcalloc(argc, sizeof(*vlen));
    }
    snprintf(nk, sizeof(nk), "%zu", nkeys);
    v[0] = "EVALSHA", vlen[0] = 7;
    v[1] = s->sha1, vlen[1] = 40;
    v[2] = nk, vlen[2] = strlen(nk);
    for (size_t i = 0; i < nkeys + nargs; i++) {
        v[3 + i] = argv[i];
        vlen[3 + i] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    rc = mf_redis_command_argv(r, (int)argc, v, vlen, reply_r, err);
    if (rc == MF_E_REDIS_NOSCRIPT) {
        v[0] = "EVAL", vlen[0] = 4;
        v[1] = s->text, vlen[1] = s->len;
        rc = mf_redis_command_argv(r, (int)argc, v, vlen, reply_r, err);
    }
    if (rc != MF_E_OK)
        name_detail(s, v[0], err);
    if (v != sv) {
        free(v);
        free(vlen);
    }
    return rc;
}
