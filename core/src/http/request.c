/*
 * The HTTP request-head parser (see http_int.h): collects bytes up to the
 * empty line that ends the header section, then checks and splits the
 * request line in place. No I/O, no allocation.
 */
#include "http/http_int.h"

#include <string.h>

void
mf__http_req_init(struct mf__http_req *r) {
    memset(r, 0, offsetof(struct mf__http_req, buf));
    r->state = MF__HTTP_MORE;
    r->buf[0] = '\0';
}

static enum mf__http_parse
fail(struct mf__http_req *r, int status) {
    r->state = MF__HTTP_ERROR;
    r->status = status;
    return r->state;
}

/* RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 * "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static bool
is_tchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Cuts the line starting at p: replaces its LF (and a CR before it) with
 * NUL and returns the start of the next line. A CR anywhere else is a bare
 * CR, which RFC 9112 §2.2 lets a server reject: *bad is set. */
static char *
cut_line(char *p, bool *bad) {
    char *nl = strchr(p, '\n');
    char *end = nl;
    if (end > p && end[-1] == '\r')
        end--;
    *end = '\0';
    if (memchr(p, '\r', (size_t)(end - p)))
        *bad = true;
    return nl + 1;
}

/* request-target (RFC 9112 §3.2): origin-form "/path?query", absolute-form
 * "http://host/path" (which a server must accept), or "*". Returns the
 * path without query and fragment, or NULL when malformed. */
static const char *
target_path(char *t) {
    for (const unsigned char *q = (const unsigned char *)t; *q; q++)
        if (*q <= 0x20 || *q >= 0x7f)
            return NULL;
    char *path = t;
    if (strncmp(t, "http://", 7) == 0 || strncmp(t, "https://", 8) == 0) {
        char *auth = strstr(t, "//") + 2;
        path = strchr(auth, '/');
        if (!path) {
            /* "http://host" or "http://host?q": the path is "/". */
            return "/";
        }
    } else if (strcmp(t, "*") == 0) {
        return t;
    } else if (t[0] != '/') {
        return NULL;
    }
    path[strcspn(path, "?#")] = '\0';
    return path;
}

/* The whole head is in buf (NUL-terminated at the empty line). */
static enum mf__http_parse
parse_head(struct mf__http_req *r) {
    bool bad = false;
    char *line = r->buf;
    char *next = cut_line(line, &bad);
    if (bad)
        return fail(r, 400);

    /* request-line = method SP request-target SP HTTP-version */
    char *sp1 = strchr(line, ' ');
    if (!sp1 || sp1 == line || (size_t)(sp1 - line) > MF__HTTP_METHOD_MAX)
        return fail(r, 400);
    *sp1 = '\0';
    for (const char *m = line; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return fail(r, 400);
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target)
        return fail(r, 400);
    *sp2 = '\0';
    const char *ver = sp2 + 1;
    /* HTTP-version = "HTTP" "/" DIGIT "." DIGIT (case-sensitive) */
    if (strlen(ver) != 8 || strncmp(ver, "HTTP/", 5) != 0 || ver[5] < '0' ||
        ver[5] > '9' || ver[6] != '.' || ver[7] < '0' || ver[7] > '9')
        return fail(r, 400);
    if (ver[5] != '1')
        return fail(r, 505);
    const char *path = target_path(target);
    if (!path)
        return fail(r, 400);

    /* field-line = field-name ":" OWS field-value OWS. No whitespace is
     * allowed before the colon and obs-fold must be rejected (§5.1, §5.2).
     * The values themselves are not needed. */
    for (line = next;; line = next) {
        next = cut_line(line, &bad);
        if (bad)
            return fail(r, 400);
        if (*line == '\0')
            break; /* the empty line that ends the head */
        const char *c = line;
        while (is_tchar((unsigned char)*c))
            c++;
        if (c == line || *c != ':')
            return fail(r, 400);
    }

    r->method = r->buf;
    r->path = path;
    r->minor = ver[7] - '0';
    r->state = MF__HTTP_DONE;
    return r->state;
}

enum mf__http_parse
mf__http_req_feed(struct mf__http_req *r, const void *p, size_t n,
                  size_t *used_r) {
    const char *in = p;
    size_t used = 0;
    if (r->state != MF__HTTP_MORE)
        goto out;
    /* RFC 9112 §2.2: ignore empty lines received before the request-line
     * (some clients send an extra CRLF after a previous body). */
    while (r->len == 0 && used < n && (in[used] == '\r' || in[used] == '\n'))
        used++;
    size_t old = r->len;
    size_t take = n - used;
    if (take > MF_HTTP_HEADER_MAX - r->len)
        take = MF_HTTP_HEADER_MAX - r->len;
    memcpy(r->buf + r->len, in + used, take);
    r->len += take;
    r->buf[r->len] = '\0';

    /* The head ends at LF CRLF or LF LF (a bare LF line ending is allowed
     * by §2.2). scan is the first position not yet known not to start the
     * end; it stops at an LF whose follow-up bytes have not arrived. */
    size_t i;
    for (i = r->scan; i < r->len; i++) {
        char c = r->buf[i];
        if (c == '\0') {
            used += take;
            fail(r, 400);
            goto out;
        }
        if (c != '\n')
            continue;
        if (i + 1 >= r->len)
            break;
        size_t end = 0;
        if (r->buf[i + 1] == '\n')
            end = i + 1;
        else if (r->buf[i + 1] == '\r' && i + 2 >= r->len)
            break;
        else if (r->buf[i + 1] == '\r' && r->buf[i + 2] == '\n')
            end = i + 2;
        if (end) {
            used += end + 1 - old;
            r->buf[end + 1] = '\0';
            r->len = end + 1;
            parse_head(r);
            goto out;
        }
    }
    r->scan = i;
    used += take;
    if (r->len >= MF_HTTP_HEADER_MAX)
        fail(r, 431);
out:
    if (used_r)
        *used_r = used;
    return r->state;
}

const char *
mf__http_reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    }
    /* RFC 9110 §15: a client understands the class from the first digit;
     * the phrase is informational only. */
    return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
}
