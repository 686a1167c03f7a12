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

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static inline struct mf_redis *
ct_connect(void) {
    char *url = mf_testenv_redis("REDIS_URL");
    struct mf_redis *r = NULL;
    struct mf_error err = {0};

    if (!url || mf_redis_connect(url, 0, &r, &err) != MF_E_OK) {
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

/* Private servers still running and their directories, reaped at exit
 * (a failed assertion skips a test's own cleanup). */
static pid_t ct_pids[8];
static char ct_dirs[8][64];

static inline void
ct_reap(void) {
    for (size_t i = 0; i < MF_ARRAY_LEN(ct_pids); i++) {
        if (ct_pids[i] > 0) {
            kill(ct_pids[i], SIGKILL);
            waitpid(ct_pids[i], NULL, 0);
            ct_pids[i] = 0;
        }
        if (ct_dirs[i][0])
            rmdir(ct_dirs[i]);
    }
}

static inline void
ct_track(pid_t pid, const char *dir) {
    static bool registered;

    if (!registered) {
        atexit(ct_reap);
        registered = true;
    }
    for (size_t i = 0; i < MF_ARRAY_LEN(ct_pids); i++) {
        if (ct_pids[i] == 0) {
            ct_pids[i] = pid;
            snprintf(ct_dirs[i], sizeof(ct_dirs[i]), "%s", dir);
            return;
        }
    }
}

/* A private redis-server (no persistence) on port, for tests that need
 * exact command counts or to stop Redis without disturbing others.
 * Returns its PID once it answers, or -1. */
static inline pid_t
ct_spawn_redis(int port, const char *dir) {
    char ports[16];
    pid_t pid;

    snprintf(ports, sizeof(ports), "%d", port);
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        /* Dies with the test, even if the test is killed by a timeout. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (null >= 0)
            dup2(null, 1);
        execl("/usr/bin/redis-server", "redis-server", "--port", ports,
              "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
              "--dir", dir, "--logfile", "", "--loglevel", "warning",
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        struct mf_redis *r = NULL;
        struct mf_error err = {0};
        char *url = mf_xasprintf("redis://127.0.0.1:%d", port);
        mf_err rc = mf_redis_connect(url, 500, &r, &err);
        free(url);
        mf_redis_free(&r);
        if (rc == MF_E_OK) {
            ct_track(pid, dir);
            return pid;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        ct_sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static inline void
ct_stop_redis(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    for (size_t i = 0; i < MF_ARRAY_LEN(ct_pids); i++)
        if (ct_pids[i] == pid)
            ct_pids[i] = 0;
}

static inline int
ct_free_port(void) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t n = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &n) != 0)
        abort();
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Starts a private redis-server on a free port; *url_r is its URL. */
static inline pid_t
ct_private_redis(const char *dir, char **url_r) {
    for (int i = 0; i < 5; i++) {
        int port = ct_free_port();
        pid_t pid = ct_spawn_redis(port, dir);
        if (pid > 0) {
            *url_r = mf_xasprintf("redis://127.0.0.1:%d", port);
            return pid;
        }
    }
    return -1;
}

static inline struct mf_redis *
ct_connect_url(const char *url) {
    struct mf_redis *r = NULL;
    struct mf_error err = {0};

    if (mf_redis_connect(url, 0, &r, &err) != MF_E_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", url, err.detail);
        abort();
    }
    return r;
}

#endif
