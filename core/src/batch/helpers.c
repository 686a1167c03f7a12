/*
 * Small pieces the files of the batch module share (batch_int.h): key
 * names, the table of folder rule lists, a binary-safe argument vector,
 * reply accessors, the item codec and the translation of a script's
 * refusal into an mf_err.
 */
#include "batch/batch_int.h"

#include "mailferry/checkpoint.h"
#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Keys                                                               */
/* ------------------------------------------------------------------ */

static void
bkey(char *out, size_t n, const char *batch, const char *rest) {
    char tag[MF_BATCH_NAME_MAX + 8];

    snprintf(tag, sizeof(tag), "b:%s", batch);
    mf_redis_key(out, n, tag, rest);
}

void
mf__batch_keys(struct mf__batch_keys *k, const char *batch) {
    bkey(k->batch, sizeof(k->batch), batch, "batch");
    bkey(k->mailboxes, sizeof(k->mailboxes), batch, "mailboxes");
    bkey(k->claims, sizeof(k->claims), batch, "claims");
    bkey(k->results, sizeof(k->results), batch, "results");
    bkey(k->samples, sizeof(k->samples), batch, "samples");
    bkey(k->changes, sizeof(k->changes), batch, "changes");
    bkey(k->mb_prefix, sizeof(k->mb_prefix), batch, "mb:");
    for (size_t l = 0; l < MF__BATCH_RULE_LISTS; l++)
        bkey(k->list[l], sizeof(k->list[l]), batch,
             mf__batch_rule_lists[l].key);
}

void
mf__batch_mb_key(char *out, size_t n, const char *batch, const char *email,
                 const char *suffix) {
    char rest[MF__BATCH_KEY_MAX];

    snprintf(rest, sizeof(rest), "mb:%s%s", email, suffix);
    bkey(out, n, batch, rest);
}

void
mf_batch_record_key(char *out, size_t n, const char *batch, const char *email) {
    mf__batch_mb_key(out, n, batch, email, "");
}

void
mf__batch_ckpt_key(char *out, size_t n, const char *batch, const char *email) {
    char rest[MF__BATCH_KEY_MAX];

    snprintf(rest, sizeof(rest), "ckpt:%s", email);
    bkey(out, n, batch, rest);
}

void
mf__batch_index_key(char *out, size_t n) {
    mf_redis_key(out, n, "batches", "index");
}

void
mf__batch_argv_add_mb_keys(struct mf__batch_argv *a, const char *batch,
                           const char *email) {
    static const char *const suffixes[] = {
        "", ":skipped", ":failed", ":verify", ":verify_items", ":verify_claim"};
    char key[MF__BATCH_KEY_MAX];

    static_assert(MF_ARRAY_LEN(suffixes) + 2 == MF__BATCH_MB_KEYS,
                  "MF__BATCH_MB_KEYS counts the keys added here");
    for (size_t s = 0; s < MF_ARRAY_LEN(suffixes); s++) {
        mf__batch_mb_key(key, sizeof(key), batch, email, suffixes[s]);
        mf__batch_argv_adds(a, key);
    }
    mf__batch_ckpt_key(key, sizeof(key), batch, email);
    mf__batch_argv_adds(a, key);
    mf_checkpoint_flags_key(key, sizeof(key), batch, email);
    mf__batch_argv_adds(a, key);
}

bool
mf_batch_name_valid(const char *name) {
    size_t n = strlen(name);

    if (n == 0 || n > MF_BATCH_NAME_MAX)
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789._-") == n;
}

mf_err
mf__batch_check_name(const char *name, struct mf_error *err) {
    if (!name || !mf_batch_name_valid(name))
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "\"%.80s\": a batch name is 1 to %d of "
                            "A-Z a-z 0-9 . _ -",
                            name ? name : "", MF_BATCH_NAME_MAX);
    return MF_E_OK;
}

