/*
 * Modified UTF-7 for IMAP mailbox names (RFC 3501 section 5.1.3), both
 * directions, strict (see mailferry/mutf7.h). Works a character at a time
 * into the caller's buffer; on error the buffer is cut back to its length
 * on entry, so a failed call leaves no partial name behind.
 *
 * RFC 3501 5.1.3: "&" shifts into modified BASE64 of UTF-16, "-" shifts
 * back; "&-" is "&"; printable US-ASCII other than "&" MUST represent
 * itself, so a BASE64 run that encodes it is invalid.
 */
#include "mailferry/mutf7.h"

#include "mailferry/util.h"

#include <stdint.h>
#include <string.h>

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64val(unsigned char c) {
    return mf_base64_digit(c, ',');
}

static void
put_utf8(struct mf_buf *out, uint32_t cp) {
    uint8_t b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xc0 | (cp >> 6));
        b[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xe0 | (cp >> 12));
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (uint8_t)(0xf0 | (cp >> 18));
        b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    mf_buf_append(out, b, n);
}

static mf_err
bad(struct mf_buf *out, size_t keep, struct mf_error *err, size_t off,
    const char *what) {
    out->len = keep;
    if (out->data)
        out->data[keep] = '\0';
    if (err)
        mf_error_set(err, MF_E_IMAP_BAD_MUTF7, "%s at offset %zu", what, off);
    return MF_E_IMAP_BAD_MUTF7;
}

mf_err
mf_mutf7_decode(const char *in, struct mf_buf *utf8_out, struct mf_error *err) {
    const unsigned char *s = (const unsigned char *)in;
    size_t keep = utf8_out->len;
    size_t i = 0;

    while (s[i]) {
        unsigned char c = s[i];
        if (c < 0x20 || c > 0x7e)
            return bad(utf8_out, keep, err, i,
                       "byte that is not printable US-ASCII");
        if (c != '&') {
            mf_buf_append(utf8_out, &c, 1);
            i++;
            continue;
        }
        size_t amp = i++;
        if (s[i] == '-') {
            mf_buf_append(utf8_out, "&", 1);
            i++;
            continue;
        }
        uint32_t bits = 0, high = 0;
        unsigned nbits = 0;
        for (;;) {
            c = s[i];
            if (c == '\0')
                return bad(utf8_out, keep, err, amp, "unterminated '&'");
            if (c == '-')
                break;
            int v = b64val(c);
            if (v < 0)
                return bad(utf8_out, keep, err, i, "bad BASE64 character");
            bits = (bits << 6) | (uint32_t)v;
            nbits += 6;
            i++;
            if (nbits < 16)
                continue;
            nbits -= 16;
            uint32_t u = (bits >> nbits) & 0xffff;
            bits &= (1u << nbits) - 1;
            if (high) {
                if (u < 0xdc00 || u > 0xdfff)
                    return bad(utf8_out, keep, err, i,
                               "unpaired high surrogate");
                put_utf8(utf8_out,
                         0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
                high = 0;
            } else if (u >= 0xd800 && u <= 0xdbff) {
                high = u;
            } else if (u >= 0xdc00 && u <= 0xdfff) {
                return bad(utf8_out, keep, err, i, "unpaired low surrogate");
            } else if (u >= 0x20 && u <= 0x7e) {
                return bad(utf8_out, keep, err, i,
                           "BASE64 encodes printable US-ASCII");
            } else if (u == 0) {
                return bad(utf8_out, keep, err, i, "BASE64 encodes U+0000");
            } else {
                put_utf8(utf8_out, u);
            }
        }
        if (high)
            return bad(utf8_out, keep, err, i, "unpaired high surrogate");
        /* A whole spare BASE64 character, or spare bits that are not
         * zero, mean the run was not produced by an encoder. */
        if (nbits >= 6 || bits != 0)
            return bad(utf8_out, keep, err, i, "bad BASE64 padding bits");
        i++; /* "-" */
    }
    return MF_E_OK;
}

/* Decodes one UTF-8 character at s[*i]; returns false when it is invalid
 * (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF). */
static bool
get_utf8(const unsigned char *s, size_t *i, uint32_t *cp_r) {
    unsigned char c = s[*i];
    uint32_t cp, min;
    size_t n;

    if (c < 0x80) {
        *cp_r = c;
        (*i)++;
        return true;
    }
    if ((c & 0xe0) == 0xc0) {
        cp = c & 0x1f;
        n = 1;
        min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        cp = c & 0x0f;
        n = 2;
        min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        cp = c & 0x07;
        n = 3;
        min = 0x10000;
    } else {
        return false;
    }
    for (size_t k = 1; k <= n; k++) {
        /* The NUL terminator fails this test, so we never read past it. */
        if ((s[*i + k] & 0xc0) != 0x80)
            return false;
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return false;
    *i += n + 1;
    *cp_r = cp;
    return true;
}

struct b64w {
    uint32_t bits;
    unsigned nbits;
};

static void
b64_put16(struct mf_buf *out, struct b64w *w, uint32_t u) {
    w->bits = (w->bits << 16) | u;
    w->nbits += 16;
    while (w->nbits >= 6) {
        w->nbits -= 6;
        mf_buf_append(out, &b64chars[(w->bits >> w->nbits) & 63], 1);
    }
    w->bits &= (1u << w->nbits) - 1;
}

static void
b64_end(struct mf_buf *out, struct b64w *w) {
    if (w->nbits)
        mf_buf_append(out, &b64chars[(w->bits << (6 - w->nbits)) & 63], 1);
    mf_buf_append(out, "-", 1);
    w->bits = 0;
    w->nbits = 0;
}

mf_err
mf_mutf7_encode(const char *utf8, struct mf_buf *out, struct mf_error *err) {
    const unsigned char *s = (const unsigned char *)utf8;
    size_t keep = out->len;
    size_t i = 0;
    bool shifted = false;
    struct b64w w = {0, 0};

    while (s[i]) {
        size_t at = i;
        uint32_t cp;
        if (!get_utf8(s, &i, &cp))
            return bad(out, keep, err, at, "invalid UTF-8");
        if (cp >= 0x20 && cp <= 0x7e) {
            if (shifted) {
                b64_end(out, &w);
                shifted = false;
            }
            if (cp == '&')
                mf_buf_append(out, "&-", 2);
            else
                mf_buf_append(out, &s[at], 1);
            continue;
        }
        if (!shifted) {
            mf_buf_append(out, "&", 1);
            shifted = true;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            b64_put16(out, &w, 0xd800 | (cp >> 10));
            b64_put16(out, &w, 0xdc00 | (cp & 0x3ff));
        } else {
            b64_put16(out, &w, cp);
        }
    }
    if (shifted)
        b64_end(out, &w);
    return MF_E_OK;
}
