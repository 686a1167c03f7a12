/*
 * The embedded Redis (see mailferry/embedded.h): a redis-server child on a
 * unix socket in a private directory. It is told to die with its parent
 * (PR_SET_PDEATHSIG), so even a parent killed with -9 leaves no server
 * behind; a normal stop sends SIGTERM and waits.
 */
#include "mailferry/embedded.h"

#include "mailferry/redis.h"
#include "mailferry/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct mf_redis_child {
    pid_t pid;
    char dir[4096];
    char url[4200];
};

/* Sleeps *ms, then doubles it up to 50: redis-server starts and stops in
 * a few to some tens of ms, and every `mailferry migrate` waits for both
 * (fixed 50 ms polls cost a run 50-100 ms, a fifth of an empty one). */
static void
backoff_ms(long *ms) {
    struct timespec ts = {*ms / 1000, (*ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
    *ms = *ms * 2 > 50 ? 50 : *ms * 2;
}

static void
remove_dir(const char *dir) {
    const char *names[] = {"redis.sock", "redis.log", "dump.rdb"};
    char p[4200];

    for (size_t i = 0; i < MF_ARRAY_LEN(names); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

mf_err
mf_redis_child_start(const char *redis_server, const char *tmpdir,
                     struct mf_redis_child **c_r, struct mf_error *err) {
    struct mf_redis_child *c = mf_xcalloc(1, sizeof(*c));
    const char *base = tmpdir ? tmpdir : getenv("TMPDIR");
    char sock[4200], logf[4200];
    pid_t parent = getpid();
    long wait = 1;

    snprintf(c->dir, sizeof(c->dir), "%s/mailferry-embedded-redis.XXXXXX",
             base && base[0] ? base : "/tmp");
    if (!mkdtemp(c->dir)) {
        mf_error_set(err, MF_E_IO, "cannot create a directory for Redis: %s",
                     strerror(errno));
        free(c);
        return MF_E_IO;
    }
    snprintf(sock, sizeof(sock), "%s/redis.sock", c->dir);
    snprintf(logf, sizeof(logf), "%s/redis.log", c->dir);
    snprintf(c->url, sizeof(c->url), "unix://%.4000s", sock);
    c->pid = fork();
    if (c->pid < 0) {
        remove_dir(c->dir);
        free(c);
        return mf_error_set(err, MF_E_IO, "fork: %s", strerror(errno));
    }
    if (c->pid == 0) {
        const char *prog = redis_server ? redis_server : "redis-server";
        int devnull = open("/dev/null", O_RDWR);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1); /* the parent is already gone */
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execlp(prog, prog, "--port", "0", "--unixsocket", sock,
               "--unixsocketperm", "700", "--dir", c->dir, "--save", "",
               "--appendonly", "no", "--logfile", logf, "--daemonize", "no",
               (char *)NULL);
        _exit(127);
    }
    for (uint64_t end = mf_monotonic_ms() + 10000; mf_monotonic_ms() < end;) {
        struct mf_redis *r = NULL;
        struct mf_error e2;
        int status;

        if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
            remove_dir(c->dir);
            free(c);
            return mf_error_set(err, MF_E_REDIS_UNAVAILABLE,
                                "redis-server exited at start (is the "
                                "redis-server package installed?)");
        }
        if (access(sock, F_OK) == 0 &&
            mf_redis_connect(c->url, 1000, &r, &e2) == MF_E_OK) {
            mf_redis_free(&r);
            *c_r = c;
            return MF_E_OK;
        }
        backoff_ms(&wait);
    }
    mf_redis_child_stop(&c);
    return mf_error_set(err, MF_E_REDIS_UNAVAILABLE,
                        "redis-server did not answer within 10 s");
}

const char *
mf_redis_child_url(const struct mf_redis_child *c) {
    return c->url;
}

/* SHUTDOWN NOSAVE: redis-server exits at once, where SIGTERM waits for
 * its next serverCron, up to 100 ms at the default hz of 10 (37-122 ms
 * of every `mailferry migrate`'s stop, measured). Best effort: SIGTERM
 * follows. */
static void
ask_shutdown(const struct mf_redis_child *c) {
    struct mf_redis *r = NULL;
    redisReply *reply = NULL;
    struct mf_error e;

    if (mf_redis_connect(c->url, 1000, &r, &e) != MF_E_OK)
        return;
    /* No reply: the server closes the connection as it exits. */
    if (mf_redis_command(r, &reply, &e, "SHUTDOWN NOSAVE") == MF_E_OK)
        freeReplyObject(reply);
    mf_redis_free(&r);
}

void
mf_redis_child_stop(struct mf_redis_child **cp) {
    struct mf_redis_child *c = *cp;
    int status;

    if (!c)
        return;
    if (c->pid > 0) {
        long wait = 1;

        ask_shutdown(c);
        kill(c->pid, SIGTERM);
        for (uint64_t end = mf_monotonic_ms() + 5000;
             mf_monotonic_ms() < end;) {
            if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
                c->pid = 0;
                break;
            }
            backoff_ms(&wait);
        }
        if (c->pid > 0) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
        }
    }
    remove_dir(c->dir);
    free(c);
    *cp = NULL;
}