mf_err
mf__batch_lease_init(struct mf_batch_lease *l, const char *what,
                     const char *batch, const char *email, const char *job_id,
                     uint32_t attempt, const char *worker_id, const char *token,
                     int64_t ttl_ms, struct mf_error *err) {
    mf_err rc = mf__batch_check_name(batch, err);

    if (rc)
        return rc;
    memset(l, 0, sizeof(*l));
    if (!worker_id || !*worker_id || strlen(worker_id) >= sizeof(l->worker) ||
        strlen(email) >= sizeof(l->email) ||
        strlen(job_id) >= sizeof(l->job_id) || ttl_ms <= 0 ||
        (token && strlen(token) > 2 * MF_BATCH_TOKEN_LEN))
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "%s: bad worker id, mailbox, job id, token or ttl",
                            what);
    snprintf(l->batch, sizeof(l->batch), "%s", batch);
    snprintf(l->email, sizeof(l->email), "%s", email);
    snprintf(l->job_id, sizeof(l->job_id), "%s", job_id);
    snprintf(l->worker, sizeof(l->worker), "%s", worker_id);
    l->attempt = attempt;
    l->ttl_ms = ttl_ms;
    return MF_E_OK;
}

void
mf_batch_job_id(char *out, size_t n, const char *batch, const char *email,
                uint64_t pass, enum mf_job_kind kind) {
    snprintf(out, n, "%s/%s/%" PRIu64 "/%s", batch, email, pass,
             mf__batch_kind_name(kind));
}

/* ------------------------------------------------------------------ */
/* Argument vector                                                    */
/* ------------------------------------------------------------------ */

void
mf__batch_argv_add(struct mf__batch_argv *a, const void *p, size_t len) {
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 16;
        a->v = mf_xreallocarray(a->v, a->cap, sizeof(*a->v));
        a->len = mf_xreallocarray(a->len, a->cap, sizeof(*a->len));
    }
    a->v[a->n] = mf_xmalloc(len + 1);
    if (len)
        memcpy(a->v[a->n], p, len);
    a->v[a->n][len] = '\0';
    a->len[a->n++] = len;
}

void
mf__batch_argv_adds(struct mf__batch_argv *a, const char *s) {
    mf__batch_argv_add(a, s ? s : "", s ? strlen(s) : 0);
}

void
mf__batch_argv_add_blob(struct mf__batch_argv *a,
                        const struct mf_batch_blob *b) {
    mf__batch_argv_add(a, b->data ? b->data : (const uint8_t *)"",
                       b->data ? b->len : 0);
}

void
mf__batch_argv_addu(struct mf__batch_argv *a, uint64_t v) {
    char buf[24];

    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    mf__batch_argv_adds(a, buf);
}

void
mf__batch_argv_addi(struct mf__batch_argv *a, int64_t v) {
    char buf[24];

    snprintf(buf, sizeof(buf), "%" PRId64, v);
    mf__batch_argv_adds(a, buf);
}

void
mf__batch_argv_reset(struct mf__batch_argv *a) {
    /* Arguments may hold sealed secrets: wipe before freeing. */
    for (size_t i = 0; i < a->n; i++) {
        mf_wipe(a->v[i], a->len[i]);
        free(a->v[i]);
    }
    a->n = 0;
    a->script = NULL;
    a->nkeys = 0;
}

void
mf__batch_argv_free(struct mf__batch_argv *a) {
    mf__batch_argv_reset(a);
    free(a->v);
    free(a->len);
    memset(a, 0, sizeof(*a));
}

mf_err
mf__batch_argv_run(struct mf_redis *r, struct mf__batch_argv *a,
                   redisReply **reply_r, struct mf_error *err) {
    MF_ASSERT(a->n > 0 && a->n <= INT32_MAX);
    return mf_redis_command_argv(r, (int)a->n, (const char **)a->v, a->len,
                                 reply_r, err);
}

/* ------------------------------------------------------------------ */
/* Replies                                                            */
/* ------------------------------------------------------------------ */

const char *
mf__batch_reply_str(const redisReply *reply, size_t i, size_t *len_r) {
    const redisReply *e;

    if (!reply || reply->type != REDIS_REPLY_ARRAY || i >= reply->elements)
        return NULL;
    e = reply->element[i];
    if (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) {
        if (len_r)
            *len_r = e->len;
        return e->str;
    }
    return NULL;
}

