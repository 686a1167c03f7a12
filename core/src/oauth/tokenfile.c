/*
 * Token files (--source-oauth-token-file, --target-oauth-token-file):
 * either one bearer token, or lines "EmailAddress TOKEN", one mailbox a
 * line; empty lines and lines starting with '#' are skipped. The file is
 * read again at every call so that an outside refresher can rotate the
 * tokens while a batch runs. The file is capped at MF__TOKEN_FILE_MAX
 * bytes and wiped from memory after each read.
 */
#include "oauth_int.h"

#include "mailferry/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MF__TOKEN_FILE_MAX (4 * 1024 * 1024)

static bool
blank(int c) {
    return c == ' ' || c == '\t' || c == '\r';
}

/* Scans text for mailbox's token; *single_r is set when the file holds
 * one token alone. Returns the token's span in text. */
static bool
find(const char *text, size_t n, const char *mailbox, const char **tok_r,
     size_t *len_r) {
    const char *p = text, *end = text + n;
    const char *single = NULL;
    size_t single_len = 0, lines = 0;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end, *a, *ae, *b, *be;
        a = p;
        p = eol ? eol + 1 : end;
        while (a < le && blank(*a))
            a++;
        ae = le;
        while (ae > a && blank(ae[-1]))
            ae--;
        if (a == ae || *a == '#')
            continue;
        lines++;
        b = a;
        while (b < ae && !blank(*b))
            b++;
        if (b == ae) { /* one word: a token alone */
            single = a;
            single_len = (size_t)(ae - a);
            continue;
        }
        be = b;
        while (b < ae && blank(*b))
            b++;
        if (mailbox && (size_t)(be - a) == strlen(mailbox) &&
            strncasecmp(a, mailbox, (size_t)(be - a)) == 0) {
            *tok_r = b;
            *len_r = (size_t)(ae - b);
            return memchr(b, ' ', *len_r) == NULL;
        }
    }
    if (single && lines == 1) {
        *tok_r = single;
        *len_r = single_len;
        return true;
    }
    return false;
}

mf_err
mf__oauth_token_file(const char *path, const char *mailbox, char **token_r,
                     struct mf_error *err) {
    char *buf = NULL;
    const char *tok = NULL;
    size_t len = 0, tlen = 0;
    mf_err rc = MF_E_OK;
    FILE *f = fopen(path, "rb");

    if (!f)
        return mf_error_set(err, MF_E_SECRET_FILE, "%s: %s", path,
                            strerror(errno));
    buf = mf_xmalloc(MF__TOKEN_FILE_MAX + 1);
    len = fread(buf, 1, MF__TOKEN_FILE_MAX + 1, f);
    if (ferror(f)) {
        rc = mf_error_set(err, MF_E_SECRET_FILE, "%s: read error", path);
        goto out;
    }
    if (len > MF__TOKEN_FILE_MAX) {
        rc = mf_error_set(err, MF_E_SECRET_FILE, "%s: larger than %d bytes",
                          path, MF__TOKEN_FILE_MAX);
        goto out;
    }
    if (!find(buf, len, mailbox, &tok, &tlen) || tlen == 0 ||
        tlen > MF_SECRET_MAX) {
        rc = mf_error_set(err, MF_E_OAUTH_TOKEN_FILE,
                          "%s: no token for %s (one token alone, or lines "
                          "\"EmailAddress TOKEN\")",
                          path, mailbox ? mailbox : "the login");
        goto out;
    }
    *token_r = mf_xstrndup(tok, tlen);
out:
    mf_wipe(buf, len);
    free(buf);
    fclose(f);
    return rc;
}
