/*
 * libFuzzer target for the folder plan (core/src/folders/folderplan*.c).
 *
 * Input format (so that corpus files stay readable):
 *   byte 0: source delimiter ('0' means NIL)
 *   byte 1: target delimiter ('0' means NIL)
 *   byte 2: option bits: 1 case-insensitive target, 2 case-insensitive
 *           rules, 4 gmail preset, 8 target prefix "INBOX.", 16 source
 *           prefix "INBOX.", 32 target root "Root/Sub", 64 target UTF-8,
 *           128 source UTF-8
 *   then lines ("\n"): each is one folder, its first byte the attribute
 *   bits (bit 0 \Noselect, 1 \Sent, 2 \Trash, 3 \Junk, 4 \All,
 *   5 subscribed, 6 \NonExistent), the rest the raw name; source folders
 *   first, then a line "--", then target folders. A few fixed rules
 *   (exclude "Junk*", include-all, rename "A/B=C") are always applied.
 *   The target's folder-name rules (what its profile refuses) are picked
 *   from the three header bytes: none, Cyrus-like ("|!;%" and controls,
 *   names up to 80 bytes) or Exchange-like (levels up to 6 characters).
 *
 * Invariants (any violation aborts):
 *   - the build succeeds and is deterministic (same JSON twice);
 *   - every COPY or CONTAINER entry has a target name whose wire form is
 *     at most MF_FOLDER_NAME_MAX bytes and decodes back to the name;
 *   - no two COPY entries share a target (as the target compares names);
 *   - at most one entry per target name says create_needed;
 *   - every parent of a COPY or CONTAINER target comes earlier in the
 *     plan, is INBOX or the prefix, or exists on the target;
 *   - a folder to create has a last level the target's name rules accept
 *     (no refused character, not too long) and a whole name within its
 *     length.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "folders/folderplan_int.h"
#include "mailferry/folderplan.h"
#include "mailferry/mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FOLDERS 200

static unsigned
attrs_of(uint8_t b) {
    unsigned a = 0;

    if (b & 1)
        a |= MF_FOLDER_ATTR_NOSELECT;
    if (b & 2)
        a |= MF_FOLDER_ATTR_SENT;
    if (b & 4)
        a |= MF_FOLDER_ATTR_TRASH;
    if (b & 8)
        a |= MF_FOLDER_ATTR_JUNK;
    if (b & 16)
        a |= MF_FOLDER_ATTR_ALL;
    if (b & 64)
        a |= MF_FOLDER_ATTR_NONEXISTENT;
    return a;
}

static char *
key_of(const char *t, bool ci, char delim) {
    char *k = ci ? mf__folder_fold(t) : strdup(t);

    if (!k)
        abort();
    mf__folder_canon_inbox(k, delim);
    return k;
}

static void
to_json(const struct mf_folder_plan *plan, struct mf_buf *b) {
    struct mf_json j;

    mf_json_init(&j, b);
    mf_folder_plan_to_json(plan, &j);
}

static const struct mf_folder_name_rules names[] = {
    {.forbidden = "|!;%", .controls = true, .max_name_bytes = 80},
    {.max_level_chars = 6, .case_insensitive = true},
};

/* A folder to create must be one the target accepts. */
static void
check_names(const struct mf_folder_entry *e,
            const struct mf_folder_plan_input *in) {
    const struct mf_folder_name_rules *r = in->tgt_names;
    const char *last;
    size_t chars = 0;

    if (!r || !e->create_needed || e->action != MF_FOLDER_COPY)
        return;
    last = in->tgt_delim ? strrchr(e->tgt_name, in->tgt_delim) : NULL;
    last = last ? last + 1 : e->tgt_name;
    for (const char *p = last; *p; p++) {
        if (mf_folder_name_refuses(r, (unsigned char)*p, in->tgt_delim))
            abort();
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    }
    if ((r->max_level_chars && chars > r->max_level_chars) ||
        (r->max_name_bytes && strlen(e->tgt_wire) > r->max_name_bytes))
        abort();
}

