/*
 * Accessors for parsed IMAP arguments and the one-line response dump used
 * by traces and tests (see parser.h). Split from parser.c, which keeps the
 * framing and tokenizing; nothing here allocates except into the caller's
 * buffer.
 */
#include "mailferry/imap_parser.h"

#include <stdio.h>
#include <string.h>

/* ================================================================== */
/* Accessors                                                           */
/* ================================================================== */

bool
mf_imap_arg_is_nil(const struct mf_imap_arg *a) {
    return a && a->type == MF_IMAP_ARG_NIL;
}

bool
mf_imap_arg_is_atom(const struct mf_imap_arg *a) {
    return a && a->type == MF_IMAP_ARG_ATOM;
}

bool
mf_imap_arg_is_list(const struct mf_imap_arg *a) {
    return a && a->type == MF_IMAP_ARG_LIST;
}

bool
mf_imap_arg_is_string(const struct mf_imap_arg *a) {
    return a &&
           (a->type == MF_IMAP_ARG_QUOTED || a->type == MF_IMAP_ARG_LITERAL);
}

bool
mf_imap_arg_atom_eq(const struct mf_imap_arg *a, const char *kw) {
    return mf_imap_arg_is_atom(a) &&
           mf__imap_word_eq(a->u.str.data, a->u.str.len, kw);
}

bool
mf_imap_arg_as_string(const struct mf_imap_arg *a, const uint8_t **data_r,
                      size_t *len_r) {
    if (!a || (a->type != MF_IMAP_ARG_ATOM && a->type != MF_IMAP_ARG_QUOTED &&
               a->type != MF_IMAP_ARG_LITERAL))
        return false;
    *data_r = a->u.str.data;
    *len_r = a->u.str.len;
    return true;
}

bool
mf_imap_arg_as_astring(const struct mf_imap_arg *a, const char **s_r) {
    if (!a || (a->type != MF_IMAP_ARG_ATOM && a->type != MF_IMAP_ARG_QUOTED &&
               a->type != MF_IMAP_ARG_LITERAL && a->type != MF_IMAP_ARG_NIL))
        return false;
    if (memchr(a->u.str.data, '\0', a->u.str.len))
        return false;
    *s_r = (const char *)a->u.str.data;
    return true;
}

static bool
as_number(const struct mf_imap_arg *a, size_t max_digits, uint64_t max,
          uint64_t *v_r) {
    uint64_t v = 0;

    if (!mf_imap_arg_is_atom(a) || a->u.str.len == 0 ||
        a->u.str.len > max_digits)
        return false;
    for (size_t i = 0; i < a->u.str.len; i++) {
        uint8_t ch = a->u.str.data[i];
        if (ch < '0' || ch > '9')
            return false;
        if (v > (max - (ch - '0')) / 10)
            return false;
        v = v * 10 + (ch - '0');
    }
    *v_r = v;
    return true;
}

bool
mf_imap_arg_as_u32(const struct mf_imap_arg *a, uint32_t *v_r) {
    uint64_t v;
    if (!as_number(a, 10, UINT32_MAX, &v))
        return false;
    *v_r = (uint32_t)v;
    return true;
}

bool
mf_imap_arg_as_u64(const struct mf_imap_arg *a, uint64_t *v_r) {
    return as_number(a, 20, UINT64_MAX, v_r);
}

bool
mf_imap_arg_as_list(const struct mf_imap_arg *a,
                    const struct mf_imap_arg **args_r, size_t *count_r) {
    if (!mf_imap_arg_is_list(a))
        return false;
    *args_r = a->u.list.args;
    *count_r = a->u.list.count;
    return true;
}

const struct mf_imap_arg *
mf_imap_args_find(const struct mf_imap_arg *args, size_t count,
                  const char *name) {
    for (size_t i = 0; i + 1 < count; i += 2)
        if (mf_imap_arg_atom_eq(&args[i], name))
            return &args[i + 1];
    return NULL;
}

