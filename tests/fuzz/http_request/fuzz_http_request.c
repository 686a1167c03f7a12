/*
 * libFuzzer target for the HTTP request-head parser of the metrics and
 * health endpoints (core/src/http/request.c), which faces the network.
 *
 * The input is fed whole and, in a second parser, one byte at a time; the
 * two must agree. Invariants, any violation aborts:
 *   - never more consumed than fed, never a state other than the three;
 *   - ERROR always carries 400, 431 or 505;
 *   - DONE always has a NUL-terminated method and a path starting with
 *     '/' inside the buffer, and needs at most MF_HTTP_HEADER_MAX bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct mf__http_req *r, enum mf__http_parse st) {
    if (st == MF__HTTP_ERROR && r->status != 400 && r->status != 431 &&
        r->status != 505)
        abort();
    if (st == MF__HTTP_DONE) {
        if (!r->method || !r->path || r->path[0] != '/')
            abort();
        if (r->method < r->buf || r->path < r->buf ||
            r->path > r->buf + sizeof(r->buf))
            abort();
        if (memchr(r->path, '\0',
                   sizeof(r->buf) - (size_t)(r->path - r->buf)) == NULL)
            abort();
    }
    if (st != MF__HTTP_MORE && st != MF__HTTP_DONE && st != MF__HTTP_ERROR)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct mf__http_req whole, bytes;
    enum mf__http_parse a, b = MF__HTTP_MORE;
    size_t used = 0, total = 0;

    mf__http_req_init(&whole);
    a = mf__http_req_feed(&whole, data, size, &used);
    if (used > size)
        abort();
    check(&whole, a);
    mf__http_req_init(&bytes);
    for (size_t i = 0; i < size && b == MF__HTTP_MORE; i++) {
        size_t u = 0;
        b = mf__http_req_feed(&bytes, data + i, 1, &u);
        total += u;
    }
    check(&bytes, b);
    if (a != b || (a == MF__HTTP_ERROR && whole.status != bytes.status))
        abort();
    if (a == MF__HTTP_DONE &&
        (strcmp(whole.method, bytes.method) != 0 ||
         strcmp(whole.path, bytes.path) != 0 || total != used))
        abort();
    return 0;
}
