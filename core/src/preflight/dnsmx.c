/*
 * MX answers, without I/O (see mailferry/preflight.h): what an answer
 * says, read with glibc's libresolv (ns_initparse, ns_parserr,
 * dn_expand), and the parsing of server addresses and resolv.conf.
 *
 * libresolv bounds-checks every read, caps names at 255 octets and
 * detects compression loops; this file checks that the answer is the
 * answer to our question, follows CNAMEs and keeps the MX records with
 * their TTLs.
 */
#include "mailferry/preflight.h"

#include "mailferry/util.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CNAMES 16

/* True if two names in text are the same name: equal on the wire but
 * for ASCII case (RFC 4343). Length octets are below 64, so folding
 * every octet only folds letters. */
static size_t
wire_len(const uint8_t *w) {
    size_t n = 0;

    while (w[n] != 0)
        n += 1u + w[n];
    return n + 1;
}

static bool
same_name(const char *a, const char *b) {
    uint8_t wa[NS_MAXCDNAME], wb[NS_MAXCDNAME];
    size_t n;

    if (ns_name_pton(a, wa, sizeof(wa)) < 0 ||
        ns_name_pton(b, wb, sizeof(wb)) < 0)
        return false;
    n = wire_len(wa);
    if (n != wire_len(wb))
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = wa[i], y = wb[i];
        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (uint8_t)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

/* Why the answer is malformed, or NULL when it parsed. */
static const char *
read_mx(const uint8_t *msg, size_t len, uint16_t id, const char *qname,
        struct mf_dns_mx_answer *ans) {
    ns_msg h;
    ns_rr rr;
    unsigned qd, an;

    /* ns_initparse walks every section: counts that do not match the
     * bytes, names that run past the end or use reserved label types,
     * record data past the end all fail here. */
    if (len > MF_DNS_MSG_MAX || ns_initparse(msg, (int)len, &h) < 0)
        return "the sections do not fit the message";
    if (ns_msg_id(h) != id)
        return "the answer's id does not match the query";
    if (!ns_msg_getflag(h, ns_f_qr))
        return "not a response (QR is 0)";
    if (ns_msg_getflag(h, ns_f_opcode) != ns_o_query)
        return "opcode is not QUERY";
    ans->authoritative = ns_msg_getflag(h, ns_f_aa) != 0;
    ans->truncated = ns_msg_getflag(h, ns_f_tc) != 0;
    ans->rcode = (uint8_t)ns_msg_getflag(h, ns_f_rcode);
    qd = ns_msg_count(h, ns_s_qd);
    an = ns_msg_count(h, ns_s_an);
    snprintf(ans->owner, sizeof(ans->owner), "%s", qname);
    /* A server may leave the question out of an error answer (FORMERR,
     * REFUSED from some servers): then there is nothing more to check. */
    if (qd == 0 && ans->rcode != ns_r_noerror)
        return NULL;
    if (qd != 1)
        return "the answer does not have exactly one question";
    if (ns_parserr(&h, ns_s_qd, 0, &rr) < 0)
        return "bad question";
    if (!same_name(ns_rr_name(rr), qname) || ns_rr_type(rr) != ns_t_mx ||
        ns_rr_class(rr) != ns_c_in)
        return "the answer is for another question";
    if (ans->rcode != ns_r_noerror)
        return NULL;
    for (unsigned i = 0; i < an; i++) {
        const uint8_t *rd;
        uint32_t ttl;
        unsigned rdlen;
        int n;

        if (ns_parserr(&h, ns_s_an, (int)i, &rr) < 0)
            return "bad record name";
        rd = ns_rr_rdata(rr);
        rdlen = ns_rr_rdlen(rr);
        /* RFC 2181 section 8: a TTL with the top bit set is 0. */
        ttl = ns_rr_ttl(rr) & 0x80000000u ? 0 : ns_rr_ttl(rr);
        if (ns_rr_class(rr) != ns_c_in ||
            !same_name(ns_rr_name(rr), ans->owner))
            continue;
        /* A name in record data must end inside it (dn_expand's end is
         * the end of the data), although its pointers may point
         * anywhere before. */
        if (ns_rr_type(rr) == ns_t_cname) {
            char target[MF_DNS_NAME_TEXT_MAX];
            n = dn_expand(msg, rd + rdlen, rd, target, sizeof(target));
            if (n < 0 || (unsigned)n != rdlen)
                return "bad CNAME data";
            if (++ans->cnames > MAX_CNAMES)
                return "too many CNAMEs";
            snprintf(ans->owner, sizeof(ans->owner), "%s",
                     target[0] ? target : ".");
            continue;
        }
        if (ns_rr_type(rr) != ns_t_mx)
            continue;
        /* RFC 1035 3.3.9: PREFERENCE(16) EXCHANGE(domain-name). */
        if (rdlen < 3)
            return "MX data too short";
        if (ans->count == MF_DNS_MX_MAX) {
            ans->dropped++;
            continue;
        }
        {
            struct mf_dns_mx *mx = &ans->mx[ans->count];
            n = dn_expand(msg, rd + rdlen, rd + 2, mx->exchange,
                          sizeof(mx->exchange));
            if (n < 0 || (unsigned)n + 2 != rdlen)
                return "bad MX data";
            /* dn_expand writes the root as "": a null MX (RFC 7505). */
            if (mx->exchange[0] == '\0')
                memcpy(mx->exchange, ".", 2);
            mx->preference = ns_get16(rd);
            mx->ttl = ttl;
            ans->count++;
        }
    }
    return NULL;
}

mf_err
mf_dns_parse_mx(const uint8_t *msg, size_t len, uint16_t id, const char *qname,
                struct mf_dns_mx_answer *ans_r, struct mf_error *err) {
    /* Big: keep it off the small stacks of worker threads. */
    struct mf_dns_mx_answer *ans;
    uint8_t wire[NS_MAXCDNAME];
    const char *why;
    mf_err rc = MF_E_OK;

    if (qname[0] == '\0' || ns_name_pton(qname, wire, sizeof(wire)) < 0)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT, "bad query name");
    ans = mf_xcalloc(1, sizeof(*ans));
    why = read_mx(msg, len, id, qname, ans);
    if (why)
        rc = mf_error_set(err, MF_E_DNS, "malformed DNS answer: %s", why);
    else
        *ans_r = *ans;
    free(ans);
    return rc;
}

