/*
 * Configuration store (see mailferry/config.h). Flags and file entries are
 * kept in two small arrays of owned key/value strings; the environment is
 * read on demand so a value never goes stale. Lookups are linear: a
 * program has a few dozen settings.
 */
#include "mailferry/config.h"

#include "mailferry/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

extern char **environ;

struct kv {
    char *key;   /* owned */
    char *value; /* owned */
};

struct kvlist {
    struct kv *items; /* owned */
    size_t len, cap;
};

struct mf_config {
    struct kvlist flags;
    struct kvlist file;
};

static struct kv *
kv_find(const struct kvlist *l, const char *key) {
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return &l->items[i];
    return NULL;
}

static void
kv_set(struct kvlist *l, const char *key, const char *value) {
    struct kv *kv = kv_find(l, key);

    if (kv) {
        free(kv->value);
        kv->value = mf_xstrdup(value);
        return;
    }
    if (l->len == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = mf_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->len].key = mf_xstrdup(key);
    l->items[l->len].value = mf_xstrdup(value);
    l->len++;
}

static void
kv_free(struct kvlist *l) {
    for (size_t i = 0; i < l->len; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

struct mf_config *
mf_config_new(void) {
    return mf_xcalloc(1, sizeof(struct mf_config));
}

void
mf_config_free(struct mf_config **c) {
    if (!*c)
        return;
    kv_free(&(*c)->flags);
    kv_free(&(*c)->file);
    free(*c);
    *c = NULL;
}

void
mf_config_set_flag(struct mf_config *c, const char *key, const char *value) {
    kv_set(&c->flags, key, value);
}

void
mf_config_env_name(const char *key, char *out, size_t n) {
    size_t o = (size_t)snprintf(out, n, "MAILFERRY_");

    for (const char *k = key; *k && o + 1 < n; k++, o++)
        out[o] =
            (*k == '-' || *k == '.') ? '_' : (char)toupper((unsigned char)*k);
    if (o < n)
        out[o] = '\0';
}

const char *
mf_config_get(const struct mf_config *c, const char *key,
              enum mf_config_source *source_r) {
    enum mf_config_source src = MF_CONFIG_UNSET;
    const char *value = NULL;
    struct kv *kv;
    char env[256];

    if ((kv = kv_find(&c->flags, key)) != NULL) {
        src = MF_CONFIG_FLAG, value = kv->value;
    } else {
        mf_config_env_name(key, env, sizeof(env));
        if ((value = getenv(env)) != NULL)
            src = MF_CONFIG_ENV;
        else if ((kv = kv_find(&c->file, key)) != NULL)
            src = MF_CONFIG_FILE, value = kv->value;
    }
    if (source_r)
        *source_r = src;
    return value;
}

static char *
trim(char *s) {
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

mf_err
mf_config_load_file(struct mf_config *c, const char *path,
                    struct mf_error *err) {
    char line[MF_CONFIG_MAX_LINE + 2];
    char section[128] = "";
    unsigned lineno = 0;
    struct stat st;
    mf_err rc = MF_E_OK;
    FILE *f = fopen(path, "r");

    if (!f)
        return mf_error_set(err, MF_E_CONFIG, "%s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) == 0 && st.st_size > MF_CONFIG_MAX_FILE) {
        rc = mf_error_set(err, MF_E_CONFIG, "%s: larger than %d bytes", path,
                          MF_CONFIG_MAX_FILE);
        goto out;
    }
    while (fgets(line, sizeof(line), f)) {
        char *s, *eq, *key, *value;

        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = mf_error_set(err, MF_E_CONFIG, "%s:%u: line too long", path,
                              lineno);
            goto out;
        }
        s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || close[1] != '\0' ||
                close - s - 1 >= (long)sizeof(section)) {
                rc = mf_error_set(err, MF_E_CONFIG, "%s:%u: bad section header",
                                  path, lineno);
                goto out;
            }
            *close = '\0';
            snprintf(section, sizeof(section), "%s", trim(s + 1));
            continue;
        }
        eq = strchr(s, '=');
        if (!eq) {
            rc = mf_error_set(err, MF_E_CONFIG,
                              "%s:%u: expected \"key = value\"", path, lineno);
            goto out;
        }
        *eq = '\0';
        key = trim(s);
        value = trim(eq + 1);
        if (*key == '\0') {
            rc = mf_error_set(err, MF_E_CONFIG, "%s:%u: empty key", path,
                              lineno);
            goto out;
        }
        /* Optional quotes around a value keep leading/trailing spaces. */
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        if (section[0]) {
            char *full = mf_xasprintf("%s.%s", section, key);
            kv_set(&c->file, full, value);
            free(full);
        } else {
            kv_set(&c->file, key, value);
        }
    }
    if (ferror(f))
        rc = mf_error_set(err, MF_E_CONFIG, "%s: read error", path);
out:
    fclose(f);
    return rc;
}

