/*
 * Configuration: named settings from three sources, in this order of
 * precedence (docs/design.md §3):
 *
 *   1. command-line flags      --max-connections 10
 *   2. environment variables   MAILFERRY_MAX_CONNECTIONS=10
 *   3. a config file           max-connections = 10
 *
 * Keys are lower case with '-' between words and '.' between sections
 * ("kafka.security.protocol"). The environment name of a key is
 * MAILFERRY_ followed by the key in upper case with '-' and '.' turned into
 * '_'. The file is "key = value" lines, '#' comments, and optional
 * "[section]" headers that prefix the keys below them ("[kafka]" then
 * "sasl.mechanism = PLAIN" is "kafka.sasl.mechanism").
 *
 * Secrets come from files: mf_config_get_secret("admin-password") reads
 * the file named by "admin-password-file". A secret given inline is
 * refused, so it never sits in shell history or `ps` output.
 */
#ifndef MAILFERRY_CONFIG_H
#define MAILFERRY_CONFIG_H

#include "mailferry/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mf_config;

enum mf_config_source {
    MF_CONFIG_UNSET,
    MF_CONFIG_FLAG,
    MF_CONFIG_ENV,
    MF_CONFIG_FILE,
};

/* Limits on what a config or secret file may hold. */
#define MF_CONFIG_MAX_FILE (1024 * 1024)
#define MF_CONFIG_MAX_LINE 4096
#define MF_SECRET_MAX 8192

struct mf_config *mf_config_new(void);
void mf_config_free(struct mf_config **c);

/* Records a command-line flag (copied). A later flag with the same key
 * replaces an earlier one. */
void mf_config_set_flag(struct mf_config *c, const char *key,
                        const char *value);

/* Loads a config file. On error, err says which line and why; settings
 * read so far stay. */
MF_WARN_UNUSED mf_err mf_config_load_file(struct mf_config *c, const char *path,
                                          struct mf_error *err);

/* The value of key by precedence, or NULL. Borrowed: valid until c is
 * freed or the key set again. source_r may be NULL. */
const char *mf_config_get(const struct mf_config *c, const char *key,
                          enum mf_config_source *source_r);

/* The value of key as an integer in [min, max], or def when unset. Sizes
 * accept K/M/G suffixes (powers of 1024) and durations s/m/h/d suffixes
 * (in seconds) when kind says so. */
enum mf_config_unit { MF_UNIT_NONE, MF_UNIT_BYTES, MF_UNIT_SECONDS };
MF_WARN_UNUSED mf_err mf_config_get_u64(const struct mf_config *c,
                                        const char *key, uint64_t def,
                                        uint64_t min, uint64_t max,
                                        enum mf_config_unit unit,
                                        uint64_t *out_r, struct mf_error *err);

/* The value of key as a boolean (true/false/yes/no/on/off/1/0), or def. */
MF_WARN_UNUSED mf_err mf_config_get_bool(const struct mf_config *c,
                                         const char *key, bool def, bool *out_r,
                                         struct mf_error *err);

/* Parses a number with an optional unit suffix (see mf_config_get_u64). */
bool mf_parse_with_unit(const char *s, enum mf_config_unit unit,
                        uint64_t *out_r);

/* Reads the secret named key from the file given as "<key>-file". One
 * trailing newline is removed. *secret_r is NULL when the key is unset.
 * The caller wipes and frees it with mf_secret_free(). */
MF_WARN_UNUSED mf_err mf_config_get_secret(const struct mf_config *c,
                                           const char *key, char **secret_r,
                                           struct mf_error *err);
/* Reads a whole secret file of at most max bytes into a new buffer
 * (*buf_r, NUL added, *len_r bytes) that the caller wipes (mf_wipe) and
 * frees. Refuses a file that group or others can write and logs a
 * warning when they can read it (MF_E_SECRET_FILE; see secretfile.c).
 * No stdio: nothing of the secret stays in a buffer that is not wiped. */
MF_WARN_UNUSED mf_err mf_secret_file_read(const char *path, size_t max,
                                          char **buf_r, size_t *len_r,
                                          struct mf_error *err);
/* Sets RLIMIT_CORE to 0 and PR_SET_DUMPABLE to 0 for this process: no
 * core file and no ptrace or /proc/PID/mem by other processes of the same
 * user. For programs that hold the master key (mailferry-worker,
 * mailferry serve). MF_E_INTERNAL with the system's words on failure. */
MF_WARN_UNUSED mf_err mf_process_no_core_dumps(struct mf_error *err);
/* Reads a whole secret file (at most MF_SECRET_MAX bytes), minus one
 * trailing newline, with mf_secret_file_read(). */
MF_WARN_UNUSED mf_err mf_secret_read_file(const char *path, char **secret_r,
                                          struct mf_error *err);
/* Wipes and frees *secret, sets it to NULL. */
void mf_secret_free(char **secret);

/* Calls cb for every key that starts with prefix, across all sources,
 * each key once with its winning value. Environment variables
 * MAILFERRY_<PREFIX>_<NAME> map back to "<prefix>.<name>" with '_' read
 * as '.', which suits librdkafka properties (they use dots only). */
void mf_config_each_prefixed(const struct mf_config *c, const char *prefix,
                             void (*cb)(void *ud, const char *key,
                                        const char *value),
                             void *ud);

/* Whether the option name (len bytes, without "--") is one that passes
 * through to librdkafka: "kafka.<property>" (mf_config_each_prefixed()).
 * Every program accepts these besides its own options, with a value. */
bool mf_config_passthrough(const char *name, size_t len);

/* The environment variable name for key ("MAILFERRY_MAX_CONNECTIONS"). */
void mf_config_env_name(const char *key, char *out, size_t n);

#endif
