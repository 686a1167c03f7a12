/*
 * The parser's tokenizer: one complete line (CRLF removed) into the open
 * lists of args (RFC 3501 section 9: atom, quoted, literal size, lists).
 * It runs on whole lines only, so it keeps no state below the line level
 * (see parser.c for the framing that feeds it).
 */
#include "imap/parser_int.h"

#include <string.h>

mf_err
mf__imap_parser_push_arg(struct mf_imap_parser *p, const struct mf_imap_arg *a,
                         struct mf_error *e) {
    struct mf__imap_level *l = &p->stack[p->depth];

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
const struct mf_imap_arg *
mf__imap_parser_seal_level(struct mf_imap_parser *p, struct mf__imap_level *l,
                           size_t *count_r) {
    struct mf_imap_arg *v = NULL;

    *count_r = l->n;
    if (l->n) {
        v = mf__imap_arena_alloc(&p->arena, l->n * sizeof(*v));
        memcpy(v, l->v, l->n * sizeof(*v));
    }
    l->n = 0;
    return v;
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE (RFC 3501 section 9)
 * QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials
 * Liberal: 8-bit bytes pass; "\x" for other x keeps the backslash. */
static mf_err
read_quoted(struct mf_imap_parser *p, struct mf__imap_cur *c,
            struct mf_error *e) {
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
        else if (mf__imap_is_ctl(ch) && ch != '\t')
            return mf_error_set(e, MF_E_IMAP_PARSE,
                                "control character 0x%02x in quoted string",
                                ch);
        n++;
    }
    if (i >= c->len)
        return mf_error_set(e, MF_E_IMAP_PARSE, "unterminated quoted string");
    d = mf__imap_arena_alloc(&p->arena, n + 1);
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
    return mf__imap_parser_push_arg(p, &a, e);
}

/* Where a "[" at pos in an atom is closed, or 0 when it is not closed on
 * this line. Inside the brackets spaces and parentheses are part of the
 * atom: BODY[HEADER.FIELDS (FROM TO)] (RFC 3501 section-spec). */
static size_t
bracket_end(const struct mf__imap_cur *c, size_t pos) {
    unsigned depth = 0;
    for (size_t i = pos; i < c->len; i++) {
        uint8_t ch = c->s[i];
        if (mf__imap_is_ctl(ch))
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
read_atom(struct mf_imap_parser *p, struct mf__imap_cur *c,
          struct mf_error *e) {
    size_t start = c->pos;
    struct mf_imap_arg a;

    while (c->pos < c->len) {
        uint8_t ch = c->s[c->pos];
        if (ch == ' ' || ch == '(' || ch == ')')
            break;
        if (mf__imap_is_ctl(ch))
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
    a.u.str.data =
        (const uint8_t *)mf__imap_arena_strndup(&p->arena, c->s + start, n);
    a.u.str.len = n;
    return mf__imap_parser_push_arg(p, &a, e);
}

/* literal = "{" number ["+"] "}" CRLF *CHAR8 (RFC 3501, RFC 7888 "+",
 * RFC 3516 "~" for literal8). The size must end the line. */
static mf_err
read_literal_size(struct mf_imap_parser *p, struct mf__imap_cur *c,
                  uint64_t *size_r, struct mf_error *e) {
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
mf_err
mf__imap_parser_tokenize(struct mf_imap_parser *p, struct mf__imap_cur *c,
                         bool allow_literal, bool *lit_r, uint64_t *lit_size_r,
                         struct mf_error *e) {
    mf_err rc;

    *lit_r = false;
    for (;;) {
        mf__imap_skip_sp(c);
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
            a.u.list.args = mf__imap_parser_seal_level(p, &p->stack[p->depth],
                                                       &a.u.list.count);
            p->depth--;
            c->pos++;
            /* The list itself counts as an argument of its parent. */
            rc = mf__imap_parser_push_arg(p, &a, e);
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
