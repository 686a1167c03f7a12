/*
 * DNS messages for MX lookups, without I/O (see mailferry/preflight.h):
 * a query builder, a response parser, and the parsing of server
 * addresses and resolv.conf.
 *
 * The parser trusts nothing in the message: every read is bounds-checked
 * against len, names are decoded into fixed buffers with their wire
 * length capped at 255 octets, and compression pointers may only point
 * backwards (before the label that holds them), which with the cap on
 * jumps rules out loops. RFC 1035 section 4.1 is quoted beside the code.
 */
#include "mailferry/preflight.h"

#include "mailferry/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HDR_LEN 12
#define NAME_WIRE_MAX 255
#define LABEL_MAX 63
#define MAX_JUMPS 128
#define MAX_CNAMES 16
#define CLASS_IN 1

static uint16_t
get16(const uint8_t *p) {
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
get32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

/* ------------------------------------------------------------------ */
/* Query                                                               */
/* ------------------------------------------------------------------ */

/* Encodes dotted text into wire labels. Returns the wire length or 0 on
 * a bad name. */
static size_t
encode_name(const char *name, uint8_t out[NAME_WIRE_MAX]) {
    size_t n = 0, lenpos;
    const char *p = name;

    if (strcmp(name, ".") == 0) {
        out[0] = 0;
        return 1;
    }
    while (*p) {
        size_t label = 0;
        lenpos = n++;
        if (n >= NAME_WIRE_MAX)
            return 0;
        while (*p && *p != '.') {
            unsigned c = (unsigned char)*p++;
            if (c == '\\') {
                if (isdigit((unsigned char)p[0]) &&
                    isdigit((unsigned char)p[1]) &&
                    isdigit((unsigned char)p[2])) {
                    c = (unsigned)((p[0] - '0') * 100 + (p[1] - '0') * 10 +
                                   (p[2] - '0'));
                    if (c > 255)
                        return 0;
                    p += 3;
                } else if (*p && !isdigit((unsigned char)*p)) {
                    c = (unsigned char)*p++;
                } else {
                    return 0;
                }
            }
            if (++label > LABEL_MAX || n + 1 >= NAME_WIRE_MAX)
                return 0;
            out[n++] = (uint8_t)c;
        }
        if (label == 0)
            return 0; /* "a..b" or a leading dot */
        out[lenpos] = (uint8_t)label;
        if (*p == '.') {
            p++;
            if (*p == '\0')
                break; /* the root's trailing dot */
        }
    }
    if (n == 0)
        return 0;
    out[n++] = 0;
    return n;
}

mf_err
mf_dns_build_query(const char *name, uint16_t qtype, uint16_t id, uint8_t *buf,
                   size_t cap, size_t *len_r, struct mf_error *err) {
    uint8_t wire[NAME_WIRE_MAX];
    size_t wlen = encode_name(name, wire), total;

    if (wlen == 0)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "\"%.200s\" is not a valid domain name", name);
    total = HDR_LEN + wlen + 4;
    if (cap < total)
        return mf_error_set(err, MF_E_LIMIT, "query buffer too small");
    /* Header: ID, flags RD (0x0100), QDCOUNT 1, the rest 0. */
    memset(buf, 0, HDR_LEN);
    buf[0] = (uint8_t)(id >> 8), buf[1] = (uint8_t)id;
    buf[2] = 0x01;
    buf[5] = 1;
    memcpy(buf + HDR_LEN, wire, wlen);
    buf[HDR_LEN + wlen] = (uint8_t)(qtype >> 8);
    buf[HDR_LEN + wlen + 1] = (uint8_t)qtype;
    buf[HDR_LEN + wlen + 2] = 0;
    buf[HDR_LEN + wlen + 3] = CLASS_IN;
    *len_r = total;
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* Response                                                            */
/* ------------------------------------------------------------------ */

/* Appends one label to text, escaping as RFC 1035 section 5.1 master
 * files do ("\." for a dot inside a label, "\DDD" for other bytes
 * outside printable ASCII). Returns false when out is full. */
static bool
append_label(char *out, size_t cap, size_t *pos, const uint8_t *l, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char tmp[5];
        int k;
        if (l[i] == '.' || l[i] == '\\')
            k = snprintf(tmp, sizeof(tmp), "\\%c", l[i]);
        else if (l[i] <= 0x20 || l[i] >= 0x7f)
            k = snprintf(tmp, sizeof(tmp), "\\%03u", l[i]);
        else
            k = snprintf(tmp, sizeof(tmp), "%c", l[i]);
        if (*pos + (size_t)k + 1 > cap)
            return false;
        memcpy(out + *pos, tmp, (size_t)k);
        *pos += (size_t)k;
    }
    out[*pos] = '\0';
    return true;
}

