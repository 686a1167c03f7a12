/*
 * Smoke test of the redis fixture (ctest integration.redis.smoke).
 *
 * Connects over TCP (REDIS_HOST/REDIS_PORT) and over the unix socket
 * (REDIS_SOCKET), PINGs, SETs a key on one and GETs it on the other, then
 * restarts the server through the fixture script (`fixture restart`, the
 * same verb fault tests use) and checks that the key survived through the
 * AOF and that the server has a new PID. The server is left running, as
 * the fixture's stop test expects.
 */
#include "testenv.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...) {
    va_list ap;

    fputs("smoke_redis: FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static char *
env_or_die(const char *key) {
    char *v = mf_testenv_get("redis", key);

    if (!v)
        die("redis.env lacks %s (fixture down?)", key);
    return v;
}

static redisContext *
connect_tcp(void) {
    char *host = env_or_die("REDIS_HOST"), *port = env_or_die("REDIS_PORT");
    struct timeval tv = {.tv_sec = 5};
    redisContext *c;
    char *end;
    long p;

    errno = 0;
    p = strtol(port, &end, 10);
    if (errno || *end || p <= 0 || p > 65535)
        die("bad REDIS_PORT %s", port);
    c = redisConnectWithTimeout(host, (int)p, tv);
    if (!c || c->err)
        die("connect %s:%ld: %s", host, p, c ? c->errstr : "out of memory");
    free(host);
    free(port);
    return c;
}

static redisContext *
connect_unix(void) {
    char *path = env_or_die("REDIS_SOCKET");
    struct timeval tv = {.tv_sec = 5};
    redisContext *c = redisConnectUnixWithTimeout(path, tv);

    if (!c || c->err)
        die("connect %s: %s", path, c ? c->errstr : "out of memory");
    free(path);
    return c;
}

/* Runs a command and checks that the reply is a status or string equal to
 * want (NULL: any non-error reply). */
static void
expect(redisContext *c, const char *want, const char *fmt, ...) {
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r)
        die("%s: %s", fmt, c->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        die("%s: error reply %s", fmt, r->str);
    if (want &&
        ((r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_STRING) ||
         strcmp(r->str, want) != 0))
        die("%s: got %s, want %s", fmt,
            r->type == REDIS_REPLY_NIL ? "(nil)"
            : r->str                   ? r->str
                                       : "?",
            want);
    freeReplyObject(r);
}

static void
run_fixture_restart(void) {
    const char *src = getenv("MF_SOURCE_DIR");
    char script[4096];
    char verb[] = "restart";
    char *argv[] = {script, verb, NULL};
    pid_t pid;
    int st, err;

    if (!src)
        die("MF_SOURCE_DIR is not set");
    snprintf(script, sizeof(script), "%s/tests/support/redis/fixture", src);
    /* The child inherits MF_TEST_RUN_DIR, which locates redis.env. */
    err = posix_spawn(&pid, script, NULL, NULL, argv, environ);
    if (err)
        die("spawn %s: %s", script, strerror(err));
    if (waitpid(pid, &st, 0) != pid)
        die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("%s restart failed (status %d)", script, st);
}

int
main(void) {
    char value[64], *pid_before, *pid_after;
    redisContext *tcp, *unx;

    snprintf(value, sizeof(value), "v-%ld-%ld", (long)getpid(),
             (long)time(NULL));

    tcp = connect_tcp();
    unx = connect_unix();
    expect(tcp, "PONG", "PING");
    expect(unx, "PONG", "PING");
    expect(tcp, "OK", "SET mf:smoke %s", value);
    expect(unx, value, "GET mf:smoke");
    /* A second write on the unix socket, so both paths reach the AOF. */
    expect(unx, "OK", "SET mf:smoke:unix %s", value);
    expect(tcp, value, "GET mf:smoke:unix");
    redisFree(tcp);
    redisFree(unx);

    pid_before = env_or_die("REDIS_PID");
    run_fixture_restart();
    pid_after = env_or_die("REDIS_PID");
    if (strcmp(pid_before, pid_after) == 0)
        die("REDIS_PID did not change across restart (%s)", pid_before);

    tcp = connect_tcp();
    unx = connect_unix();
    expect(tcp, value, "GET mf:smoke");
    expect(unx, value, "GET mf:smoke:unix");
    expect(tcp, "PONG", "PING");
    redisFree(tcp);
    redisFree(unx);

    printf("ok: redis pid %s -> %s, keys survived the restart\n", pid_before,
           pid_after);
    free(pid_before);
    free(pid_after);
    return 0;
}