long long
mf__batch_reply_ll(const redisReply *reply, size_t i) {
    const redisReply *e;

    if (!reply || reply->type != REDIS_REPLY_ARRAY || i >= reply->elements)
        return 0;
    e = reply->element[i];
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

const char *
mf__batch_reply_word(const redisReply *reply) {
    return mf__batch_reply_str(reply, 0, NULL);
}

const redisReply *
mf__batch_hget(const redisReply *h, const char *field) {
    if (!h || h->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(h->element[i]->str, field) == 0)
            return h->element[i + 1];
    return NULL;
}

uint64_t
mf__batch_hget_u64(const redisReply *h, const char *field) {
    const redisReply *v = mf__batch_hget(h, field);

    if (!v || v->type != REDIS_REPLY_STRING)
        return 0;
    /* Counters kept by HINCRBY may dip below zero transiently. */
    if (v->str[0] == '-')
        return 0;
    return strtoull(v->str, NULL, 10);
}

int64_t
mf__batch_hget_i64(const redisReply *h, const char *field) {
    const redisReply *v = mf__batch_hget(h, field);

    return v && v->type == REDIS_REPLY_STRING ? strtoll(v->str, NULL, 10) : 0;
}

int64_t
mf__batch_hget_ms(const redisReply *h, const char *field) {
    char twin[64];
    int64_t s = mf__batch_hget_i64(h, field), ms;

    snprintf(twin, sizeof(twin), "%s_ms", field);
    ms = mf__batch_hget_i64(h, twin);
    return ms > 0 && ms / 1000 == s ? ms : s * 1000;
}

double
mf__batch_hget_double(const redisReply *h, const char *field) {
    const redisReply *v = mf__batch_hget(h, field);

    return v && v->type == REDIS_REPLY_STRING ? strtod(v->str, NULL) : 0;
}

char *
mf__batch_hget_strdup(const redisReply *h, const char *field) {
    const redisReply *v = mf__batch_hget(h, field);

    if (!v || v->type != REDIS_REPLY_STRING || v->len == 0)
        return NULL;
    return mf_xstrndup(v->str, v->len);
}

void
mf__batch_hget_blob(const redisReply *h, const char *field,
                    struct mf_batch_blob *b) {
    const redisReply *v = mf__batch_hget(h, field);

    if (v && v->type == REDIS_REPLY_STRING && v->len > 0) {
        b->data = mf_xmemdup(v->str, v->len);
        b->len = v->len;
    }
}

void
mf__batch_hget_copy(const redisReply *h, const char *field, char *out,
                    size_t n) {
    const redisReply *v = mf__batch_hget(h, field);

    snprintf(out, n, "%.*s",
             v && v->type == REDIS_REPLY_STRING ? (int)v->len : 0,
             v && v->type == REDIS_REPLY_STRING ? v->str : "");
}

/* ------------------------------------------------------------------ */
/* Items                                                              */
/* ------------------------------------------------------------------ */

/* Stored sizes of an item's texts: the report keeps no more. */
#define TEXT_MAX 1024

static void
put_field(struct mf_buf *out, const char *s, size_t n) {
    mf_buf_appendf(out, "%zu:", n);
    mf_buf_append(out, s, n);
}

static void
put_text(struct mf_buf *out, const char *s) {
    size_t n = s ? mf_utf8_cut(s, TEXT_MAX) : 0;

    put_field(out, s ? s : "", n);
}

static void put_num(struct mf_buf *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
put_num(struct mf_buf *out, const char *fmt, ...) {
    char buf[32];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    put_field(out, buf, (size_t)n);
}

void
mf__batch_item_encode(struct mf_buf *out, const struct mf_batch_item *it) {
    put_text(out, it->folder);
    put_num(out, "%" PRIu32, it->uid);
    put_num(out, "%" PRIu64, it->size);
    put_num(out, "%" PRId64, it->internal_date);
    put_text(out, it->subject);
    put_num(out, "%d", it->code);
    put_text(out, it->name ? it->name : mf_err_name((mf_err)it->code));
    put_text(out, it->detail);
    /* The ninth field, since issue 13's report: only when known, so that
     * the items without one read as before. */
    if (it->message_id && it->message_id[0])
        put_text(out, it->message_id);
}

bool
mf__batch_item_decode(const char *s, size_t len, char **store_r,
                      struct mf_batch_item *it_r) {
    /* 8 fields, or 9 with a Message-ID, each copied NUL-terminated into
     * one block. */
    char *store = mf_xmalloc(len + 9), *w = store;
    char *f[9] = {0};
    size_t pos = 0;
    uint64_t v;

    for (int i = 0; i < 9 && (i < 8 || pos < len); i++) {
        size_t n = 0, digits = 0;
        while (pos < len && s[pos] >= '0' && s[pos] <= '9' && digits < 7) {
            n = n * 10 + (size_t)(s[pos++] - '0');
            digits++;
        }
        if (digits == 0 || pos >= len || s[pos] != ':' || n > len - pos - 1)
            goto bad;
        pos++;
        memcpy(w, s + pos, n);
        w[n] = '\0';
        f[i] = w;
        w += n + 1;
        pos += n;
    }
    if (pos != len)
        goto bad;
    memset(it_r, 0, sizeof(*it_r));
    it_r->folder = f[0];
    if (!mf_parse_u64(f[1], 0, UINT32_MAX, &v))
        goto bad;
    it_r->uid = (uint32_t)v;
    if (!mf_parse_u64(f[2], 0, UINT64_MAX, &it_r->size))
        goto bad;
    it_r->internal_date = strtoll(f[3], NULL, 10);
    it_r->subject = f[4][0] ? f[4] : NULL;
    it_r->code = (int)strtol(f[5], NULL, 10);
    it_r->name = f[6][0] ? f[6] : NULL;
    it_r->detail = f[7][0] ? f[7] : NULL;
    it_r->message_id = f[8] && f[8][0] ? f[8] : NULL;
    *store_r = store;
    return true;
bad:
    free(store);
    return false;
}

/* ------------------------------------------------------------------ */
/* Refusals                                                           */
/* ------------------------------------------------------------------ */

mf_err
mf__batch_refused(struct mf_error *err, const redisReply *reply,
                  const char *batch, const char *email, const char *what) {
    const char *w = mf__batch_reply_word(reply);
    const char *a1 = mf__batch_reply_str(reply, 1, NULL);
    const char *a2 = mf__batch_reply_str(reply, 2, NULL);
    char who[MF_BATCH_NAME_MAX + MF_BATCH_EMAIL_MAX + 16];

    if (email)
        snprintf(who, sizeof(who), "batch %s mailbox %s", batch, email);
    else
        snprintf(who, sizeof(who), "batch %s", batch);
    a1 = a1 ? a1 : "";
    a2 = a2 ? a2 : "";
    if (!w)
        return mf_error_set(err, MF_E_REDIS, "%s: %s: unexpected reply", who,
                            what);
    if (strcmp(w, "NOTFOUND") == 0)
        return mf_error_set(err, MF_E_NOT_FOUND, "%s does not exist", who);
    if (strcmp(w, "STATE") == 0)
        return mf_error_set(err, MF_E_STATE, "%s: cannot %s in state %s", who,
                            what, a1);
    if (strcmp(w, "BATCH") == 0)
        return mf_error_set(err, MF_E_STATE, "%s: cannot %s: the batch is %s",
                            who, what, a1);
    if (strcmp(w, "STALE") == 0)
        return mf_error_set(err, MF_E_STATE,
                            "%s: cannot %s: stale job (current job \"%s\" "
                            "attempt %s)",
                            who, what, a1, a2);
    if (strcmp(w, "CLAIMED") == 0)
        return mf_error_set(err, MF_E_CLAIMED, "%s: claimed by worker %s", who,
                            a1);
    if (strcmp(w, "BUSY") == 0)
        return mf_error_set(err, MF_E_VERIFY_BUSY,
                            "%s: being migrated by worker %s", who, a1);
    if (strcmp(w, "LOST") == 0)
        return mf_error_set(err, MF_E_LEASE_LOST,
                            "%s: claim lost (mailbox %s, claim held by "
                            "\"%s\")",
                            who, a1, a2);
    return mf_error_set(err, MF_E_REDIS, "%s: %s: unexpected answer %s", who,
                        what, w);
}

/* ------------------------------------------------------------------ */
/* Folder rules                                                       */
/* ------------------------------------------------------------------ */

#define RULE_LIST(member, opt, word, json_key, parse_fn, set, show)            \
    {                                                                          \
        .option = opt, .key = "list:" word, .json = json_key,                  \
        .items = offsetof(struct mf_batch_config, member),                     \
        .count = offsetof(struct mf_batch_config, n_##member),                 \
        .parse = parse_fn, .settable = set, .shown = show                      \
    }
const struct mf__batch_rule_list mf__batch_rule_lists[MF__BATCH_RULE_LISTS] = {
    RULE_LIST(include, "include", "include", "include",
              mf_folder_rules_parse_include, true, true),
    RULE_LIST(exclude, "exclude", "exclude", "exclude",
              mf_folder_rules_parse_exclude, true, true),
    RULE_LIST(rename, "rename", "rename", "rename",
              mf_folder_rules_parse_rename, true, true),
    /* Presets are chosen at create time only, and `batch create`'s text
     * has never listed them (its JSON does). */
    RULE_LIST(presets, "preset", "preset", "presets",
              mf_folder_rules_parse_preset, false, false),
};
#undef RULE_LIST

char ***
mf__batch_rule_items(struct mf_batch_config *c, size_t l, size_t **n_r) {
    assert(l < MF__BATCH_RULE_LISTS);
    *n_r = (size_t *)((char *)c + mf__batch_rule_lists[l].count);
    return (char ***)((char *)c + mf__batch_rule_lists[l].items);
}

char *const *
mf__batch_rule_view(const struct mf_batch_config *c, size_t l, size_t *n_r) {
    assert(l < MF__BATCH_RULE_LISTS);
    *n_r = *(const size_t *)((const char *)c + mf__batch_rule_lists[l].count);
    return *(char **const *)((const char *)c + mf__batch_rule_lists[l].items);
}

void
mf__batch_rule_lists_free(struct mf_batch_config *c) {
    for (size_t l = 0; l < MF__BATCH_RULE_LISTS; l++) {
        size_t *n;
        char ***v = mf__batch_rule_items(c, l, &n);
        mf_strv_free(*v, *n);
        *v = NULL;
        *n = 0;
    }
}

/* Every rule list of c into rules, in the table's order (empty items
 * skipped), as the workers read them. */
static mf_err
add_rule_lists(struct mf_folder_rules *rules, const struct mf_batch_config *c,
               struct mf_error *err) {
    for (size_t l = 0; l < MF__BATCH_RULE_LISTS; l++) {
        size_t n;
        char *const *v = mf__batch_rule_view(c, l, &n);
        for (size_t i = 0; i < n; i++)
            if (v[i] && *v[i] &&
                mf__batch_rule_lists[l].parse(rules, v[i], err) != MF_E_OK)
                return err->code ? err->code : MF_E_CONFIG;
    }
    return MF_E_OK;
}

mf_err
mf_batch_config_rules(const struct mf_batch_config *c,
                      struct mf_folder_rules **rules_r, struct mf_error *err) {
    struct mf_folder_rules *r = mf_folder_rules_new();
    const struct mf_profile *src = NULL;
    mf_err rc;

    if ((rc = mf_profile_find(c->source_profile, &src, err)) ||
        (rc = mf_profile_folder_rules(src, c->gmail_archive_folder, r, err)) ||
        (rc = add_rule_lists(r, c, err)) ||
        (c->separator_replacement && *c->separator_replacement &&
         (rc = mf_folder_rules_parse_separator_replacement(
              r, c->separator_replacement, err))) ||
        (c->target_root && *c->target_root &&
         (rc = mf_folder_rules_parse_target_root(r, c->target_root, err)))) {
        mf_folder_rules_free(&r);
        return rc;
    }
    *rules_r = r;
    return MF_E_OK;
}
