/*
 * IMAP response parser: state and framing (see parser.h for the contract).
 * The tokenizer is in parser_lex.c, the response header in parser_resp.c
 * and the arena in parser_arena.c; parser_int.h is what they share.
 *
 * Input goes through two stages. Framing (mf_imap_parser_feed) collects
 * one line at a time into p->line (bounded by max_line) or, after a line
 * that ended in a literal's {n}, exactly n literal bytes (into the arena,
 * or to the streaming callbacks). Tokenizing runs on complete lines only:
 * a token never spans a line break except through a literal, so the
 * tokenizer needs no resumable state below the line level, and feeding one
 * byte at a time cannot change the result. What survives from one line to
 * the next is the response being built (p->resp) and the stack of open
 * lists (p->stack: one growable vector of args per nesting level, level 0
 * being the response's top-level args). A list is copied into the arena
 * when it closes.
 *
 * Ownership: the parser owns p->line, p->stack and the arena; everything a
 * response points to is in the arena, which is reset after on_response().
 */
#include "imap/parser_int.h"

#include <stdlib.h>
#include <string.h>

/* ================================================================== */
/* Parser state                                                       */
/* ================================================================== */

void
mf_imap_parser_limits_init(struct mf_imap_parser_limits *lim) {
    lim->max_line = MF_IMAP_PARSER_DEFAULT_MAX_LINE;
    lim->max_literal = MF_IMAP_PARSER_DEFAULT_MAX_LITERAL;
    lim->max_depth = MF_IMAP_PARSER_DEFAULT_MAX_DEPTH;
    lim->max_args = MF_IMAP_PARSER_DEFAULT_MAX_ARGS;
    lim->stream_threshold = MF_IMAP_PARSER_DEFAULT_STREAM_THRESHOLD;
}

struct mf_imap_parser *
mf_imap_parser_new(const struct mf_imap_parser_limits *lim,
                   const struct mf_imap_parser_cb *cb, void *ud) {
    struct mf_imap_parser *p = mf_xcalloc(1, sizeof(*p));

    MF_ASSERT(cb && cb->on_response);
    /* The streaming callbacks come as a set. */
    MF_ASSERT((cb->on_literal_begin != NULL) == (cb->on_literal_data != NULL));
    MF_ASSERT((cb->on_literal_begin != NULL) == (cb->on_literal_end != NULL));
    if (lim)
        p->lim = *lim;
    else
        mf_imap_parser_limits_init(&p->lim);
    MF_ASSERT(p->lim.max_line >= 16 && p->lim.max_line < SIZE_MAX / 2);
    MF_ASSERT(p->lim.max_depth >= 1 && p->lim.max_depth <= 100000);
    MF_ASSERT(p->lim.max_args >= 1);
    MF_ASSERT(p->lim.max_literal < SIZE_MAX / 2);
    p->cb = *cb;
    p->ud = ud;
    p->stack = mf_xcalloc(p->lim.max_depth + 1, sizeof(*p->stack));
    mf_error_clear(&p->err);
    return p;
}

static void
reset_response(struct mf_imap_parser *p) {
    for (unsigned i = 0; i <= p->depth; i++)
        p->stack[i].n = 0;
    p->depth = 0;
    p->nargs = 0;
    p->resp_bytes = 0;
    p->lit_buffered = 0;
    p->in_response = false;
    p->data_response = false;
    p->lit_buf = NULL;
    memset(&p->resp, 0, sizeof(p->resp));
    mf__imap_arena_reset(&p->arena);
}

void
mf_imap_parser_reset(struct mf_imap_parser *p) {
    reset_response(p);
    p->fstate = F_LINE;
    p->line_len = 0;
    p->failed = false;
    mf_error_clear(&p->err);
}

void
mf_imap_parser_free(struct mf_imap_parser **pp) {
    struct mf_imap_parser *p;

    if (!pp || !*pp)
        return;
    p = *pp;
    for (unsigned i = 0; i <= p->lim.max_depth; i++)
        free(p->stack[i].v);
    free(p->stack);
    free(p->line);
    mf__imap_arena_free(&p->arena);
    free(p);
    *pp = NULL;
}

const struct mf_error *
mf_imap_parser_error(const struct mf_imap_parser *p) {
    return &p->err;
}

bool
mf_imap_parser_in_response(const struct mf_imap_parser *p) {
    return p->in_response || p->line_len > 0 || p->fstate == F_LITERAL;
}

/* ================================================================== */
/* Framing                                                            */
/* ================================================================== */

static mf_err
fail(struct mf_imap_parser *p, const struct mf_error *e) {
    p->err = *e;
    p->failed = true;
    return e->code;
}

static mf_err
deliver(struct mf_imap_parser *p) {
    mf_err rc;
    p->resp.args = mf__imap_parser_seal_level(p, &p->stack[0], &p->resp.nargs);
    rc = p->cb.on_response(p->ud, &p->resp);
    reset_response(p);
    return rc;
}

/* A literal's last byte arrived (or it was empty). */
static mf_err
literal_done(struct mf_imap_parser *p, struct mf_error *e) {
    struct mf_imap_arg a;

    if (p->lit_stream) {
        mf_err rc = p->cb.on_literal_end(p->ud);
        if (rc != MF_E_OK)
            return mf_error_set(e, rc, "literal sink failed at the end");
        a.type = MF_IMAP_ARG_STREAMED;
        a.u.size = p->lit_size;
    } else {
        a.type = MF_IMAP_ARG_LITERAL;
        p->lit_buf[p->lit_size] = '\0';
        a.u.str.data = p->lit_buf;
        a.u.str.len = (size_t)p->lit_size;
    }
    p->lit_buf = NULL;
    p->fstate = F_LINE;
    return mf__imap_parser_push_arg(p, &a, e);
}

