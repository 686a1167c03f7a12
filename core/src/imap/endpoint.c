/* Endpoint URL parsing and formatting (see mailferry/endpoint.h). */
#include "mailferry/endpoint.h"

#include "mailferry/util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool
host_char_ok(char c) {
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

mf_err
mf_endpoint_parse(const char *url, struct mf_endpoint *ep_r,
                  struct mf_error *err) {
    struct mf_endpoint ep = {0};
    const char *p, *host, *host_end, *rest;
    uint64_t port;

    if (strncmp(url, "imaps://", 8) == 0) {
        ep.tls = MF_TLS_IMPLICIT, ep.port = 993, p = url + 8;
    } else if (strncmp(url, "imap://", 7) == 0) {
        ep.tls = MF_TLS_STARTTLS, ep.port = 143, p = url + 7;
    } else {
        return mf_error_set(err, MF_E_CONFIG,
                            "\"%.100s\": an endpoint starts with imaps:// or "
                            "imap://",
                            url);
    }
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            return mf_error_set(err, MF_E_CONFIG, "\"%.100s\": missing ]", url);
        for (const char *c = host; c < host_end; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                return mf_error_set(err, MF_E_CONFIG,
                                    "\"%.100s\": bad IPv6 address", url);
        rest = host_end + 1;
    } else {
        host = p;
        for (host_end = host; host_char_ok(*host_end); host_end++)
            ;
        rest = host_end;
    }
    if (host_end == host || (size_t)(host_end - host) >= sizeof(ep.host))
        return mf_error_set(err, MF_E_CONFIG, "\"%.100s\": bad host name", url);
    memcpy(ep.host, host, (size_t)(host_end - host));
    if (*rest == ':') {
        char digits[8];
        size_t n = strspn(rest + 1, "0123456789");
        if (n == 0 || n >= sizeof(digits))
            return mf_error_set(err, MF_E_CONFIG, "\"%.100s\": bad port", url);
        memcpy(digits, rest + 1, n);
        digits[n] = '\0';
        if (!mf_parse_u64(digits, 1, 65535, &port))
            return mf_error_set(err, MF_E_CONFIG, "\"%.100s\": bad port", url);
        ep.port = (uint16_t)port;
        rest += 1 + n;
    }
    if (*rest == '/')
        rest++;
    if (*rest == '?') {
        if (strcmp(rest, "?tls=off") != 0)
            return mf_error_set(err, MF_E_CONFIG,
                                "\"%.100s\": the only option is ?tls=off", url);
        if (ep.tls == MF_TLS_IMPLICIT)
            return mf_error_set(err, MF_E_CONFIG,
                                "\"%.100s\": tls=off goes with imap://", url);
        ep.tls = MF_TLS_OFF;
    } else if (*rest != '\0') {
        return mf_error_set(err, MF_E_CONFIG,
                            "\"%.100s\": unexpected \"%.40s\" (a path or user "
                            "name does not belong in the endpoint)",
                            url, rest);
    }
    *ep_r = ep;
    return MF_E_OK;
}

void
mf_endpoint_format(const struct mf_endpoint *ep, char *out, size_t n) {
    bool v6 = strchr(ep->host, ':') != NULL;

    snprintf(out, n, "%s://%s%s%s:%u%s",
             ep->tls == MF_TLS_IMPLICIT ? "imaps" : "imap", v6 ? "[" : "",
             ep->host, v6 ? "]" : "", ep->port,
             ep->tls == MF_TLS_OFF ? "/?tls=off" : "");
}
