/*
 * UTF-8 (RFC 3629 section 4): the one decoder of a sequence, used by the
 * JSON writer, the report's escaping, the header scanner and the folder
 * rules. Overlong forms, surrogates (U+D800..U+DFFF) and code points past
 * U+10FFFF are not UTF-8:
 *
 *   UTF8-2 = %xC2-DF UTF8-tail
 *   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 *   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *            %xF4 %x80-8F 2( UTF8-tail )
 */
#include "mailferry/util.h"

#include <string.h>

size_t
mf_utf8_next(const uint8_t *s, size_t n, uint32_t *cp_r) {
    uint32_t cp;
    size_t len;

    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        cp = s[0];
        len = 1;
        goto out;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
out:
    if (cp_r)
        *cp_r = cp;
    return len;
}

bool
mf_utf8_valid(const uint8_t *s, size_t n) {
    for (size_t i = 0, l; i < n; i += l)
        if ((l = mf_utf8_next(s + i, n - i, NULL)) == 0)
            return false;
    return true;
}

/* Terminal columns of code point c: 2 for the East Asian wide and
 * full-width ranges (folder names in Chinese, Japanese, Korean), else 1.
 * Enough for aligned tables and progress lines; not a full wcwidth(). */
static size_t
cp_columns(uint32_t c) {
    return (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
                   (c >= 0xac00 && c <= 0xd7a3) ||
                   (c >= 0xf900 && c <= 0xfaff) ||
                   (c >= 0xfe30 && c <= 0xfe4f) ||
                   (c >= 0xff00 && c <= 0xff60) ||
                   (c >= 0xffe0 && c <= 0xffe6) ||
                   (c >= 0x20000 && c <= 0x3fffd)
               ? 2
               : 1;
}

size_t
mf_utf8_fit(char *out, size_t n, const char *s, size_t width) {
    const uint8_t *p = (const uint8_t *)s;
    size_t len = strlen(s), cols = 0, i = 0, cut = 0, cut_cols = 0, l;

    MF_ASSERT(n > 0);
    while (i < len) {
        uint32_t cp = '?';
        size_t w;
        /* An invalid byte is one column, as a terminal shows it. */
        if ((l = mf_utf8_next(p + i, len - i, &cp)) == 0)
            l = 1;
        w = cp_columns(cp);
        /* Where to cut: room left for the ellipsis (one column), and
         * the bytes kept fit out with it (3 bytes) and the NUL. */
        if (cols + w + 1 <= width && i + l + 4 <= n) {
            cut = i + l;
            cut_cols = cols + w;
        }
        cols += w;
        i += l;
    }
    if (cols <= width && len < n) {
        memcpy(out, s, len + 1);
        return cols;
    }
    if (width == 0 || n < 4) {
        out[0] = '\0';
        return 0;
    }
    memcpy(out, s, cut);
    memcpy(out + cut, "\u2026", 4); /* 3 bytes and the NUL */
    return cut_cols + 1;
}

size_t
mf_utf8_cut(const char *s, size_t max) {
    size_t n = strnlen(s, max + 1);

    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}
