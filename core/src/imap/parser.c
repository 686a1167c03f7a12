/*
 * IMAP response parser: framing, tokenizing and the response header (see
 * parser.h for the contract).
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
#include "imap/parser.h"

#include <stdlib.h>
#include <string.h>

/* ================================================================== */
/* Arena                                                               */
/* ================================================================== */

#define ARENA_CHUNK 8192
#define ARENA_ALIGN 16

struct chunk {
    struct chunk *next; /* owned */
    size_t cap;
    size_t used;
    size_t pad; /* keeps the data after the header 16-byte aligned */
};

struct arena {
    struct chunk *head; /* owned; the current chunk first */
};

static void *
arena_alloc(struct arena *a, size_t n) {
    struct chunk *c = a->head;
    size_t off;

    if (c) {
        off = (c->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
        if (off <= c->cap && n <= c->cap - off) {
            c->used = off + n;
            return (uint8_t *)(c + 1) + off;
        }
    }
    /* A big request gets a chunk of its own, placed after the current one
     * so that the current chunk's free space stays in use. */
    size_t cap = n > ARENA_CHUNK / 2 ? n : ARENA_CHUNK;
    MF_ASSERT(cap <= SIZE_MAX - sizeof(struct chunk));
    struct chunk *nc = mf_xmalloc(sizeof(struct chunk) + cap);
    nc->cap = cap;
    nc->used = n;
    if (c && cap != ARENA_CHUNK) {
        nc->next = c->next;
        c->next = nc;
    } else {
        nc->next = c;
        a->head = nc;
    }
    return nc + 1;
}

/* Frees every chunk but one standard chunk, kept for the next response. */
static void
arena_reset(struct arena *a) {
    struct chunk *keep = NULL;
    struct chunk *c = a->head;

    while (c) {
        struct chunk *next = c->next;
        if (!keep && c->cap == ARENA_CHUNK) {
            keep = c;
            keep->used = 0;
            keep->next = NULL;
        } else {
            free(c);
        }
        c = next;
    }
    a->head = keep;
}

static void
arena_free(struct arena *a) {
    struct chunk *c = a->head;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

static char *
arena_strndup(struct arena *a, const uint8_t *s, size_t n) {
    char *d = arena_alloc(a, n + 1);
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *
arena_upper(struct arena *a, const uint8_t *s, size_t n) {
    char *d = arena_strndup(a, s, n);
    for (size_t i = 0; i < n; i++)
        if (d[i] >= 'a' && d[i] <= 'z')
            d[i] = (char)(d[i] - 'a' + 'A');
    return d;
}

/* ================================================================== */
/* Parser state                                                        */
/* ================================================================== */

struct level {
    struct mf_imap_arg *v; /* owned; reused across responses */
    size_t n, cap;
};

enum frame_state {
    F_LINE,    /* collecting a line into p->line */
    F_LITERAL, /* reading literal bytes */
};

struct mf_imap_parser {
    struct mf_imap_parser_limits lim;
    struct mf_imap_parser_cb cb;
    void *ud; /* borrowed */
    struct mf_error err;
    bool failed;

    /* framing */
    enum frame_state fstate;
    uint8_t *line; /* owned; the current line, CRLF included */
    size_t line_len, line_cap;
    size_t resp_bytes;     /* bytes outside literals in this response */
    uint64_t lit_buffered; /* buffered literal bytes in this response */
    bool in_response;      /* the first line of a response was seen */
    bool data_response;    /* args follow the header (literals allowed) */

    /* the literal being read */
    uint64_t lit_size, lit_got;
    bool lit_stream;
    uint8_t *lit_buf; /* in the arena */

    /* structure */
    struct level *stack; /* owned; max_depth + 1 levels */
    unsigned depth;      /* open lists */
    size_t nargs;
    struct arena arena;
    struct mf_imap_response resp;
};

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
    arena_reset(&p->arena);
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
    arena_free(&p->arena);
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
/* Tokenizer                                                           */
/* ================================================================== */

/* A cursor over one line (CRLF removed). */
struct cur {
    const uint8_t *s;
    size_t len, pos;
};

static bool
is_ctl(uint8_t c) {
    return c < 0x20 || c == 0x7f;
}

static void
skip_sp(struct cur *c) {
    while (c->pos < c->len && c->s[c->pos] == ' ')
        c->pos++;
}

static mf_err
push_arg(struct mf_imap_parser *p, const struct mf_imap_arg *a,
         struct mf_error *e) {
    struct level *l = &p->stack[p->depth];

    if (p->nargs >= p->lim.max_args)
        return mf_error_set(e, MF_E_IMAP_LINE_TOO_LONG,
                            "response has more than %zu arguments",
                            p->lim.max_args);
    p->nargs++;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = mf_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = *a;
    return MF_E_OK;
}

/* Copies level's args into the arena; the level is emptied. */
static const struct mf_imap_arg *
seal_level(struct mf_imap_parser *p, struct level *l, size_t *count_r) {
    struct mf_imap_arg *v = NULL;

    *count_r = l->n;
    if (l->n) {
        v = arena_alloc(&p->arena, l->n * sizeof(*v));
        memcpy(v, l->v, l->n * sizeof(*v));
    }
    l->n = 0;
    return v;
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE (RFC 3501 section 9)
 * QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials
 * Liberal: 8-bit bytes pass; "\x" for other x keeps the backslash. */
static mf_err
read_quoted(struct mf_imap_parser *p, struct cur *c, struct mf_error *e) {
    size_t start = ++c->pos; /* after the opening quote */
    size_t n = 0;
    size_t i;
    struct mf_imap_arg a = {.type = MF_IMAP_ARG_QUOTED};
    uint8_t *d;

    /* First pass: find the end and the unescaped length. */
    for (i = start; i < c->len; i++) {
        uint8_t ch = c->s[i];
        if (ch == '"')
            break;
        if (ch == '\\' && i + 1 < c->len &&
            (c->s[i + 1] == '"' || c->s[i + 1] == '\\'))
            i++;
        else if (is_ctl(ch) && ch != '\t')
            return mf_error_set(e, MF_E_IMAP_PARSE,
                                "control character 0x%02x in quoted string",
                                ch);
        n++;
    }
    if (i >= c->len)
        return mf_error_set(e, MF_E_IMAP_PARSE, "unterminated quoted string");
    d = arena_alloc(&p->arena, n + 1);
    n = 0;
    for (i = start; c->s[i] != '"'; i++) {
        if (c->s[i] == '\\' && (c->s[i + 1] == '"' || c->s[i + 1] == '\\'))
            i++;
        d[n++] = c->s[i];
    }
    d[n] = '\0';
    c->pos = i + 1;
    a.u.str.data = d;
    a.u.str.len = n;
    return push_arg(p, &a, e);
}

/* Where a "[" at pos in an atom is closed, or 0 when it is not closed on
 * this line. Inside the brackets spaces and parentheses are part of the
 * atom: BODY[HEADER.FIELDS (FROM TO)] (RFC 3501 section-spec). */
static size_t
bracket_end(const struct cur *c, size_t pos) {
    unsigned depth = 0;
    for (size_t i = pos; i < c->len; i++) {
        uint8_t ch = c->s[i];
        if (is_ctl(ch))
            return 0;
        if (ch == '[')
            depth++;
        else if (ch == ']' && --depth == 0)
            return i;
    }
    return 0;
}

/* atom: everything up to SP, "(" or ")"; "NIL" in any case is NIL.
 * Liberal: "]", "%", "*", "\", "{", '"' and 8-bit bytes are accepted inside
 * (ASTRING-CHAR, list-wildcards, flags, raw UTF-8 mailbox names). */
static mf_err
read_atom(struct mf_imap_parser *p, struct cur *c, struct mf_error *e) {
    size_t start = c->pos;
    struct mf_imap_arg a;

    while (c->pos < c->len) {
        uint8_t ch = c->s[c->pos];
        if (ch == ' ' || ch == '(' || ch == ')')
            break;
        if (is_ctl(ch))
            return mf_error_set(e, MF_E_IMAP_PARSE,
                                "control character 0x%02x in atom", ch);
        if (ch == '[') {
            size_t end = bracket_end(c, c->pos);
            if (end) {
                c->pos = end + 1;
                continue;
            }
        }
        c->pos++;
    }
    size_t n = c->pos - start;
    a.type =
        (n == 3 && (c->s[start] | 0x20) == 'n' &&
         (c->s[start + 1] | 0x20) == 'i' && (c->s[start + 2] | 0x20) == 'l')
            ? MF_IMAP_ARG_NIL
            : MF_IMAP_ARG_ATOM;
    a.u.str.data = (const uint8_t *)arena_strndup(&p->arena, c->s + start, n);
    a.u.str.len = n;
    return push_arg(p, &a, e);
}

/* literal = "{" number ["+"] "}" CRLF *CHAR8 (RFC 3501, RFC 7888 "+",
 * RFC 3516 "~" for literal8). The size must end the line. */
static mf_err
read_literal_size(struct mf_imap_parser *p, struct cur *c, uint64_t *size_r,
                  struct mf_error *e) {
    uint64_t v = 0;
    size_t digits = 0;

    if (c->s[c->pos] == '~')
        c->pos++;
    c->pos++; /* "{" */
    while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
        unsigned d = (unsigned)(c->s[c->pos] - '0');
        if (v > (UINT64_MAX - d) / 10)
            v = UINT64_MAX; /* saturate: the limit check reports it */
        else
            v = v * 10 + d;
        digits++;
        c->pos++;
    }
    if (c->pos < c->len && c->s[c->pos] == '+')
        c->pos++;
    if (digits == 0 || c->pos >= c->len || c->s[c->pos] != '}')
        return mf_error_set(e, MF_E_IMAP_PARSE, "malformed literal size");
    c->pos++;
    if (c->pos != c->len)
        return mf_error_set(e, MF_E_IMAP_PARSE,
                            "literal size not at the end of the line");
    if (v > p->lim.max_literal)
        return mf_error_set(e, MF_E_IMAP_LITERAL_TOO_BIG,
                            "literal of %llu bytes exceeds the limit of %llu",
                            (unsigned long long)v,
                            (unsigned long long)p->lim.max_literal);
    *size_r = v;
    return MF_E_OK;
}

/* Tokenizes the rest of the line into the open lists. Sets *lit_r when the
 * line ends in a literal's size (only when allow_literal). */
static mf_err
tokenize(struct mf_imap_parser *p, struct cur *c, bool allow_literal,
         bool *lit_r, uint64_t *lit_size_r, struct mf_error *e) {
    mf_err rc;

    *lit_r = false;
    for (;;) {
        skip_sp(c);
        if (c->pos >= c->len)
            return MF_E_OK;
        uint8_t ch = c->s[c->pos];
        if (ch == '(') {
            if (p->depth >= p->lim.max_depth)
                return mf_error_set(e, MF_E_IMAP_NESTING,
                                    "lists nested deeper than %u",
                                    p->lim.max_depth);
            p->depth++;
            p->stack[p->depth].n = 0;
            c->pos++;
            continue;
        }
        if (ch == ')') {
            struct mf_imap_arg a = {.type = MF_IMAP_ARG_LIST};
            if (p->depth == 0)
                return mf_error_set(e, MF_E_IMAP_PARSE, "unbalanced ')'");
            a.u.list.args = seal_level(p, &p->stack[p->depth], &a.u.list.count);
            p->depth--;
            c->pos++;
            /* The list itself counts as an argument of its parent. */
            rc = push_arg(p, &a, e);
        } else if (ch == '"') {
            rc = read_quoted(p, c, e);
        } else if (ch == '{' || (ch == '~' && c->pos + 1 < c->len &&
                                 c->s[c->pos + 1] == '{')) {
            if (!allow_literal)
                return mf_error_set(e, MF_E_IMAP_PARSE,
                                    "literal not allowed here");
            rc = read_literal_size(p, c, lit_size_r, e);
            if (rc == MF_E_OK)
                *lit_r = true;
            return rc;
        } else {
            rc = read_atom(p, c, e);
        }
        if (rc != MF_E_OK)
            return rc;
    }
}

/* ================================================================== */
/* Response header and resp-text                                       */
/* ================================================================== */

/* A word of the header: up to SP or "(" (for "* 1 FETCH(...)"). */
static bool
read_word(struct cur *c, const uint8_t **w_r, size_t *n_r) {
    size_t start = c->pos;
    while (c->pos < c->len && c->s[c->pos] != ' ' && c->s[c->pos] != '(' &&
           !is_ctl(c->s[c->pos]))
        c->pos++;
    *w_r = c->s + start;
    *n_r = c->pos - start;
    return *n_r > 0;
}

bool
mf__imap_word_eq(const uint8_t *w, size_t n, const char *kw) {
    size_t i;
    for (i = 0; i < n && kw[i]; i++) {
        uint8_t a = w[i], b = (uint8_t)kw[i];
        if (a >= 'a' && a <= 'z')
            a = (uint8_t)(a - 'a' + 'A');
        if (b >= 'a' && b <= 'z')
            b = (uint8_t)(b - 'a' + 'A');
        if (a != b)
            return false;
    }
    return i == n && kw[i] == '\0';
}

static enum mf_imap_status
status_of(const uint8_t *w, size_t n, bool untagged) {
    if (mf__imap_word_eq(w, n, "OK"))
        return MF_IMAP_STATUS_OK;
    if (mf__imap_word_eq(w, n, "NO"))
        return MF_IMAP_STATUS_NO;
    if (mf__imap_word_eq(w, n, "BAD"))
        return MF_IMAP_STATUS_BAD;
    if (untagged && mf__imap_word_eq(w, n, "PREAUTH"))
        return MF_IMAP_STATUS_PREAUTH;
    if (untagged && mf__imap_word_eq(w, n, "BYE"))
        return MF_IMAP_STATUS_BYE;
    return MF_IMAP_STATUS_NONE;
}

/* Where the "]" that closes a resp-text-code starting at pos ("[") is: the
 * first "]" outside quotes and parentheses; 0 if none. */
static size_t
code_end(const struct cur *c, size_t pos) {
    unsigned parens = 0;
    bool quoted = false;
    for (size_t i = pos + 1; i < c->len; i++) {
        uint8_t ch = c->s[i];
        if (quoted) {
            if (ch == '\\' && i + 1 < c->len)
                i++;
            else if (ch == '"')
                quoted = false;
        } else if (ch == '"') {
            quoted = true;
        } else if (ch == '(') {
            parens++;
        } else if (ch == ')') {
            if (parens)
                parens--;
        } else if (ch == ']' && parens == 0) {
            return i;
        }
    }
    return 0;
}

/* resp-text = ["[" resp-text-code "]" SP] text (RFC 3501 section 9)
 * resp-text-code = ... / atom [SP 1*<any TEXT-CHAR except "]">]
 * A code that does not close on the line is taken as text. */
static void
parse_resp_text(struct mf_imap_parser *p, struct cur *c) {
    struct mf_imap_response *r = &p->resp;
    size_t end;

    if (c->pos < c->len && c->s[c->pos] == '[' &&
        (end = code_end(c, c->pos)) != 0) {
        struct cur code = {.s = c->s, .len = end, .pos = c->pos + 1};
        const uint8_t *w;
        size_t n;
        while (code.pos < code.len && code.s[code.pos] != ' ')
            code.pos++;
        w = c->s + c->pos + 1;
        n = code.pos - (c->pos + 1);
        if (n > 0) {
            struct mf_error ignored;
            bool lit;
            uint64_t lit_size;
            size_t nargs = p->nargs;

            r->code.name = arena_upper(&p->arena, w, n);
            if (code.pos < code.len)
                code.pos++;
            r->code.raw = arena_strndup(&p->arena, code.s + code.pos,
                                        code.len - code.pos);
            /* The stack is empty: status responses have no data args. */
            if (tokenize(p, &code, false, &lit, &lit_size, &ignored) ==
                    MF_E_OK &&
                p->depth == 0) {
                r->code.args = seal_level(p, &p->stack[0], &r->code.nargs);
                r->code.args_ok = true;
            } else {
                for (unsigned i = 0; i <= p->depth; i++)
                    p->stack[i].n = 0;
                p->depth = 0;
                p->nargs = nargs;
            }
            c->pos = end + 1;
            if (c->pos < c->len && c->s[c->pos] == ' ')
                c->pos++;
        }
    }
    r->text = arena_strndup(&p->arena, c->s + c->pos, c->len - c->pos);
    r->text_len = c->len - c->pos;
}

/* The first line of a response:
 *   response-tagged = tag SP resp-cond-state CRLF
 *   response-data   = "*" SP (resp-cond-state / resp-cond-bye /
 *                     mailbox-data / message-data / capability-data) CRLF
 *   continue-req    = "+" SP (resp-text / base64) CRLF
 * Sets p->data_response when args (and so literals) follow. */
static mf_err
parse_header(struct mf_imap_parser *p, struct cur *c, struct mf_error *e) {
    struct mf_imap_response *r = &p->resp;
    const uint8_t *w;
    size_t n;

    if (c->s[0] == '+') {
        r->kind = MF_IMAP_RESP_CONTINUATION;
        c->pos = 1;
        /* Some servers send a bare "+". */
        if (c->pos < c->len && c->s[c->pos] == ' ')
            c->pos++;
        parse_resp_text(p, c);
        return MF_E_OK;
    }
    if (c->s[0] == '*') {
        r->kind = MF_IMAP_RESP_UNTAGGED;
        c->pos = 1;
        if (c->pos >= c->len || c->s[c->pos] != ' ')
            return mf_error_set(e, MF_E_IMAP_PARSE, "no space after '*'");
        skip_sp(c);
        if (!read_word(c, &w, &n))
            return mf_error_set(e, MF_E_IMAP_PARSE,
                                "untagged response "
                                "without keyword");
        if (w[0] >= '0' && w[0] <= '9') {
            uint64_t v = 0;
            for (size_t i = 0; i < n; i++) {
                if (w[i] < '0' || w[i] > '9' || i >= 10)
                    return mf_error_set(e, MF_E_IMAP_PARSE,
                                        "bad number in untagged response");
                v = v * 10 + (uint64_t)(w[i] - '0');
            }
            if (v > UINT32_MAX)
                return mf_error_set(e, MF_E_IMAP_PARSE,
                                    "number out of range in untagged "
                                    "response");
            r->has_number = true;
            r->number = (uint32_t)v;
            skip_sp(c);
            if (!read_word(c, &w, &n))
                return mf_error_set(e, MF_E_IMAP_PARSE,
                                    "no keyword after number");
        }
        r->keyword = arena_upper(&p->arena, w, n);
        r->status = r->has_number ? MF_IMAP_STATUS_NONE : status_of(w, n, true);
        if (r->status != MF_IMAP_STATUS_NONE) {
            if (c->pos < c->len && c->s[c->pos] == ' ')
                c->pos++;
            parse_resp_text(p, c);
            return MF_E_OK;
        }
        r->text = "";
        p->data_response = true;
        return MF_E_OK;
    }
    r->kind = MF_IMAP_RESP_TAGGED;
    c->pos = 0;
    while (c->pos < c->len && c->s[c->pos] != ' ') {
        uint8_t ch = c->s[c->pos];
        /* tag = 1*<any ASTRING-CHAR except "+"> */
        if (is_ctl(ch) || ch == '(' || ch == ')' || ch == '{' || ch == '"' ||
            ch == '%' || ch == '*' || ch == '+' || ch == '\\' || ch >= 0x80)
            return mf_error_set(e, MF_E_IMAP_PARSE,
                                "invalid character 0x%02x in tag", ch);
        c->pos++;
    }
    if (c->pos == 0)
        return mf_error_set(e, MF_E_IMAP_PARSE, "response without a tag");
    r->tag = arena_strndup(&p->arena, c->s, c->pos);
    skip_sp(c);
    if (!read_word(c, &w, &n) ||
        (r->status = status_of(w, n, false)) == MF_IMAP_STATUS_NONE)
        return mf_error_set(e, MF_E_IMAP_PARSE,
                            "tagged response without OK, NO or BAD");
    r->keyword = arena_upper(&p->arena, w, n);
    if (c->pos < c->len && c->s[c->pos] == ' ')
        c->pos++;
    parse_resp_text(p, c);
    return MF_E_OK;
}

/* ================================================================== */
/* Framing                                                             */
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
    p->resp.args = seal_level(p, &p->stack[0], &p->resp.nargs);
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
    return push_arg(p, &a, e);
}

static mf_err
literal_start(struct mf_imap_parser *p, uint64_t size, struct mf_error *e) {
    struct level *l = &p->stack[p->depth];

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
        p->lit_buf = arena_alloc(&p->arena, (size_t)size + 1);
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
    struct cur c = {.s = p->line, .len = p->line_len - 2, .pos = 0};
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
        rc = parse_header(p, &c, e);
        if (rc != MF_E_OK)
            return rc;
    }
    if (p->data_response) {
        rc = tokenize(p, &c, true, &lit, &lit_size, e);
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
