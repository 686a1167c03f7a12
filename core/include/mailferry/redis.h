/*
 * Redis access shared by every part that keeps state there (docs/design.md §7):
 * one connection per thread, made from a URL, with commands that turn
 * hiredis failures into mf_err codes and keep hiredis' own words.
 *
 *   redis://[user@]host[:port][/db][?password-file=F]   TCP (default
 *                               port 6379, db 0)
 *   unix:///path/to/socket[?user=U&password-file=F]      a unix socket
 *
 * AUTH (issue 17 item 3): with a password file, every connection starts
 * with AUTH <password> (requirepass), or AUTH <user> <password> for a
 * Redis 6+ ACL user. The password is never in the URL (a URL shows up in
 * process lists, logs and config dumps; "user:password@" is refused); the
 * file is read with mf_secret_file_read() at each connect, so a rotated
 * password is picked up on the next reconnect, and wiped after use. When
 * the URL names no password file, MAILFERRY_REDIS_PASSWORD_FILE (and
 * MAILFERRY_REDIS_USER) from the environment apply, so every program and
 * command that takes a Redis URL authenticates the same way.
 *
 * TLS (rediss://) is not supported: Debian 12's hiredis is 0.14.1 and
 * hiredis_ssl only exists from hiredis 1.0. Put Redis on a private
 * network (Kubernetes NetworkPolicy) or behind a TLS tunnel.
 *
 * Keys: every key starts with "mf:" and carries a hash tag ("{...}") so
 * that all keys one Lua script or transaction touches live in one Redis
 * Cluster slot: "mf:{b:<batch>}:..." for a batch's records and
 * checkpoints. mf_redis_key() builds them.
 *
 * A lost connection is reported as MF_E_REDIS_UNAVAILABLE (class retry),
 * and so are Redis' "not ready" error replies (LOADING after a restart,
 * BUSY while a script runs too long, MASTERDOWN, TRYAGAIN, CLUSTERDOWN);
 * NOSCRIPT is MF_E_REDIS_NOSCRIPT; any other error reply is MF_E_REDIS
 * with Redis' words. The next command after a lost connection reconnects.
 * Nothing here retries by itself: the caller decides whether to pause work or
 * give up (docs/design.md §7).
 */
#ifndef MAILFERRY_REDIS_H
#define MAILFERRY_REDIS_H

#include "mailferry/err.h"

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define MF_REDIS_HOST_MAX 256
#define MF_REDIS_PATH_MAX 108 /* sun_path */
#define MF_REDIS_USER_MAX 128
#define MF_REDIS_PASSFILE_MAX 512

struct mf_redis_address {
    char host[MF_REDIS_HOST_MAX]; /* empty for a unix socket */
    uint16_t port;
    char path[MF_REDIS_PATH_MAX]; /* unix socket path, or empty */
    unsigned db;
    char user[MF_REDIS_USER_MAX];              /* ACL user, or empty */
    char password_file[MF_REDIS_PASSFILE_MAX]; /* or empty: no AUTH */
};

/* Parses a Redis URL (pure). *addr_r untouched on error. */
MF_WARN_UNUSED mf_err mf_redis_address_parse(const char *url,
                                             struct mf_redis_address *addr_r,
                                             struct mf_error *err);

struct mf_redis;

/* Milliseconds a Redis command may take unless told otherwise. */
#define MF_REDIS_DEFAULT_TIMEOUT_MS 5000

/* Connects to url. Commands time out after timeout_ms (0:
 * MF_REDIS_DEFAULT_TIMEOUT_MS; every program passes 0). hiredis
 * writes with plain send(), so a program must ignore SIGPIPE (every
 * program of ours does, in main) or a write to a Redis that has gone away
 * kills it silently instead of failing the command. */
MF_WARN_UNUSED mf_err mf_redis_connect(const char *url, long timeout_ms,
                                       struct mf_redis **r_r,
                                       struct mf_error *err);
void mf_redis_free(struct mf_redis **r);

