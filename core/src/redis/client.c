/*
 * Redis connections over hiredis (see mailferry/redis.h). The connection
 * is synchronous with a timeout; callers run it on their own thread. After
 * any I/O error hiredis' context is unusable, so it is dropped and the
 * next command connects anew.
 */
#include "redis/redis_int.h"

#include "mailferry/config.h"
#include "mailferry/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mf_redis {
    struct mf_redis_address addr;
    long timeout_ms;
    redisContext *ctx; /* owned; NULL while disconnected */
};

/* Copies s[0..n) into out (size outn) or fails. */
static bool
copy_part(char *out, size_t outn, const char *s, size_t n) {
    if (n == 0 || n >= outn)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* "user=U&password-file=F" (the part after '?'). */
static mf_err
parse_query(const char *url, const char *q, struct mf_redis_address *a,
            struct mf_error *err) {
    while (*q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        bool ok = false;
        if (eq && (size_t)(eq - q) == 4 && strncmp(q, "user", 4) == 0)
            ok = copy_part(a->user, sizeof(a->user), eq + 1,
                           n - (size_t)(eq + 1 - q));
        else if (eq && (size_t)(eq - q) == 13 &&
                 strncmp(q, "password-file", 13) == 0)
            ok = copy_part(a->password_file, sizeof(a->password_file), eq + 1,
                           n - (size_t)(eq + 1 - q));
        if (!ok)
            return mf_error_set(err, MF_E_CONFIG,
                                "\"%.100s\": unknown or bad parameter \"%.*s\" "
                                "(user=NAME, password-file=PATH)",
                                url, (int)n, q);
        q += n;
        if (*q == '&')
            q++;
    }
    return MF_E_OK;
}

/* The environment's password file and user, when the URL has none. */
static void
auth_from_env(struct mf_redis_address *a) {
    const char *f = getenv("MAILFERRY_REDIS_PASSWORD_FILE");
    const char *u = getenv("MAILFERRY_REDIS_USER");

    if (a->password_file[0] || !f || !*f)
        return;
    snprintf(a->password_file, sizeof(a->password_file), "%s", f);
    if (!a->user[0] && u && *u)
        snprintf(a->user, sizeof(a->user), "%s", u);
}

mf_err
mf_redis_address_parse(const char *url, struct mf_redis_address *addr_r,
                       struct mf_error *err) {
    struct mf_redis_address a = {.port = 6379};
    const char *p, *end, *q = strchr(url, '?');
    char base[MF_REDIS_HOST_MAX + MF_REDIS_PATH_MAX + 64];
    uint64_t v;
    mf_err rc;

    {
        /* redis://user:password@...: refused before anything echoes the
         * URL (every other error quotes it). */
        const char *auth = strncmp(url, "redis://", 8) == 0 ? url + 8 : NULL;
        size_t n = auth ? strcspn(auth, "/?") : 0;
        const char *at = auth ? memchr(auth, '@', n) : NULL;
        if (at && memchr(auth, ':', (size_t)(at - auth)))
            return mf_error_set(err, MF_E_CONFIG,
                                "redis URL: put the password in a file "
                                "(?password-file=PATH or "
                                "MAILFERRY_REDIS_PASSWORD_FILE), not in the "
                                "URL");
    }
    if (q && (rc = parse_query(url, q + 1, &a, err)) != MF_E_OK)
        return rc;
    if (!q)
        q = url + strlen(url);
    if ((size_t)(q - url) >= sizeof(base))
        return mf_error_set(err, MF_E_CONFIG, "\"%.100s\": too long", url);
    memcpy(base, url, (size_t)(q - url));
    base[q - url] = '\0';
    if (strncmp(base, "unix://", 7) == 0) {
        p = base + 7;
        if (*p != '/' || strlen(p) >= sizeof(a.path))
            return mf_error_set(err, MF_E_CONFIG,
                                "\"%.100s\": unix:// needs an absolute socket "
                                "path shorter than %zu bytes",
                                url, sizeof(a.path));
        snprintf(a.path, sizeof(a.path), "%s", p);
        goto done;
    }
    if (strncmp(base, "rediss://", 9) == 0)
        return mf_error_set(err, MF_E_CONFIG,
                            "\"%.100s\": Redis over TLS (rediss://) is not "
                            "supported: this build's hiredis (0.14) has no "
                            "TLS; use a private network or a TLS tunnel",
                            url);
    if (strncmp(base, "redis://", 8) != 0)
        return mf_error_set(err, MF_E_CONFIG,
                            "\"%.100s\": a Redis URL is redis://host:port or "
                            "unix:///path",
                            url);
    p = base + 8;
    end = strchr(p, '@');
    if (end) {
        /* redis://user@host: the ACL user (a password here was refused
         * above: it would end up in process lists and logs). */
        if (!copy_part(a.user, sizeof(a.user), p, (size_t)(end - p)))
            return mf_error_set(err, MF_E_CONFIG, "\"%.100s\": bad user", url);
        p = end + 1;
    }
    end = p + strcspn(p, ":/");
    if (end == p || (size_t)(end - p) >= sizeof(a.host))
        return mf_error_set(err, MF_E_CONFIG, "\"%.100s\": bad host", url);
    memcpy(a.host, p, (size_t)(end - p));
    p = end;
    if (*p == ':') {
        char digits[8];
        size_t n = strspn(p + 1, "0123456789");
        if (n == 0 || n >= sizeof(digits))
            return mf_error_set(err, MF_E_CONFIG, "\"%.100s\": bad port", url);
        memcpy(digits, p + 1, n);
        digits[n] = '\0';
        if (!mf_parse_u64(digits, 1, 65535, &v))
            return mf_error_set(err, MF_E_CONFIG, "\"%.100s\": bad port", url);
        a.port = (uint16_t)v;
        p += 1 + n;
    }
    if (*p == '/' && p[1] != '\0') {
        if (!mf_parse_u64(p + 1, 0, 15, &v))
            return mf_error_set(err, MF_E_CONFIG,
                                "\"%.100s\": the database is 0 to 15", url);
        a.db = (unsigned)v;
    } else if (*p != '\0' && strcmp(p, "/") != 0) {
        return mf_error_set(err, MF_E_CONFIG, "\"%.100s\": unexpected \"%s\"",
                            url, p);
    }
done:
    if (a.user[0] && !a.password_file[0] &&
        !getenv("MAILFERRY_REDIS_PASSWORD_FILE"))
        return mf_error_set(err, MF_E_CONFIG,
                            "\"%.100s\": user %s needs a password file "
                            "(?password-file=PATH)",
                            url, a.user);
    *addr_r = a;
    return MF_E_OK;
}

/* AUTH [user] password (Redis 6 ACL, or requirepass), the password read
 * from its file now and wiped after. */
static mf_err
authenticate(redisContext *c, const struct mf_redis_address *a,
             const char *where, struct mf_error *err) {
    char *pw = NULL;
    redisReply *reply;
    mf_err rc;

    if ((rc = mf_secret_read_file(a->password_file, &pw, err)) != MF_E_OK)
        return rc;
    if (a->user[0])
        reply = redisCommand(c, "AUTH %s %s", a->user, pw);
    else
        reply = redisCommand(c, "AUTH %s", pw);
    mf_secret_free(&pw);
    if (!reply)
        return mf_error_set(err, MF_E_REDIS_UNAVAILABLE, "%s: AUTH: %s", where,
                            c->errstr);
    if (reply->type == REDIS_REPLY_ERROR)
        rc = mf_error_set(err, MF_E_REDIS_AUTH, "%s: AUTH%s%s refused: %s",
                          where, a->user[0] ? " as " : "", a->user, reply->str);
    else
        rc = MF_E_OK;
    freeReplyObject(reply);
    return rc;
}

static void
describe(const struct mf_redis *r, char *out, size_t n) {
    if (r->addr.path[0])
        snprintf(out, n, "unix://%s", r->addr.path);
    else
        snprintf(out, n, "redis://%s:%u", r->addr.host, r->addr.port);
}

static mf_err
reconnect(struct mf_redis *r, struct mf_error *err) {
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    char where[MF_REDIS_HOST_MAX + 32];
    redisContext *c;
    mf_err rc;

    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    describe(r, where, sizeof(where));
    if (r->addr.path[0])
        c = redisConnectUnixWithTimeout(r->addr.path, tv);
    else
        c = redisConnectWithTimeout(r->addr.host, r->addr.port, tv);
    if (!c)
        return mf_error_set(err, MF_E_REDIS_UNAVAILABLE, "%s: cannot connect",
                            where);
    if (c->err) {
        rc = mf_error_set(err, MF_E_REDIS_UNAVAILABLE, "%s: %s", where,
                          c->errstr);
        redisFree(c);
        return rc;
    }
    redisSetTimeout(c, tv);
    if (r->addr.password_file[0] &&
        (rc = authenticate(c, &r->addr, where, err)) != MF_E_OK) {
        redisFree(c);
        return rc;
    }
    r->ctx = c;
    if (r->addr.db) {
        redisReply *reply = redisCommand(c, "SELECT %u", r->addr.db);
        bool ok = reply && reply->type == REDIS_REPLY_STATUS;
        if (reply)
            freeReplyObject(reply);
        if (!ok) {
            redisFree(r->ctx);
            r->ctx = NULL;
            return mf_error_set(err, MF_E_REDIS, "%s: SELECT %u failed", where,
                                r->addr.db);
        }
    }
    return MF_E_OK;
}

mf_err
mf_redis_connect(const char *url, long timeout_ms, struct mf_redis **r_r,
                 struct mf_error *err) {
    struct mf_redis *r = mf_xcalloc(1, sizeof(*r));
    mf_err rc;

    if ((rc = mf_redis_address_parse(url, &r->addr, err)) != MF_E_OK ||
        (auth_from_env(&r->addr),
         r->timeout_ms = timeout_ms ? timeout_ms : MF_REDIS_DEFAULT_TIMEOUT_MS,
         rc = reconnect(r, err)) != MF_E_OK) {
        free(r);
        return rc;
    }
    *r_r = r;
    return MF_E_OK;
}

void
mf_redis_free(struct mf_redis **rp) {
    struct mf_redis *r = *rp;

    if (!r)
        return;
    if (r->ctx)
        redisFree(r->ctx);
    free(r);
    *rp = NULL;
}

mf_err
mf__redis_reply_error(const char *text, size_t len) {
    /* Redis' error replies start with an upper-case word that says what
     * went wrong ("ERR" when nothing more specific applies). */
    static const struct {
        const char *word;
        mf_err code;
    } words[] = {
        {"NOSCRIPT", MF_E_REDIS_NOSCRIPT},
        {"LOADING", MF_E_REDIS_UNAVAILABLE},
        {"BUSY", MF_E_REDIS_UNAVAILABLE},
        {"MASTERDOWN", MF_E_REDIS_UNAVAILABLE},
        {"TRYAGAIN", MF_E_REDIS_UNAVAILABLE},
        {"CLUSTERDOWN", MF_E_REDIS_UNAVAILABLE},
    };
    size_t n = 0;

    while (n < len && text[n] != ' ')
        n++;
    for (size_t i = 0; i < MF_ARRAY_LEN(words); i++)
        if (strlen(words[i].word) == n && memcmp(words[i].word, text, n) == 0)
            return words[i].code;
    return MF_E_REDIS;
}

/* Turns hiredis' answer into ours: no reply means the connection broke
 * (dropped, so the next command reconnects); an error reply becomes the
 * code its first word says (mf__redis_reply_error()) with Redis' text. */
static mf_err
finish(struct mf_redis *r, redisReply *reply, const char *what,
       redisReply **reply_r, struct mf_error *err) {
    char where[MF_REDIS_HOST_MAX + 32];
    mf_err rc;

    if (!reply) {
        describe(r, where, sizeof(where));
        rc = mf_error_set(err, MF_E_REDIS_UNAVAILABLE, "%s: %s", where,
                          r->ctx->errstr[0] ? r->ctx->errstr : "no reply");
        redisFree(r->ctx);
        r->ctx = NULL;
        return rc;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        rc = mf_error_set(err, mf__redis_reply_error(reply->str, reply->len),
                          "%s: %.*s", what, (int)reply->len, reply->str);
        freeReplyObject(reply);
        return rc;
    }
    *reply_r = reply;
    return MF_E_OK;
}

mf_err
mf_redis_command_argv(struct mf_redis *r, int argc, const char **argv,
                      const size_t *argvlen, redisReply **reply_r,
                      struct mf_error *err) {
    mf_err rc;

    if (!r->ctx && (rc = reconnect(r, err)) != MF_E_OK)
        return rc;
    return finish(r, redisCommandArgv(r->ctx, argc, argv, argvlen), argv[0],
                  reply_r, err);
}

mf_err
mf_redis_pipeline(struct mf_redis *r, size_t n, const int *argc,
                  const char *const *const *argv, const size_t *const *argvlen,
                  redisReply **replies_r, struct mf_error *err) {
    size_t got = 0;
    mf_err rc = MF_E_OK;

    MF_ASSERT(n <= MF_REDIS_PIPELINE_MAX);
    if (!r->ctx && (rc = reconnect(r, err)) != MF_E_OK)
        return rc;
    /* hiredis only buffers here; the first redisGetReply() writes it all
     * out, then reads the answers in the order the commands went. */
    for (size_t i = 0; i < n; i++)
        if (redisAppendCommandArgv(r->ctx, argc[i], (const char **)argv[i],
                                   argvlen[i]) != REDIS_OK)
            return finish(r, NULL, argv[i][0], NULL, err);
    for (; got < n; got++) {
        void *reply = NULL;
        if (redisGetReply(r->ctx, &reply) != REDIS_OK || !reply) {
            rc = finish(r, NULL, argv[got][0], NULL, err);
            break;
        }
        replies_r[got] = reply;
    }
    if (rc != MF_E_OK)
        for (size_t i = 0; i < got; i++) {
            freeReplyObject(replies_r[i]);
            replies_r[i] = NULL;
        }
    return rc;
}

mf_err
mf_redis_command(struct mf_redis *r, redisReply **reply_r, struct mf_error *err,
                 const char *fmt, ...) {
    redisReply *reply;
    va_list ap;
    mf_err rc;

    if (!r->ctx && (rc = reconnect(r, err)) != MF_E_OK)
        return rc;
    va_start(ap, fmt);
    reply = redisvCommand(r->ctx, fmt, ap);
    va_end(ap);
    return finish(r, reply, "command", reply_r, err);
}

mf_err
mf_redis_time_ms(struct mf_redis *r, int64_t *now_r, struct mf_error *err) {
    redisReply *reply = NULL;
    mf_err rc = mf_redis_command(r, &reply, err, "TIME");

    if (rc)
        return rc;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING)
        rc = mf_error_set(err, MF_E_REDIS, "TIME: unexpected reply");
    else
        *now_r = strtoll(reply->element[0]->str, NULL, 10) * 1000 +
                 strtoll(reply->element[1]->str, NULL, 10) / 1000;
    freeReplyObject(reply);
    return rc;
}

mf_err
mf_redis_time(struct mf_redis *r, int64_t *now_r, struct mf_error *err) {
    int64_t ms;
    mf_err rc = mf_redis_time_ms(r, &ms, err);

    if (rc == MF_E_OK)
        *now_r = ms / 1000;
    return rc;
}

void
mf_redis_key(char *out, size_t n, const char *tag, const char *rest) {
    snprintf(out, n, "mf:{%s}:%s", tag, rest);
}