/* Reads the (possibly compressed) name at *off into text, and advances
 * *off past it in the message (a pointer ends the name in place).
 *
 *   RFC 1035 4.1.4: a pointer is two octets whose first two bits are
 *   ones; the rest is the offset from the start of the message. The
 *   bits 01 and 10 are reserved (RFC 6891 retired the extended labels).
 */
static bool
read_name(const uint8_t *msg, size_t len, size_t *off, char *text, size_t cap,
          const char **why) {
    size_t p = *off, wire = 0, pos = 0, end = 0, limit = *off;
    unsigned jumps = 0;
    bool jumped = false;

    text[0] = '\0';
    for (;;) {
        uint8_t b;
        if (p >= len)
            return *why = "name runs past the end", false;
        b = msg[p];
        if ((b & 0xc0) == 0xc0) {
            size_t target;
            if (p + 1 >= len)
                return *why = "pointer runs past the end", false;
            target = ((size_t)(b & 0x3f) << 8) | msg[p + 1];
            /* Backwards only: it must point before where this run of
             * labels started, which also rules out loops. */
            if (target >= limit || ++jumps > MAX_JUMPS)
                return *why = "compression pointer does not point back", false;
            if (!jumped)
                end = p + 2;
            jumped = true;
            limit = target;
            p = target;
            continue;
        }
        if (b & 0xc0)
            return *why = "reserved label type", false;
        if (b == 0) {
            if (!jumped)
                end = p + 1;
            break;
        }
        if (p + 1 + b > len)
            return *why = "label runs past the end", false;
        wire += 1u + b;
        if (wire + 1 > NAME_WIRE_MAX)
            return *why = "name longer than 255 octets", false;
        if (pos > 0) {
            if (pos + 2 > cap)
                return *why = "name too long", false;
            text[pos++] = '.';
            text[pos] = '\0';
        }
        if (!append_label(text, cap, &pos, msg + p + 1, b))
            return *why = "name too long", false;
        p += 1u + b;
    }
    if (pos == 0) {
        if (cap < 2)
            return *why = "name too long", false;
        memcpy(text, ".", 2);
    }
    *off = end;
    return true;
}

/* Case-insensitive comparison of two names as text, ignoring one
 * trailing dot on either (RFC 4343: DNS names compare without case). */
static bool
name_eq(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);

    if (la > 1 && a[la - 1] == '.' && (la < 2 || a[la - 2] != '\\'))
        la--;
    if (lb > 1 && b[lb - 1] == '.' && (lb < 2 || b[lb - 2] != '\\'))
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* A query name in canonical text (what read_name would give). */
static bool
canonical(const char *name, char *out, size_t cap) {
    uint8_t wire[NAME_WIRE_MAX];
    size_t wlen = encode_name(name, wire), off = 0;
    const char *why;

    return wlen > 0 && read_name(wire, wlen, &off, out, cap, &why);
}