/* Runs one command (hiredis redisCommandArgv semantics: binary-safe
 * arguments). On success *reply_r is the reply, which the caller frees
 * with freeReplyObject(); a Redis error reply is MF_E_REDIS with its text.
 * If the connection is broken, reconnects once first. */
MF_WARN_UNUSED mf_err mf_redis_command_argv(struct mf_redis *r, int argc,
                                            const char **argv,
                                            const size_t *argvlen,
                                            redisReply **reply_r,
                                            struct mf_error *err);
/* printf-style convenience for commands without binary arguments. */
MF_WARN_UNUSED mf_err mf_redis_command(struct mf_redis *r, redisReply **reply_r,
                                       struct mf_error *err, const char *fmt,
                                       ...);

/* Redis' clock (TIME), in Unix seconds: the one clock batch records use,
 * so that figures computed against them do not depend on this host's. */
MF_WARN_UNUSED mf_err mf_redis_time(struct mf_redis *r, int64_t *now_r,
                                    struct mf_error *err);
/* The same clock in Unix milliseconds, as the scripts' now_ms(). */
MF_WARN_UNUSED mf_err mf_redis_time_ms(struct mf_redis *r, int64_t *now_r,
                                       struct mf_error *err);

/* Most commands mf_redis_pipeline() sends at once. */
#define MF_REDIS_PIPELINE_MAX 1000

/* Sends the n commands (n <= MF_REDIS_PIPELINE_MAX; command i is argc[i]
 * strings argv[i] of lengths argvlen[i]) in one write, then reads their n
 * replies in order: one round trip instead of n. On success replies_r[i]
 * is command i's reply, which the caller frees with freeReplyObject(); an
 * error reply stays a REDIS_REPLY_ERROR reply there, for the caller to
 * judge (one failing command does not fail the others). A broken
 * connection is MF_E_REDIS_UNAVAILABLE, every reply read so far freed and
 * its slot NULL; nothing is resent. */
MF_WARN_UNUSED mf_err mf_redis_pipeline(struct mf_redis *r, size_t n,
                                        const int *argc,
                                        const char *const *const *argv,
                                        const size_t *const *argvlen,
                                        redisReply **replies_r,
                                        struct mf_error *err);

/* A Lua script (docs/design.md §7). The scripts live as .lua files beside
 * their module (core/src/<module>/lua/) and are embedded at build time
 * (cmake/MfEmbedLua.cmake), which also computes the SHA-1. */
struct mf_redis_script {
    const char *name; /* "batch/claim.lua": named in error details */
    const char *text; /* the whole script, NUL-terminated */
    size_t len;
    const char *sha1; /* 40 lowercase hex digits, as EVALSHA takes it */
};

/* Runs script s with nkeys keys followed by nargs arguments (argv and
 * argvlen hold nkeys + nargs binary-safe strings). Sends EVALSHA; when
 * Redis answers NOSCRIPT (first use, or a restart or SCRIPT FLUSH emptied
 * its cache) sends EVAL with the text, which also caches it for the next
 * EVALSHA. On success *reply_r is the script's reply (freeReplyObject()).
 * Errors, mapped from Redis' error words once, here and in the client:
 * MF_E_REDIS_UNAVAILABLE when Redis cannot be reached or is not ready
 * (LOADING, BUSY, MASTERDOWN, TRYAGAIN, CLUSTERDOWN: pause and retry);
 * MF_E_REDIS for any other refusal or an error the script raised, with
 * detail "<name>: <Redis' words>". Nothing is resent after a lost reply:
 * whether a script is safe to repeat is its caller's to know. */
MF_WARN_UNUSED mf_err mf_redis_script_run(
    struct mf_redis *r, const struct mf_redis_script *s, size_t nkeys,
    size_t nargs, const char *const *argv, const size_t *argvlen,
    redisReply **reply_r, struct mf_error *err);

/* Writes "mf:{<tag>}:<rest>" into out (truncates safely). */
void mf_redis_key(char *out, size_t n, const char *tag, const char *rest);

#endif
