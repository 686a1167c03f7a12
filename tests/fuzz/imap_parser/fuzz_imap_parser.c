/*
 * libFuzzer target for the IMAP response parser (core/src/imap/parser.c).
 *
 * The input is a server transcript. It is parsed three times: in one
 * feed, one byte at a time, and in small pseudo-random chunks; the three
 * runs must deliver the same responses (compared through
 * mf_imap_response_dump()), the same streamed literal bytes and the same
 * final code, or the target aborts. Every argument of every response also
 * goes through the accessors, INTERNALDATE values through the date-time
 * parser and LIST names through the modified UTF-7 decoder.
 *
 * The configuration (streaming on or off, small or normal limits) comes
 * from the input's length, so that corpus files stay plain transcripts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailferry/imap_parser.h"
#include "mailferry/mutf7.h"

struct run {
    struct mf_buf dump;
    struct mf_buf streams;
};

static void
walk(const struct mf_imap_arg *args, size_t n, unsigned depth) {
    for (size_t i = 0; i < n; i++) {
        const struct mf_imap_arg *a = &args[i], *l;
        const uint8_t *d;
        const char *s;
        size_t len;
        uint32_t u32;
        uint64_t u64;

        (void)mf_imap_arg_as_u32(a, &u32);
        (void)mf_imap_arg_as_u64(a, &u64);
        (void)mf_imap_arg_atom_eq(a, "INTERNALDATE");
        if (mf_imap_arg_as_string(a, &d, &len) && len < 64) {
            struct mf_imap_datetime dt;
            if (mf_imap_datetime_parse((const char *)d, len, &dt) == MF_E_OK) {
                char out[MF_IMAP_DATETIME_LEN + 1];
                mf_imap_datetime_format(&dt, out);
                (void)mf_imap_datetime_to_unix(&dt);
            }
        }
        if (mf_imap_arg_as_astring(a, &s)) {
            struct mf_buf b = {0};
            if (mf_mutf7_decode(s, &b, NULL) != MF_E_OK && b.len != 0)
                abort();
            mf_buf_free(&b);
        }
        if (mf_imap_arg_as_list(a, &l, &len)) {
            if (depth > 64)
                abort();
            (void)mf_imap_args_find(l, len, "UID");
            walk(l, len, depth + 1);
        }
    }
}

static mf_err
on_response(void *ud, const struct mf_imap_response *r) {
    struct run *run = ud;
    mf_imap_response_dump(&run->dump, r, SIZE_MAX);
    mf_buf_append(&run->dump, "\n", 1);
    if (r->text == NULL || strlen(r->text) != r->text_len)
        abort();
    walk(r->args, r->nargs, 0);
    if (r->code.name)
        walk(r->code.args, r->code.nargs, 0);
    return MF_E_OK;
}

static mf_err
on_begin(void *ud, const struct mf_imap_literal_info *info) {
    struct run *run = ud;
    mf_buf_appendf(&run->streams, "<%u %s %s %u %llu>", (unsigned)info->number,
                   info->keyword ? info->keyword : "-",
                   info->item ? info->item : "-", info->depth,
                   (unsigned long long)info->size);
    return MF_E_OK;
}

static mf_err
on_data(void *ud, const uint8_t *data, size_t n) {
    struct run *run = ud;
    mf_buf_append(&run->streams, data, n);
    return MF_E_OK;
}

static mf_err
on_end(void *ud) {
    struct run *run = ud;
    mf_buf_append(&run->streams, "</>", 3);
    return MF_E_OK;
}

/* chunk 0: all at once; 1: byte by byte; else pseudo-random 1..chunk. */
static mf_err
parse(const uint8_t *data, size_t size, unsigned mode, size_t chunk,
      struct run *run) {
    struct mf_imap_parser_limits lim;
    struct mf_imap_parser_cb cb = {.on_response = on_response};
    struct mf_imap_parser *p;
    uint32_t seed = (uint32_t)size * 2654435761u + 1;
    size_t off = 0;
    mf_err rc = MF_E_OK;

    mf_imap_parser_limits_init(&lim);
    lim.max_line = 4096;
    lim.max_literal = 65536;
    lim.max_depth = 16;
    lim.max_args = 1000;
    if (mode == 1 || mode == 2) {
        cb.on_literal_begin = on_begin;
        cb.on_literal_data = on_data;
        cb.on_literal_end = on_end;
        lim.stream_threshold = mode == 1 ? 0 : 8;
    }
    if (mode == 3) {
        lim.max_line = 64;
        lim.max_literal = 32;
        lim.max_depth = 3;
        lim.max_args = 20;
    }
    p = mf_imap_parser_new(&lim, &cb, run);
    while (off < size) {
        size_t n = size - off, used;
        if (chunk == 1) {
            n = 1;
        } else if (chunk > 1) {
            seed = seed * 1103515245u + 12345u;
            size_t c = 1 + (seed >> 16) % chunk;
            if (c < n)
                n = c;
        }
        rc = mf_imap_parser_feed(p, data + off, n, &used);
        if (used > n)
            abort();
        if (rc != MF_E_OK) {
            if (rc != mf_imap_parser_error(p)->code)
                abort();
            break;
        }
        if (used != n)
            abort();
        off += n;
    }
    mf_buf_append(&run->dump, "", 0);
    mf_buf_append(&run->streams, "", 0);
    mf_imap_parser_free(&p);
    return rc;
}

static void
same(const struct mf_buf *a, const struct mf_buf *b) {
    if (a->len != b->len || (a->len && memcmp(a->data, b->data, a->len) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned mode = (unsigned)(size % 4);
    struct run whole = {0}, bytes = {0}, chunks = {0};
    mf_err a, b, c;

    a = parse(data, size, mode, 0, &whole);
    b = parse(data, size, mode, 1, &bytes);
    c = parse(data, size, mode, 7, &chunks);
    if (a != b || a != c)
        abort();
    same(&whole.dump, &bytes.dump);
    same(&whole.dump, &chunks.dump);
    same(&whole.streams, &bytes.streams);
    same(&whole.streams, &chunks.streams);
    mf_buf_free(&whole.dump);
    mf_buf_free(&whole.streams);
    mf_buf_free(&bytes.dump);
    mf_buf_free(&bytes.streams);
    mf_buf_free(&chunks.dump);
    mf_buf_free(&chunks.streams);
    return 0;
}
