/*
 * A small JSON reader (RFC 8259) for what OAuth2 sends back: one object,
 * flattened into key/value members (oauth_int.h). Strict: anything that
 * is not JSON is refused with the byte offset. Sizes are capped before
 * anything is allocated: the text (MF__JSON_MAX_BYTES), the members
 * (MF__JSON_MAX_MEMBERS) and the nesting (MF__JSON_MAX_DEPTH).
 */
#include "oauth_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rd {
    const char *p, *end, *start;
    struct mf_error *err;
};

static mf_err
bad(struct rd *r, const char *what) {
    return mf_error_set(r->err, MF_E_OAUTH_BAD_ANSWER,
                        "invalid JSON at byte %zu: %s",
                        (size_t)(r->p - r->start), what);
}

static void
ws(struct rd *r) {
    while (r->p < r->end &&
           (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int
hex4(const char *p) {
    int v = 0;

    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static void
put_utf8(struct mf_buf *b, unsigned long cp) {
    unsigned char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    mf_buf_append(b, u, n);
}

/* string = quotation-mark *char quotation-mark (RFC 8259 section 7);
 * out may be NULL to skip. */
static mf_err
string(struct rd *r, struct mf_buf *out) {
    if (r->p >= r->end || *r->p != '"')
        return bad(r, "expected a string");
    r->p++;
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p;
        if (c < 0x20)
            return bad(r, "control character in a string");
        if (c != '\\') {
            if (out)
                mf_buf_append(out, r->p, 1);
            r->p++;
            continue;
        }
        if (r->end - r->p < 2)
            return bad(r, "unterminated escape");
        c = (unsigned char)r->p[1];
        r->p += 2;
        const char *simple = strchr("\"\\/bfnrt", c);
        if (c && simple) {
            static const char to[] = "\"\\/\b\f\n\r\t";
            if (out)
                mf_buf_append(out, &to[simple - "\"\\/bfnrt"], 1);
            continue;
        }
        if (c != 'u' || r->end - r->p < 4)
            return bad(r, "bad escape");
        int hi = hex4(r->p);
        unsigned long cp;
        if (hi < 0)
            return bad(r, "bad \\u escape");
        r->p += 4;
        cp = (unsigned long)hi;
        if (hi >= 0xd800 && hi <= 0xdbff) {
            int lo = r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u'
                         ? hex4(r->p + 2)
                         : -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                return bad(r, "lone surrogate");
            r->p += 6;
            cp = 0x10000 + (((unsigned long)hi - 0xd800) << 10) +
                 ((unsigned long)lo - 0xdc00);
        } else if (hi >= 0xdc00 && hi <= 0xdfff) {
            return bad(r, "lone surrogate");
        }
        if (out)
            put_utf8(out, cp);
    }
    if (r->p >= r->end)
        return bad(r, "unterminated string");
    r->p++;
    return MF_E_OK;
}

/* number = [ minus ] int [ frac ] [ exp ] */
static mf_err
number(struct rd *r, struct mf_buf *out) {
    const char *s = r->p;

    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return bad(r, "bad number");
    if (*r->p == '0')
        r->p++;
    else
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return bad(r, "bad fraction");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return bad(r, "bad exponent");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if (out)
        mf_buf_append(out, s, (size_t)(r->p - s));
    return MF_E_OK;
}

static bool
word(struct rd *r, const char *w) {
    size_t n = strlen(w);

    if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
        return false;
    r->p += n;
    return true;
}

/* Any value; out (may be NULL) gets strings, numbers, literals and
 * arrays of strings as described in oauth_int.h. */
static mf_err
value(struct rd *r, int depth, struct mf_buf *out, enum mf__json_type *t_r) {
    mf_err rc;

    ws(r);
    if (r->p >= r->end)
        return bad(r, "expected a value");
    switch (*r->p) {
    case '"':
        *t_r = MF__JSON_STRING;
        return string(r, out);
    case 't':
    case 'f':
    case 'n': {
        const char *s = r->p;
        if (!word(r, "true") && !word(r, "false") && !word(r, "null"))
            return bad(r, "bad literal");
        *t_r = *s == 'n' ? MF__JSON_NULL : MF__JSON_BOOL;
        if (out)
            mf_buf_append(out, s, (size_t)(r->p - s));
        return MF_E_OK;
    }
    case '{':
    case '[': {
        bool obj = *r->p == '{';
        bool strings = !obj;
        size_t count = 0;
        if (depth >= MF__JSON_MAX_DEPTH)
            return bad(r, "nested too deeply");
        r->p++;
        ws(r);
        if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
            r->p++;
            *t_r = obj ? MF__JSON_OTHER : MF__JSON_ARRAY;
            return MF_E_OK;
        }
        for (;;) {
            enum mf__json_type t;
            ws(r);
            if (obj) {
                if ((rc = string(r, NULL)) != MF_E_OK)
                    return rc;
                ws(r);
                if (r->p >= r->end || *r->p != ':')
                    return bad(r, "expected ':'");
                r->p++;
            }
            if (out && strings && count > 0)
                mf_buf_append(out, " ", 1);
            rc = value(r, depth + 1, strings ? out : NULL, &t);
            if (rc != MF_E_OK)
                return rc;
            if (strings && t != MF__JSON_STRING)
                strings = false;
            count++;
            ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
                r->p++;
                break;
            }
            return bad(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
        if (out && !strings)
            out->len = 0;
        *t_r = strings ? MF__JSON_ARRAY : MF__JSON_OTHER;
        return MF_E_OK;
    }
    default:
        *t_r = MF__JSON_NUMBER;
        return number(r, out);
    }
}

static char *
take(struct mf_buf *b) {
    char *s = mf_xmalloc(b->len + 1);

    if (b->len)
        memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    mf_wipe(b->data, b->len);
    b->len = 0;
    return s;
}

mf_err
mf__json_parse(const char *text, size_t n, struct mf__json_obj **obj_r,
               struct mf_error *err) {
    struct rd r = {.p = text, .end = text + n, .start = text, .err = err};
    struct mf__json_obj *o = NULL;
    struct mf_buf k = {0}, v = {0};
    mf_err rc = MF_E_OK;

    if (n > MF__JSON_MAX_BYTES)
        return mf_error_set(err, MF_E_OAUTH_BAD_ANSWER,
                            "JSON answer of %zu bytes is over the limit", n);
    o = mf_xcalloc(1, sizeof(*o));
    ws(&r);
    if (r.p >= r.end || *r.p != '{') {
        rc = bad(&r, "expected an object");
        goto out;
    }
    r.p++;
    ws(&r);
    if (r.p < r.end && *r.p == '}') {
        r.p++;
    } else {
        for (;;) {
            enum mf__json_type t;
            ws(&r);
            if ((rc = string(&r, &k)) != MF_E_OK)
                goto out;
            ws(&r);
            if (r.p >= r.end || *r.p != ':') {
                rc = bad(&r, "expected ':'");
                goto out;
            }
            r.p++;
            if ((rc = value(&r, 1, &v, &t)) != MF_E_OK)
                goto out;
            if (o->n == MF__JSON_MAX_MEMBERS) {
                rc = bad(&r, "too many members");
                goto out;
            }
            o->m[o->n].key = take(&k);
            o->m[o->n].value = take(&v);
            o->m[o->n].type = t;
            o->n++;
            ws(&r);
            if (r.p < r.end && *r.p == ',') {
                r.p++;
                continue;
            }
            if (r.p < r.end && *r.p == '}') {
                r.p++;
                break;
            }
            rc = bad(&r, "expected ',' or '}'");
            goto out;
        }
    }
    ws(&r);
    if (r.p != r.end) {
        rc = bad(&r, "text after the object");
        goto out;
    }
    *obj_r = o;
    o = NULL;
out:
    mf_wipe(k.data, k.len);
    mf_wipe(v.data, v.len);
    mf_buf_free(&k);
    mf_buf_free(&v);
    mf__json_free(&o);
    return rc;
}

void
mf__json_free(struct mf__json_obj **objp) {
    struct mf__json_obj *o = *objp;

    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        free(o->m[i].key);
        mf_wipe(o->m[i].value, strlen(o->m[i].value));
        free(o->m[i].value);
    }
    free(o);
    *objp = NULL;
}

const char *
mf__json_get(const struct mf__json_obj *o, const char *key,
             enum mf__json_type *type_r) {
    for (size_t i = o->n; i-- > 0;) {
        if (strcmp(o->m[i].key, key) == 0) {
            if (type_r)
                *type_r = o->m[i].type;
            return o->m[i].value;
        }
    }
    return NULL;
}