const char *
mf_dns_rcode_name(uint8_t rcode, char *buf, size_t n) {
    static const char *const names[] = {
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
    };

    if (rcode < MF_ARRAY_LEN(names))
        return names[rcode];
    snprintf(buf, n, "RCODE%u", rcode);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Server addresses                                                    */
/* ------------------------------------------------------------------ */

mf_err
mf_dns_server_parse(const char *s, struct mf_dns_server *srv_r,
                    struct mf_error *err) {
    struct mf_dns_server srv = {.port = 53};
    const char *host = s, *colon = NULL;
    size_t hlen;
    uint8_t addr[16];

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            goto bad;
        host = s + 1;
        hlen = (size_t)(close - host);
        if (close[1] == ':')
            colon = close + 1;
        else if (close[1] != '\0')
            goto bad;
    } else {
        colon = strchr(s, ':');
        /* More than one colon: a bare IPv6 address, no port. */
        if (colon && strchr(colon + 1, ':'))
            colon = NULL;
        hlen = colon ? (size_t)(colon - s) : strlen(s);
    }
    if (hlen == 0 || hlen >= sizeof(srv.ip))
        goto bad;
    memcpy(srv.ip, host, hlen);
    srv.ip[hlen] = '\0';
    if (inet_pton(AF_INET, srv.ip, addr) != 1 &&
        inet_pton(AF_INET6, srv.ip, addr) != 1)
        goto bad;
    if (colon) {
        uint64_t port;
        if (!mf_parse_u64(colon + 1, 1, 65535, &port))
            goto bad;
        srv.port = (uint16_t)port;
    }
    *srv_r = srv;
    return MF_E_OK;
bad:
    return mf_error_set(err, MF_E_CONFIG,
                        "\"%.100s\": a DNS server is IP or IP:PORT "
                        "([IPv6]:PORT)",
                        s);
}

mf_err
mf_dns_resolvconf_server(const char *text, struct mf_dns_server *srv_r,
                         struct mf_error *err) {
    const char *p = text;

    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char line[256];

        if (n < sizeof(line)) {
            char *w, *end;
            memcpy(line, p, n);
            line[n] = '\0';
            w = line + strspn(line, " \t");
            if (strncmp(w, "nameserver", 10) == 0 &&
                (w[10] == ' ' || w[10] == '\t')) {
                struct mf_error e2 = {0};
                w += 10;
                w += strspn(w, " \t");
                end = w + strcspn(w, " \t\r#;");
                *end = '\0';
                /* "nameserver fe80::1%eth0": scoped addresses are not
                 * for us; try the next line. */
                if (!strchr(w, '%') &&
                    mf_dns_server_parse(w, srv_r, &e2) == MF_E_OK) {
                    srv_r->port = 53;
                    return MF_E_OK;
                }
            }
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    return mf_error_set(err, MF_E_NOT_FOUND,
                        "no nameserver in /etc/resolv.conf: use --server");
}

mf_err
mf_dns_server_choose(const char *given, struct mf_dns_server *srv_r,
                     struct mf_error *err) {
    char text[8192];
    size_t n;
    FILE *f;

    if (given)
        return mf_dns_server_parse(given, srv_r, err);
    f = fopen("/etc/resolv.conf", "r");
    n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    return mf_dns_resolvconf_server(text, srv_r, err);
}

void
mf_dns_server_format(const struct mf_dns_server *srv, char *buf, size_t size) {
    bool v6 = strchr(srv->ip, ':') != NULL;

    snprintf(buf, size, "%s%s%s:%u", v6 ? "[" : "", srv->ip, v6 ? "]" : "",
             srv->port);
}
