/*
 * The first line of a response: tag or "*" or "+", the status word or the
 * keyword, and resp-text with its optional [resp-text-code] (RFC 3501
 * section 7.1 and section 9).
 */
#include "imap/parser_int.h"

#include <string.h>

/* A word of the header: up to SP or "(" (for "* 1 FETCH(...)"). */
static bool
read_word(struct mf__imap_cur *c, const uint8_t **w_r, size_t *n_r) {
    size_t start = c->pos;
    while (c->pos < c->len && c->s[c->pos] != ' ' && c->s[c->pos] != '(' &&
           !mf__imap_is_ctl(c->s[c->pos]))
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
code_end(const struct mf__imap_cur *c, size_t pos) {
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
parse_resp_text(struct mf_imap_parser *p, struct mf__imap_cur *c) {
    struct mf_imap_response *r = &p->resp;
    size_t end;

    if (c->pos < c->len && c->s[c->pos] == '[' &&
        (end = code_end(c, c->pos)) != 0) {
        struct mf__imap_cur code = {.s = c->s, .len = end, .pos = c->pos + 1};
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

            r->code.name = mf__imap_arena_upper(&p->arena, w, n);
            if (code.pos < code.len)
                code.pos++;
            r->code.raw = mf__imap_arena_strndup(&p->arena, code.s + code.pos,
                                                 code.len - code.pos);
            /* The stack is empty: status responses have no data args. */
            if (mf__imap_parser_tokenize(p, &code, false, &lit, &lit_size,
                                         &ignored) == MF_E_OK &&
                p->depth == 0) {
                r->code.args =
                    mf__imap_parser_seal_level(p, &p->stack[0], &r->code.nargs);
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
    r->text = mf__imap_arena_strndup(&p->arena, c->s + c->pos, c->len - c->pos);
    r->text_len = c->len - c->pos;
}

/* The first line of a response:
 *   response-tagged = tag SP resp-cond-state CRLF
 *   response-data   = "*" SP (resp-cond-state / resp-cond-bye /
 *                     mailbox-data / message-data / capability-data) CRLF
 *   continue-req    = "+" SP (resp-text / base64) CRLF
 * Sets p->data_response when args (and so literals) follow. */
mf_err
mf__imap_parser_header(struct mf_imap_parser *p, struct mf__imap_cur *c,
                       struct mf_error *e) {
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
        mf__imap_skip_sp(c);
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
            mf__imap_skip_sp(c);
            if (!read_word(c, &w, &n))
                return mf_error_set(e, MF_E_IMAP_PARSE,
                                    "no keyword after number");
        }
        r->keyword = mf__imap_arena_upper(&p->arena, w, n);
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
        if (mf__imap_is_ctl(ch) || ch == '(' || ch == ')' || ch == '{' ||
            ch == '"' || ch == '%' || ch == '*' || ch == '+' || ch == '\\' ||
            ch >= 0x80)
            return mf_error_set(e, MF_E_IMAP_PARSE,
                                "invalid character 0x%02x in tag", ch);
        c->pos++;
    }
    if (c->pos == 0)
        return mf_error_set(e, MF_E_IMAP_PARSE, "response without a tag");
    r->tag = mf__imap_arena_strndup(&p->arena, c->s, c->pos);
    mf__imap_skip_sp(c);
    if (!read_word(c, &w, &n) ||
        (r->status = status_of(w, n, false)) == MF_IMAP_STATUS_NONE)
        return mf_error_set(e, MF_E_IMAP_PARSE,
                            "tagged response without OK, NO or BAD");
    r->keyword = mf__imap_arena_upper(&p->arena, w, n);
    if (c->pos < c->len && c->s[c->pos] == ' ')
        c->pos++;
    parse_resp_text(p, c);
    return MF_E_OK;
}