static void
check(const struct mf_folder_plan *plan, const struct mf_folder_plan_input *in,
      bool ci) {
    size_t n = mf_folder_plan_count(plan);
    char **keys = calloc(n + 1, sizeof(*keys));
    const char *prefix = in->tgt_prefix ? in->tgt_prefix : "";
    char delim = in->tgt_delim;

    if (!keys)
        abort();
    if (n < in->n_src)
        abort();
    for (size_t i = 0; i < n; i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        struct mf_buf dec = {0};
        if (e->action == MF_FOLDER_EXCLUDED) {
            if (e->tgt_name || e->tgt_wire || e->create_needed)
                abort();
            continue;
        }
        if (!e->tgt_name || !e->tgt_wire ||
            strlen(e->tgt_wire) > MF_FOLDER_NAME_MAX)
            abort();
        if (!in->tgt_utf8) {
            if (mf_mutf7_decode(e->tgt_wire, &dec, NULL) != MF_E_OK ||
                strcmp(dec.len ? (char *)dec.data : "", e->tgt_name) != 0)
                abort();
            mf_buf_free(&dec);
        }
        check_names(e, in);
        keys[i] = key_of(e->tgt_name, ci, delim);
        for (size_t k = 0; k < i; k++) {
            const struct mf_folder_entry *p = mf_folder_plan_entry(plan, k);
            if (!keys[k] || strcmp(keys[k], keys[i]) != 0)
                continue;
            if (p->action == MF_FOLDER_COPY && e->action == MF_FOLDER_COPY)
                abort(); /* merged */
            if (p->create_needed && e->create_needed)
                abort();
        }
        /* Parents first. */
        if (delim) {
            char *t = strdup(e->tgt_name);
            if (!t)
                abort();
            for (size_t c = strlen(prefix); c < strlen(t); c++) {
                bool found;
                char *pk;
                if (t[c] != delim || c == 0)
                    continue;
                t[c] = '\0';
                pk = key_of(t, ci, delim);
                found = strcmp(pk, "INBOX") == 0;
                for (size_t k = 0; k < i && !found; k++)
                    found = keys[k] && strcmp(keys[k], pk) == 0;
                for (size_t k = 0; k < in->n_tgt && !found; k++)
                    found = in->tgt[k].len == strlen(t) &&
                            memcmp(in->tgt[k].name, t, strlen(t)) == 0;
                /* A target folder that exists in another spelling or
                 * encoding counts too; we only demand some entry or
                 * target folder with the same key when the plain check
                 * fails. */
                for (size_t k = 0; k < in->n_tgt && !found; k++) {
                    struct mf_buf d = {0};
                    char *raw =
                        strndup((const char *)in->tgt[k].name, in->tgt[k].len);
                    if (!raw)
                        abort();
                    if (!in->tgt_utf8 &&
                        mf_mutf7_decode(raw, &d, NULL) == MF_E_OK && d.len) {
                        char *dk = key_of((char *)d.data, ci, delim);
                        found = strcmp(dk, pk) == 0;
                        free(dk);
                    } else {
                        char *dk = key_of(raw, ci, delim);
                        found = strcmp(dk, pk) == 0;
                        free(dk);
                    }
                    mf_buf_free(&d);
                    free(raw);
                }
                if (!found)
                    abort();
                free(pk);
                t[c] = delim;
            }
            free(t);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct mf_folder_src src[MAX_FOLDERS];
    struct mf_folder_tgt tgt[MAX_FOLDERS];
    struct mf_folder_plan_input in = {0};
    struct mf_folder_rules *r;
    struct mf_folder_plan *a = NULL, *b = NULL;
    struct mf_buf ja = {0}, jb = {0};
    struct mf_error err;
    size_t pos = 3;
    bool target_side = false;
    uint8_t opt;

    if (size < 3)
        return 0;
    in.src = src;
    in.tgt = tgt;
    in.tgt_delim = data[1] == '0' ? 0 : (char)data[1];
    opt = data[2];
    r = mf_folder_rules_new();
    if (in.tgt_delim == '_' &&
        mf_folder_rules_parse_separator_replacement(r, "-", &err) != MF_E_OK)
        abort();
    if (mf_folder_rules_parse_exclude(r, "Junk*", &err) != MF_E_OK ||
        mf_folder_rules_parse_include(r, "*", &err) != MF_E_OK ||
        mf_folder_rules_parse_rename(r, "A/B=C", &err) != MF_E_OK)
        abort();
    in.tgt_case_insensitive = opt & 1;
    r->case_insensitive = opt & 2;
    if (opt & 4)
        r->presets |= MF_FOLDER_PRESET_GMAIL_VIRTUAL;
    if ((opt & 8) && in.tgt_delim == '.')
        in.tgt_prefix = "INBOX.";
    if ((opt & 16) && data[0] == '.')
        in.src_prefix = "INBOX.";
    if ((opt & 32) && (!in.tgt_delim || !strchr("RootSub", in.tgt_delim)) &&
        mf_folder_rules_parse_target_root(r, "Root/Sub", &err) != MF_E_OK)
        abort();
    in.tgt_utf8 = opt & 64;
    in.src_utf8 = opt & 128;
    in.rules = r;
    switch ((data[0] ^ data[1] ^ opt) % 3) {
    case 1:
        in.tgt_names = &names[0];
        break;
    case 2:
        in.tgt_names = &names[1];
        break;
    default:
        break;
    }

    while (pos < size) {
        const uint8_t *line = data + pos;
        const uint8_t *nl = memchr(line, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - line) : size - pos;
        pos += len + 1;
        if (len == 2 && line[0] == '-' && line[1] == '-') {
            target_side = true;
            continue;
        }
        if (len == 0)
            continue;
        if (!target_side && in.n_src < MAX_FOLDERS) {
            struct mf_folder_src *s = &src[in.n_src++];
            s->name = line + 1;
            s->len = len - 1;
            s->delim = data[0] == '0' ? 0 : (char)data[0];
            s->attrs = attrs_of(line[0]);
            s->subscribed = line[0] & 32;
        } else if (target_side && in.n_tgt < MAX_FOLDERS) {
            struct mf_folder_tgt *t = &tgt[in.n_tgt++];
            t->name = line + 1;
            t->len = len - 1;
            t->attrs = attrs_of(line[0]);
        }
    }
    if (mf_folder_plan_build(&in, &a, &err) != MF_E_OK) {
        /* The only legitimate refusals: a target delimiter that is not
         * punctuation, or a replacement or root that holds the target
         * delimiter, which the setup above avoids. */
        if (in.tgt_delim && !ispunct((unsigned char)in.tgt_delim) &&
            err.code == MF_E_IMAP_UNEXPECTED)
            goto out;
        abort();
    }
    check(a, &in, in.tgt_case_insensitive);
    if (mf_folder_plan_build(&in, &b, &err) != MF_E_OK)
        abort();
    to_json(a, &ja);
    to_json(b, &jb);
    if (ja.len != jb.len || memcmp(ja.data, jb.data, ja.len) != 0)
        abort();
out:
    mf_buf_free(&ja);
    mf_buf_free(&jb);
    mf_folder_plan_free(&a);
    mf_folder_plan_free(&b);
    mf_folder_rules_free(&r);
    return 0;
}
