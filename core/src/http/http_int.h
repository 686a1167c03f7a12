/*
 * Internals of the http module, shared by its files and the unit tests.
 *
 * The request parser does no I/O (STYLE.md: "a parser that does no I/O and
 * says need more data"): the server feeds it whatever recv() returned and
 * it answers MORE, DONE or ERROR. It only understands what a probe or a
 * scraper sends: a request line and header fields without a body
 * (RFC 9112 §2.1):
 *
 *   HTTP-message = start-line CRLF *( field-line CRLF ) CRLF [ message-body ]
 *   request-line = method SP request-target SP HTTP-version
 *
 * The bytes up to and including the empty line are copied into a fixed
 * buffer of MF_HTTP_HEADER_MAX bytes, so a request can never make it grow;
 * a bigger head is answered 431. Header values are not interpreted (the
 * server never keeps a connection alive and ignores bodies), only checked
 * for the syntax errors RFC 9112 says a server must reject.
 */
#ifndef MF_HTTP_INT_H
#define MF_HTTP_INT_H

#include "mailferry/http.h"

#include <stddef.h>
#include <stdint.h>

#define MF__HTTP_METHOD_MAX 16 /* longest method token kept */

enum mf__http_parse {
    MF__HTTP_MORE,  /* feed more bytes */
    MF__HTTP_DONE,  /* a whole head was read; method/path/minor are set */
    MF__HTTP_ERROR, /* malformed; status says which error to answer */
};

struct mf__http_req {
    enum mf__http_parse state;
    int status; /* on ERROR: 400, 431 or 505 */
    /* On DONE: NUL-terminated, pointing into buf. path has no query. */
    const char *method;
    const char *path;
    int minor; /* HTTP/1.<minor> */
    /* private */
    size_t len;  /* bytes of buf used */
    size_t scan; /* where the search for the empty line resumes */
    char buf[MF_HTTP_HEADER_MAX + 1];
};

/* Resets r for a new request. */
void mf__http_req_init(struct mf__http_req *r);
/* Feeds n bytes. Returns the new state; *used_r (may be NULL) says how
 * many bytes were consumed (on DONE the rest belongs to a body or a next
 * request, which the server ignores). Once DONE or ERROR, further calls
 * consume nothing and return the same state. */
enum mf__http_parse mf__http_req_feed(struct mf__http_req *r, const void *p,
                                      size_t n, size_t *used_r);

/* The reason phrase for a status code ("Not Found"). */
const char *mf__http_reason(int status);

#endif