static mf_err
literal_start(struct mf_imap_parser *p, uint64_t size, struct mf_error *e) {
    struct mf__imap_level *l = &p->stack[p->depth];

    p->lit_size = size;
    p->lit_got = 0;
    p->lit_stream = p->cb.on_literal_begin && size > p->lim.stream_threshold;
    if (p->lit_stream) {
        struct mf_imap_literal_info info = {
            .has_number = p->resp.has_number,
            .number = p->resp.number,
            .keyword =
                p->resp.kind == MF_IMAP_RESP_TAGGED ? NULL : p->resp.keyword,
            .depth = p->depth,
            .size = size,
        };
        if (l->n > 0 && l->v[l->n - 1].type == MF_IMAP_ARG_ATOM)
            info.item = (const char *)l->v[l->n - 1].u.str.data;
        mf_err rc = p->cb.on_literal_begin(p->ud, &info);
        if (rc != MF_E_OK)
            return mf_error_set(e, rc, "literal sink refused %llu bytes",
                                (unsigned long long)size);
    } else {
        if (size > p->lim.max_literal - p->lit_buffered)
            return mf_error_set(e, MF_E_IMAP_LITERAL_TOO_BIG,
                                "literals in one response exceed %llu bytes",
                                (unsigned long long)p->lim.max_literal);
        p->lit_buffered += size;
        p->lit_buf = mf__imap_arena_alloc(&p->arena, (size_t)size + 1);
    }
    p->fstate = F_LITERAL;
    if (size == 0)
        return literal_done(p, e);
    return MF_E_OK;
}

/* A complete line is in p->line (CRLF included). Sets *complete_r when it
 * ended the response. */
static mf_err
line_done(struct mf_imap_parser *p, bool *complete_r, struct mf_error *e) {
    struct mf__imap_cur c = {.s = p->line, .len = p->line_len - 2, .pos = 0};
    bool lit = false;
    uint64_t lit_size = 0;
    mf_err rc;

    *complete_r = false;
    p->line_len = 0;
    if (!p->in_response) {
        if (c.len == 0) {
            p->resp_bytes = 0; /* an empty line between responses */
            return MF_E_OK;
        }
        p->in_response = true;
        rc = mf__imap_parser_header(p, &c, e);
        if (rc != MF_E_OK)
            return rc;
    }
    if (p->data_response) {
        rc = mf__imap_parser_tokenize(p, &c, true, &lit, &lit_size, e);
        if (rc != MF_E_OK)
            return rc;
        if (lit)
            return literal_start(p, lit_size, e);
        if (p->depth > 0)
            return mf_error_set(e, MF_E_IMAP_PARSE,
                                "list not closed at the end of the response");
    }
    *complete_r = true;
    return MF_E_OK;
}

mf_err
mf_imap_parser_feed(struct mf_imap_parser *p, const uint8_t *buf, size_t len,
                    size_t *consumed_r) {
    struct mf_error e;
    size_t i = 0;
    mf_err rc = MF_E_OK;

    if (p->failed) {
        if (consumed_r)
            *consumed_r = 0;
        return p->err.code;
    }
    while (i < len) {
        if (p->fstate == F_LITERAL) {
            uint64_t want = p->lit_size - p->lit_got;
            size_t n = len - i < want ? len - i : (size_t)want;
            if (p->lit_stream) {
                rc = p->cb.on_literal_data(p->ud, buf + i, n);
                if (rc != MF_E_OK) {
                    mf_error_set(&e, rc, "literal sink failed");
                    rc = fail(p, &e);
                    break;
                }
            } else {
                memcpy(p->lit_buf + p->lit_got, buf + i, n);
            }
            p->lit_got += n;
            i += n;
            if (p->lit_got == p->lit_size &&
                (rc = literal_done(p, &e)) != MF_E_OK) {
                rc = fail(p, &e);
                break;
            }
            continue;
        }

        /* The offending byte of a framing error is not counted as
         * consumed; a line that fails to parse is. */
        uint8_t ch = buf[i];
        if (p->resp_bytes >= p->lim.max_line) {
            mf_error_set(&e, MF_E_IMAP_LINE_TOO_LONG,
                         "response longer than %zu bytes (literals "
                         "excluded)",
                         p->lim.max_line);
            rc = fail(p, &e);
            break;
        }
        p->resp_bytes++;
        if (ch == '\0' ||
            (p->line_len > 0 && p->line[p->line_len - 1] == '\r' &&
             ch != '\n') ||
            (ch == '\n' &&
             (p->line_len == 0 || p->line[p->line_len - 1] != '\r'))) {
            mf_error_set(&e, MF_E_IMAP_PARSE, "%s in response line",
                         ch == '\0'   ? "NUL byte"
                         : ch == '\n' ? "bare LF"
                                      : "bare CR");
            rc = fail(p, &e);
            break;
        }
        if (p->line_len == p->line_cap) {
            /* line_len <= resp_bytes <= max_line bounds the buffer. */
            p->line_cap = p->line_cap ? p->line_cap * 2 : 256;
            if (p->line_cap > p->lim.max_line)
                p->line_cap = p->lim.max_line;
            p->line = mf_xrealloc(p->line, p->line_cap);
        }
        p->line[p->line_len++] = ch;
        i++;
        if (ch != '\n')
            continue;

        bool complete;
        rc = line_done(p, &complete, &e);
        if (rc != MF_E_OK) {
            rc = fail(p, &e);
            break;
        }
        if (complete && (rc = deliver(p)) != MF_E_OK)
            break;
    }
    if (consumed_r)
        *consumed_r = i;
    return rc;
}
