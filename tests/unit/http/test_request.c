/*
 * Unit tests of the HTTP request-head parser (core/src/http/request.c):
 * a table of heads, each fed whole, byte at a time and in random chunks,
 * must give the same result; plus the size limit and the byte count.
 */
#include "http/http_int.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

struct vec {
    const char *in;
    enum mf__http_parse want;
    int status;         /* ERROR */
    const char *method; /* DONE */
    const char *path;
    int minor;
};

/* A head the parser must accept as method, path and HTTP/1.minor, refuse
 * with status, or wait on for more bytes. */
#define DONE(in, method, path, minor)                                          \
    { in, MF__HTTP_DONE, 0, method, path, minor }
#define ERROR(in, status)                                                      \
    { in, MF__HTTP_ERROR, status, NULL, NULL, 0 }
#define MORE(in)                                                               \
    { in, MF__HTTP_MORE, 0, NULL, NULL, 0 }

static const struct vec vecs[] = {
    DONE("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/metrics", 1),
    DONE("HEAD /healthz HTTP/1.0\r\n\r\n", "HEAD", "/healthz", 0),
    DONE("GET /readyz?verbose=1#x HTTP/1.1\r\nA: b\r\nC:\r\n\r\n", "GET",
         "/readyz", 1),
    /* bare LF line endings (RFC 9112 §2.2) */
    DONE("GET / HTTP/1.1\nHost: x\n\n", "GET", "/", 1),
    /* empty lines before the request line are ignored */
    DONE("\r\n\r\nGET /a HTTP/1.1\r\n\r\n", "GET", "/a", 1),
    /* absolute-form */
    DONE("GET http://h:9090/metrics?x HTTP/1.1\r\n\r\n", "GET", "/metrics", 1),
    DONE("GET http://h:9090 HTTP/1.1\r\n\r\n", "GET", "/", 1),
    DONE("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\n", "POST",
         "/metrics", 1),
    DONE("OPTIONS * HTTP/1.1\r\n\r\n", "OPTIONS", "*", 1),
    /* errors */
    ERROR("GET /metrics HTTP/2.0\r\n\r\n", 505),
    ERROR("GET /metrics\r\n\r\n", 400),
    ERROR("GET  /metrics HTTP/1.1\r\n\r\n", 400),
    ERROR("GET /metrics HTTP/1.1 \r\n\r\n", 400),
    ERROR("GET /metrics http/1.1\r\n\r\n", 400),
    ERROR("GET metrics HTTP/1.1\r\n\r\n", 400),
    ERROR("G(T / HTTP/1.1\r\n\r\n", 400),
    ERROR("GET /\x7f HTTP/1.1\r\n\r\n", 400),
    ERROR("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400),
    ERROR("AVERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", 400),
    ERROR("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),
    ERROR("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ERROR("GET / HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n", 400),
    ERROR("GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400),
    ERROR("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400),
    /* incomplete */
    MORE("GET / HTTP/1.1\r\n"),
    MORE("GET / HTTP/1.1\r\nHost: x\r\n\r"),
    MORE(""),
    MORE("\r\n"),
};

#undef DONE
#undef ERROR
#undef MORE

static void
check(const struct vec *v, const struct mf__http_req *r, const char *how) {
    if (r->state != v->want)
        fail_msg("%s: \"%s\": state %d, want %d", how, v->in, r->state,
                 v->want);
    if (v->want == MF__HTTP_ERROR)
        assert_int_equal(r->status, v->status);
    if (v->want == MF__HTTP_DONE) {
        assert_string_equal(r->method, v->method);
        assert_string_equal(r->path, v->path);
        assert_int_equal(r->minor, v->minor);
    }
}

/* Feeds in chunks of 1..max bytes (max 0: whole). */
static void
feed_chunks(struct mf__http_req *r, const char *in, size_t max) {
    size_t len = strlen(in), off = 0;
    mf__http_req_init(r);
    while (off < len && r->state == MF__HTTP_MORE) {
        size_t n = max ? 1 + (size_t)rand() % max : len;
        if (n > len - off)
            n = len - off;
        size_t used = 0;
        mf__http_req_feed(r, in + off, n, &used);
        assert_true(used <= n);
        if (r->state == MF__HTTP_MORE)
            assert_int_equal(used, n);
        off += n;
    }
}

static void
test_vectors(void **state) {
    (void)state;
    struct mf__http_req *r = malloc(sizeof(*r));
    srand(1);
    for (size_t i = 0; i < MF_ARRAY_LEN(vecs); i++) {
        feed_chunks(r, vecs[i].in, 0);
        check(&vecs[i], r, "whole");
        feed_chunks(r, vecs[i].in, 1);
        check(&vecs[i], r, "byte at a time");
        for (int k = 0; k < 20; k++) {
            feed_chunks(r, vecs[i].in, 7);
            check(&vecs[i], r, "random chunks");
        }
    }
    free(r);
}

/* Bytes after the head (a body or a pipelined request) are not consumed. */
static void
test_used_count(void **state) {
    (void)state;
    struct mf__http_req *r = malloc(sizeof(*r));
    const char *in = "\r\nGET /x HTTP/1.1\r\n\r\nBODY";
    size_t used = 0;
    mf__http_req_init(r);
    assert_int_equal(mf__http_req_feed(r, in, strlen(in), &used),
                     MF__HTTP_DONE);
    assert_int_equal(used, strlen(in) - 4);
    /* Done is sticky and consumes nothing. */
    assert_int_equal(mf__http_req_feed(r, "more", 4, &used), MF__HTTP_DONE);
    assert_int_equal(used, 0);
    assert_string_equal(r->path, "/x");

    /* split inside the terminator: "...\r\n\r" + "\nBODY" */
    mf__http_req_init(r);
    assert_int_equal(mf__http_req_feed(r, "GET / HTTP/1.1\r\n\r", 17, &used),
                     MF__HTTP_MORE);
    assert_int_equal(used, 17);
    assert_int_equal(mf__http_req_feed(r, "\nBODY", 5, &used), MF__HTTP_DONE);
    assert_int_equal(used, 1);
    free(r);
}

/* The head may use MF_HTTP_HEADER_MAX bytes; one more is 431, also when
 * the bytes come one at a time, and also with a NUL in them (400). */
static void
test_limit(void **state) {
    (void)state;
    struct mf__http_req *r = malloc(sizeof(*r));
    char *big = malloc(MF_HTTP_HEADER_MAX + 64);
    const char *start = "GET / HTTP/1.1\r\nX: ";
    size_t fill = MF_HTTP_HEADER_MAX - strlen(start) - 4;
    memcpy(big, start, strlen(start));
    memset(big + strlen(start), 'a', fill);
    memcpy(big + strlen(start) + fill, "\r\n\r\n", 5);
    assert_int_equal(strlen(big), MF_HTTP_HEADER_MAX);
    feed_chunks(r, big, 0);
    assert_int_equal(r->state, MF__HTTP_DONE);

    /* one byte more */
    memcpy(big + strlen(start) + fill, "a\r\n\r\n", 6);
    feed_chunks(r, big, 0);
    assert_int_equal(r->state, MF__HTTP_ERROR);
    assert_int_equal(r->status, 431);
    feed_chunks(r, big, 1);
    assert_int_equal(r->status, 431);

    /* never-ending headers, fed in 1 KB pieces */
    mf__http_req_init(r);
    memset(big, 'b', 1024);
    mf__http_req_feed(r, "GET / HTTP/1.1\r\n", 16, NULL);
    for (int i = 0; i < 100 && r->state == MF__HTTP_MORE; i++)
        mf__http_req_feed(r, big, 1024, NULL);
    assert_int_equal(r->state, MF__HTTP_ERROR);
    assert_int_equal(r->status, 431);

    /* NUL byte */
    mf__http_req_init(r);
    mf__http_req_feed(r, "GET / HT\0TP/1.1\r\n\r\n", 19, NULL);
    assert_int_equal(r->state, MF__HTTP_ERROR);
    assert_int_equal(r->status, 400);
    free(big);
    free(r);
}

static void
test_reason(void **state) {
    (void)state;
    assert_string_equal(mf__http_reason(200), "OK");
    assert_string_equal(mf__http_reason(404), "Not Found");
    assert_string_equal(mf__http_reason(431),
                        "Request Header Fields Too Large");
    assert_string_equal(mf__http_reason(503), "Service Unavailable");
    assert_string_equal(mf__http_reason(418), "Client Error");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_used_count),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