mf_err
mf_dns_parse_mx(const uint8_t *msg, size_t len, uint16_t id, const char *qname,
                struct mf_dns_mx_answer *ans_r, struct mf_error *err) {
    /* Big: keep it off the small stacks of worker threads. */
    struct mf_dns_mx_answer *ans = mf_xcalloc(1, sizeof(*ans));
    char name[MF_DNS_NAME_TEXT_MAX], want[MF_DNS_NAME_TEXT_MAX];
    const char *why = NULL;
    uint16_t flags, qd, an;
    size_t off = HDR_LEN;
    mf_err rc = MF_E_OK;

    if (!canonical(qname, want, sizeof(want))) {
        rc = mf_error_set(err, MF_E_INVALID_ARGUMENT, "bad query name");
        goto out;
    }
    /*
     * RFC 1035 4.1.1:
     *   ID (16) | QR Opcode(4) AA TC RD | RA Z(3) RCODE(4) |
     *   QDCOUNT | ANCOUNT | NSCOUNT | ARCOUNT
     */
    if (len < HDR_LEN) {
        why = "shorter than a DNS header";
        goto bad;
    }
    flags = get16(msg + 2);
    if (get16(msg) != id) {
        why = "the answer's id does not match the query";
        goto bad;
    }
    if (!(flags & 0x8000)) {
        why = "not a response (QR is 0)";
        goto bad;
    }
    if (((flags >> 11) & 0xf) != 0) {
        why = "opcode is not QUERY";
        goto bad;
    }
    ans->authoritative = (flags & 0x0400) != 0;
    ans->truncated = (flags & 0x0200) != 0;
    ans->rcode = (uint8_t)(flags & 0xf);
    qd = get16(msg + 4);
    an = get16(msg + 6);
    snprintf(ans->owner, sizeof(ans->owner), "%s", want);
    /* A server may leave the question out of an error answer (FORMERR,
     * REFUSED from some servers): then there is nothing more to check. */
    if (qd == 0 && ans->rcode != MF_DNS_RCODE_NOERROR)
        goto done;
    if (qd != 1) {
        why = "the answer does not have exactly one question";
        goto bad;
    }
    if (!read_name(msg, len, &off, name, sizeof(name), &why))
        goto bad;
    if (off + 4 > len) {
        why = "question runs past the end";
        goto bad;
    }
    if (!name_eq(name, want) || get16(msg + off) != MF_DNS_TYPE_MX ||
        get16(msg + off + 2) != CLASS_IN) {
        why = "the answer is for another question";
        goto bad;
    }
    off += 4;
    if (ans->rcode != MF_DNS_RCODE_NOERROR)
        goto done;
    /* Answer RRs: NAME TYPE(16) CLASS(16) TTL(32) RDLENGTH(16) RDATA. */
    for (unsigned i = 0; i < an; i++) {
        uint16_t type, cls, rdlen;
        uint32_t ttl;
        size_t rd;

        if (!read_name(msg, len, &off, name, sizeof(name), &why))
            goto bad;
        if (off + 10 > len) {
            why = "record header runs past the end";
            goto bad;
        }
        type = get16(msg + off);
        cls = get16(msg + off + 2);
        ttl = get32(msg + off + 4);
        rdlen = get16(msg + off + 8);
        rd = off + 10;
        if (rd + rdlen > len) {
            why = "record data runs past the end";
            goto bad;
        }
        off = rd + rdlen;
        /* RFC 2181 section 8: a TTL with the top bit set is 0. */
        if (ttl & 0x80000000u)
            ttl = 0;
        if (cls != CLASS_IN || !name_eq(name, ans->owner))
            continue;
        if (type == MF_DNS_TYPE_CNAME) {
            size_t p = rd;
            char target[MF_DNS_NAME_TEXT_MAX];
            if (!read_name(msg, rd + rdlen, &p, target, sizeof(target), &why))
                goto bad;
            if (p != rd + rdlen) {
                why = "CNAME data has trailing bytes";
                goto bad;
            }
            if (++ans->cnames > MAX_CNAMES) {
                why = "too many CNAMEs";
                goto bad;
            }
            snprintf(ans->owner, sizeof(ans->owner), "%s", target);
            continue;
        }
        if (type != MF_DNS_TYPE_MX)
            continue;
        /* RFC 1035 3.3.9: PREFERENCE(16) EXCHANGE(domain-name). */
        if (rdlen < 3) {
            why = "MX data too short";
            goto bad;
        }
        {
            size_t p = rd + 2;
            struct mf_dns_mx *mx;
            if (ans->count == MF_DNS_MX_MAX) {
                ans->dropped++;
                continue;
            }
            mx = &ans->mx[ans->count];
            /* The name must end inside the record data, although its
             * pointers may point anywhere before. */
            if (!read_name(msg, rd + rdlen, &p, mx->exchange,
                           sizeof(mx->exchange), &why))
                goto bad;
            if (p != rd + rdlen) {
                why = "MX data has trailing bytes";
                goto bad;
            }
            mx->preference = get16(msg + rd);
            mx->ttl = ttl;
            ans->count++;
        }
    }
done:
    *ans_r = *ans;
    goto out;
bad:
    rc = mf_error_set(err, MF_E_DNS, "malformed DNS answer: %s", why);
out:
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
