/*
 * Key names, spec checks and ids of the caps module (see caps_int.h for
 * the key layout).
 */
#include "caps/caps_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
mf_caps_cap_name(enum mf_caps_cap cap) {
    switch (cap) {
    case MF_CAPS_CAP_NONE:
        return "none";
    case MF_CAPS_CAP_TOTAL:
        return "total";
    case MF_CAPS_CAP_USER:
        return "user";
    case MF_CAPS_CAP_IP:
        return "ip";
    case MF_CAPS_CAP_MAILBOXES:
        return "mailboxes";
    }
    return "?";
}

void
mf_caps_endpoint_id(const char *host, unsigned port, bool target, char *out,
                    size_t n) {
    snprintf(out, n, "%s:%.180s:%u", target ? "dst" : "src", host, port);
}

char *
mf__caps_key(const char *endpoint, const char *rest) {
    return mf_xasprintf("mf:{c:%s}:%s", endpoint, rest);
}

char *
mf__caps_encode(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = mf_xmalloc(3 * n + 1), *p = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || strchr("._@+-", c)) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    return out;
}

static bool
name_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= MF_CAPS_NAME_MAX;
}

mf_err
mf_caps_spec_check(const struct mf_caps_spec *spec, struct mf_error *err) {
    const char *e = spec->endpoint;
    size_t n = e ? strlen(e) : 0;

    if (n == 0 || n > MF_CAPS_ENDPOINT_MAX)
        return mf_error_set(err, MF_E_CONFIG,
                            "caps: an endpoint id has 1 to %d bytes",
                            MF_CAPS_ENDPOINT_MAX);
    for (const char *p = e; *p; p++) {
        /* A brace would end the hash tag early and split the endpoint's
         * keys over Cluster slots. */
        if (*p == '{' || *p == '}' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return mf_error_set(err, MF_E_CONFIG,
                                "caps: endpoint \"%.100s\" contains a brace "
                                "or a control character",
                                e);
    }
    if (spec->kind != MF_CAPS_CONNECTION && spec->kind != MF_CAPS_MAILBOX)
        return mf_error_set(err, MF_E_CONFIG, "caps: unknown lease kind %d",
                            (int)spec->kind);
    if (spec->ttl_ms < 0 || spec->wake_ms < 0)
        return mf_error_set(err, MF_E_CONFIG,
                            "caps: negative TTL or wake period");
    if (spec->kind == MF_CAPS_CONNECTION) {
        if (spec->limits.max_connections_per_user && !name_ok(spec->user))
            return mf_error_set(err, MF_E_CONFIG,
                                "caps: a per-user cap needs a user name of "
                                "1 to %d bytes",
                                MF_CAPS_NAME_MAX);
        if (spec->limits.max_connections_per_ip && !name_ok(spec->ip))
            return mf_error_set(err, MF_E_CONFIG,
                                "caps: a per-IP cap needs an IP of 1 to %d "
                                "bytes",
                                MF_CAPS_NAME_MAX);
    }
    return MF_E_OK;
}

static void
add_cap(struct mf__caps_keys *k, char *key, unsigned limit,
        enum mf_caps_cap which) {
    MF_ASSERT(k->ncaps < MF__CAPS_MAX_CAPS);
    k->cap[k->ncaps] = key;
    k->limit[k->ncaps] = limit;
    k->which[k->ncaps] = which;
    k->ncaps++;
}

char *
mf__caps_named_key(const char *endpoint, const char *kind, const char *name) {
    char *enc = mf__caps_encode(name ? name : "");
    char *rest = mf_xasprintf("%s:%s", kind, enc);
    char *key = mf__caps_key(endpoint, rest);

    free(rest);
    free(enc);
    return key;
}

void
mf__caps_keys_init(struct mf__caps_keys *k, const struct mf_caps_spec *spec) {
    const struct mf_caps_limits *lim = &spec->limits;
    const char *e = spec->endpoint;

    memset(k, 0, sizeof(*k));
    k->q = mf__caps_key(e, "q");
    k->qexp = mf__caps_key(e, "qexp");
    k->qinfo = mf__caps_key(e, "qinfo");
    k->qseq = mf__caps_key(e, "qseq");
    k->wake_prefix = mf__caps_key(e, "wake:");
    if (spec->kind == MF_CAPS_MAILBOX) {
        add_cap(k, mf__caps_key(e, "cap:mailboxes"),
                lim->max_concurrent_mailboxes, MF_CAPS_CAP_MAILBOXES);
        return;
    }
    /* The total cap is always entered, even when unlimited, so that the
     * fleet's connection count is visible (mf_caps_usage_get). */
    add_cap(k, mf__caps_key(e, "cap:total"), lim->max_connections,
            MF_CAPS_CAP_TOTAL);
    if (lim->max_connections_per_user)
        add_cap(k, mf__caps_named_key(e, "cap:user", spec->user),
                lim->max_connections_per_user, MF_CAPS_CAP_USER);
    if (lim->max_connections_per_ip)
        add_cap(k, mf__caps_named_key(e, "cap:ip", spec->ip),
                lim->max_connections_per_ip, MF_CAPS_CAP_IP);
}

void
mf__caps_keys_copy(struct mf__caps_keys *dst, const struct mf__caps_keys *src) {
    *dst = *src;
    dst->q = mf_xstrdup(src->q);
    dst->qexp = mf_xstrdup(src->qexp);
    dst->qinfo = mf_xstrdup(src->qinfo);
    dst->qseq = mf_xstrdup(src->qseq);
    dst->wake_prefix = mf_xstrdup(src->wake_prefix);
    for (size_t i = 0; i < src->ncaps; i++)
        dst->cap[i] = mf_xstrdup(src->cap[i]);
}

void
mf__caps_keys_fini(struct mf__caps_keys *k) {
    free(k->q);
    free(k->qexp);
    free(k->qinfo);
    free(k->qseq);
    free(k->wake_prefix);
    for (size_t i = 0; i < k->ncaps; i++)
        free(k->cap[i]);
    memset(k, 0, sizeof(*k));
}

void
mf__caps_random_id(char *out) {
    mf_random_hex(out, MF__CAPS_ID_LEN);
}

bool
mf__caps_reply_int(const redisReply *reply, size_t i, long long *v_r) {
    if (!reply || reply->type != REDIS_REPLY_ARRAY || i >= reply->elements ||
        reply->element[i]->type != REDIS_REPLY_INTEGER)
        return false;
    *v_r = reply->element[i]->integer;
    return true;
}
