/*
 * IMAP endpoints as the admin writes them (docs/design.md §3):
 *
 *   imaps://host[:port]           TLS from the first byte (default port 993)
 *   imap://host[:port]            STARTTLS, required (default port 143)
 *   imap://host[:port]/?tls=off   plain text, for lab servers only
 *
 * host may be a name, an IPv4 address or a bracketed IPv6 address.
 * Parsing is a pure function; no name is resolved here.
 */
#ifndef MAILFERRY_ENDPOINT_H
#define MAILFERRY_ENDPOINT_H

#include "mailferry/err.h"

#include <stdint.h>

enum mf_tls_mode {
    MF_TLS_IMPLICIT, /* imaps:// */
    MF_TLS_STARTTLS, /* imap://, STARTTLS required */
    MF_TLS_OFF,      /* imap://...?tls=off */
};

#define MF_ENDPOINT_HOST_MAX 256

struct mf_endpoint {
    char host[MF_ENDPOINT_HOST_MAX]; /* without brackets */
    uint16_t port;
    enum mf_tls_mode tls;
};

/* Parses url into *ep_r (untouched on error). */
MF_WARN_UNUSED mf_err mf_endpoint_parse(const char *url,
                                        struct mf_endpoint *ep_r,
                                        struct mf_error *err);
/* Writes the canonical URL of ep ("imaps://mail.example.com:993"). */
void mf_endpoint_format(const struct mf_endpoint *ep, char *out, size_t n);

#endif