bool
mf_parse_with_unit(const char *s, enum mf_config_unit unit, uint64_t *out_r) {
    char digits[32];
    size_t n = strlen(s);
    uint64_t mult = 1, v;

    if (n == 0 || n >= sizeof(digits))
        return false;
    memcpy(digits, s, n + 1);
    if (unit != MF_UNIT_NONE && isalpha((unsigned char)digits[n - 1])) {
        char u = (char)tolower((unsigned char)digits[n - 1]);
        if (unit == MF_UNIT_BYTES && u == 'k')
            mult = 1024;
        else if (unit == MF_UNIT_BYTES && u == 'm')
            mult = 1024 * 1024;
        else if (unit == MF_UNIT_BYTES && u == 'g')
            mult = 1024ULL * 1024 * 1024;
        else if (unit == MF_UNIT_SECONDS && u == 's')
            mult = 1;
        else if (unit == MF_UNIT_SECONDS && u == 'm')
            mult = 60;
        else if (unit == MF_UNIT_SECONDS && u == 'h')
            mult = 3600;
        else if (unit == MF_UNIT_SECONDS && u == 'd')
            mult = 86400;
        else
            return false;
        digits[n - 1] = '\0';
    }
    if (!mf_parse_u64(digits, 0, UINT64_MAX / mult, &v))
        return false;
    *out_r = v * mult;
    return true;
}

mf_err
mf_config_get_u64(const struct mf_config *c, const char *key, uint64_t def,
                  uint64_t min, uint64_t max, enum mf_config_unit unit,
                  uint64_t *out_r, struct mf_error *err) {
    const char *s = mf_config_get(c, key, NULL);
    uint64_t v;

    if (!s) {
        *out_r = def;
        return MF_E_OK;
    }
    if (!mf_parse_with_unit(s, unit, &v) || v < min || v > max)
        return mf_error_set(
            err, MF_E_CONFIG, "%s: \"%s\" is not a number from %llu to %llu",
            key, s, (unsigned long long)min, (unsigned long long)max);
    *out_r = v;
    return MF_E_OK;
}

mf_err
mf_config_get_bool(const struct mf_config *c, const char *key, bool def,
                   bool *out_r, struct mf_error *err) {
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    const char *s = mf_config_get(c, key, NULL);

    if (!s) {
        *out_r = def;
        return MF_E_OK;
    }
    for (size_t i = 0; i < MF_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out_r = true;
            return MF_E_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out_r = false;
            return MF_E_OK;
        }
    }
    return mf_error_set(err, MF_E_CONFIG, "%s: \"%s\" is not true or false",
                        key, s);
}

mf_err
mf_secret_read_file(const char *path, char **secret_r, struct mf_error *err) {
    char *buf = NULL;
    size_t len = 0;
    mf_err rc = mf_secret_file_read(path, MF_SECRET_MAX, &buf, &len, err);

    if (rc != MF_E_OK)
        return rc;
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (memchr(buf, '\0', len)) {
        rc = mf_error_set(err, MF_E_SECRET_FILE, "%s: contains a NUL byte",
                          path);
        mf_wipe(buf, MF_SECRET_MAX + 2);
        free(buf);
        return rc;
    }
    mf_wipe(buf + len, MF_SECRET_MAX + 2 - len); /* the newline too */
    *secret_r = buf;
    return MF_E_OK;
}

void
mf_secret_free(char **secret) {
    if (!*secret)
        return;
    mf_wipe(*secret, strlen(*secret));
    free(*secret);
    *secret = NULL;
}

mf_err
mf_config_get_secret(const struct mf_config *c, const char *key,
                     char **secret_r, struct mf_error *err) {
    char file_key[256];
    const char *path;

    if (mf_config_get(c, key, NULL))
        return mf_error_set(err, MF_E_CONFIG,
                            "%s must not be given inline; use %s-file", key,
                            key);
    snprintf(file_key, sizeof(file_key), "%s-file", key);
    path = mf_config_get(c, file_key, NULL);
    if (!path) {
        *secret_r = NULL;
        return MF_E_OK;
    }
    return mf_secret_read_file(path, secret_r, err);
}

void
mf_config_each_prefixed(const struct mf_config *c, const char *prefix,
                        void (*cb)(void *ud, const char *key,
                                   const char *value),
                        void *ud) {
    struct kvlist seen = {0};
    size_t plen = strlen(prefix);
    char envprefix[256];
    size_t elen;

    /* Flags first, then the environment, then the file: the first source
     * that names a key wins, as in mf_config_get(). */
    for (size_t i = 0; i < c->flags.len; i++) {
        const struct kv *kv = &c->flags.items[i];
        if (strncmp(kv->key, prefix, plen) == 0)
            kv_set(&seen, kv->key, kv->value);
    }
    mf_config_env_name(prefix, envprefix, sizeof(envprefix));
    elen = strlen(envprefix);
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        struct mf_buf key = {0};
        if (!eq || strncmp(*e, envprefix, elen) != 0 || eq == *e + elen)
            continue;
        mf_buf_append_str(&key, prefix);
        for (const char *p = *e + elen; p < eq; p++) {
            char ch = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
            mf_buf_append(&key, &ch, 1);
        }
        if (!kv_find(&seen, (char *)key.data))
            kv_set(&seen, (char *)key.data, eq + 1);
        mf_buf_free(&key);
    }
    for (size_t i = 0; i < c->file.len; i++) {
        const struct kv *kv = &c->file.items[i];
        if (strncmp(kv->key, prefix, plen) == 0 && !kv_find(&seen, kv->key))
            kv_set(&seen, kv->key, kv->value);
    }
    for (size_t i = 0; i < seen.len; i++)
        cb(ud, seen.items[i].key, seen.items[i].value);
    kv_free(&seen);
}

bool
mf_config_passthrough(const char *name, size_t len) {
    return len > 6 && strncmp(name, "kafka.", 6) == 0;
}