const char *
mf_imap_status_name(enum mf_imap_status s) {
    switch (s) {
    case MF_IMAP_STATUS_NONE:
        return "";
    case MF_IMAP_STATUS_OK:
        return "OK";
    case MF_IMAP_STATUS_NO:
        return "NO";
    case MF_IMAP_STATUS_BAD:
        return "BAD";
    case MF_IMAP_STATUS_PREAUTH:
        return "PREAUTH";
    case MF_IMAP_STATUS_BYE:
        return "BYE";
    }
    return "?";
}

/* ================================================================== */
/* Dump (traces and tests)                                             */
/* ================================================================== */

static void
dump_bytes(struct mf_buf *out, const uint8_t *s, size_t n, size_t max) {
    mf_buf_append(out, "\"", 1);
    for (size_t i = 0; i < n && i < max; i++) {
        uint8_t ch = s[i];
        if (ch == '"' || ch == '\\')
            mf_buf_appendf(out, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            mf_buf_appendf(out, "\\x%02x", ch);
        else
            mf_buf_append(out, &ch, 1);
    }
    mf_buf_append(out, "\"", 1);
    if (n > max)
        mf_buf_append_str(out, "...");
}

static void
dump_args(struct mf_buf *out, const struct mf_imap_arg *args, size_t n,
          size_t max) {
    for (size_t i = 0; i < n; i++) {
        const struct mf_imap_arg *a = &args[i];
        if (i)
            mf_buf_append(out, " ", 1);
        switch (a->type) {
        case MF_IMAP_ARG_NIL:
        case MF_IMAP_ARG_ATOM:
            mf_buf_append(out, a->u.str.data, a->u.str.len);
            break;
        case MF_IMAP_ARG_QUOTED:
            dump_bytes(out, a->u.str.data, a->u.str.len, SIZE_MAX);
            break;
        case MF_IMAP_ARG_LITERAL:
            mf_buf_appendf(out, "{%zu}", a->u.str.len);
            dump_bytes(out, a->u.str.data, a->u.str.len, max);
            break;
        case MF_IMAP_ARG_STREAMED:
            mf_buf_appendf(out, "{%llu}<streamed>",
                           (unsigned long long)a->u.size);
            break;
        case MF_IMAP_ARG_LIST:
            mf_buf_append(out, "(", 1);
            dump_args(out, a->u.list.args, a->u.list.count, max);
            mf_buf_append(out, ")", 1);
            break;
        }
    }
}

void
mf_imap_response_dump(struct mf_buf *out, const struct mf_imap_response *r,
                      size_t max_literal_bytes) {
    switch (r->kind) {
    case MF_IMAP_RESP_TAGGED:
        mf_buf_appendf(out, "%s %s", r->tag, r->keyword);
        break;
    case MF_IMAP_RESP_UNTAGGED:
        mf_buf_append_str(out, "*");
        if (r->has_number)
            mf_buf_appendf(out, " %u", (unsigned)r->number);
        mf_buf_appendf(out, " %s", r->keyword);
        break;
    case MF_IMAP_RESP_CONTINUATION:
        mf_buf_append_str(out, "+");
        break;
    }
    if (r->code.name) {
        mf_buf_appendf(out, " [%s", r->code.name);
        if (r->code.args_ok) {
            if (r->code.nargs)
                mf_buf_append(out, " ", 1);
            dump_args(out, r->code.args, r->code.nargs, max_literal_bytes);
        } else {
            mf_buf_append_str(out, " raw=");
            dump_bytes(out, (const uint8_t *)r->code.raw, strlen(r->code.raw),
                       SIZE_MAX);
        }
        mf_buf_append(out, "]", 1);
    }
    if (r->status != MF_IMAP_STATUS_NONE ||
        r->kind == MF_IMAP_RESP_CONTINUATION) {
        mf_buf_append(out, " ", 1);
        dump_bytes(out, (const uint8_t *)r->text, r->text_len, SIZE_MAX);
    }
    if (r->nargs) {
        mf_buf_append(out, " ", 1);
        dump_args(out, r->args, r->nargs, max_literal_bytes);
    }
}
