/*
 * DNS MX answers (core/src/preflight/dnsmx.c, on libresolv): names the
 * resolver refuses, real dnsmasq answers, hand-built answers with compression,
 * CNAMEs and odd TTLs, every malformation we know of (each must fail cleanly
 * and leave the output untouched), and every truncation of a good answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/preflight.h"
#include "mailferry/util.h"

#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static size_t
unhex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = 0;

    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        assert_true(n < cap);
        assert_int_equal(sscanf(hex, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* A message under construction. */
struct msg {
    uint8_t b[8192];
    size_t n;
};

static void
put8(struct msg *m, unsigned v) {
    assert_true(m->n < sizeof(m->b));
    m->b[m->n++] = (uint8_t)v;
}

static void
put16(struct msg *m, unsigned v) {
    put8(m, v >> 8), put8(m, v & 0xff);
}

static void
put32(struct msg *m, uint32_t v) {
    put16(m, v >> 16), put16(m, v & 0xffff);
}

/* Uncompressed name from dotted text (no escapes). */
static void
putname(struct msg *m, const char *name) {
    const char *p = name;

    while (*p) {
        size_t l = strcspn(p, ".");
        put8(m, (unsigned)l);
        for (size_t i = 0; i < l; i++)
            put8(m, (unsigned char)p[i]);
        p += l;
        if (*p == '.')
            p++;
    }
    put8(m, 0);
}

static void
header(struct msg *m, uint16_t id, uint16_t flags, unsigned qd, unsigned an) {
    m->n = 0;
    put16(m, id), put16(m, flags), put16(m, qd), put16(m, an);
    put16(m, 0), put16(m, 0);
}

static void
question(struct msg *m, const char *name) {
    putname(m, name);
    put16(m, ns_t_mx), put16(m, 1);
}

/* An MX record with owner and exchange uncompressed. */
static void
mx_rr(struct msg *m, const char *owner, uint32_t ttl, unsigned pref,
      const char *exch) {
    size_t lenpos;

    putname(m, owner);
    put16(m, ns_t_mx), put16(m, 1), put32(m, ttl);
    lenpos = m->n;
    put16(m, 0);
    put16(m, pref);
    putname(m, exch);
    m->b[lenpos] = (uint8_t)((m->n - lenpos - 2) >> 8);
    m->b[lenpos + 1] = (uint8_t)(m->n - lenpos - 2);
}

static mf_err
parse(const struct msg *m, uint16_t id, const char *q,
      struct mf_dns_mx_answer *a, struct mf_error *err) {
    return mf_dns_parse_mx(m->b, m->n, id, q, a, err);
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

/* A name res_nmkquery refuses fails before anything is sent (the server
 * is a port nobody listens on: a query would fail otherwise), and the
 * parser refuses the same names as the query name. */
static void
test_bad_names(void **state) {
    char label64[80], long_name[300];
    const struct mf_dns_server nobody = {.ip = "127.0.0.1", .port = 9};
    struct mf_dns_mx_answer *a = calloc(1, sizeof(*a));
    struct mf_error err = {0};
    const char *bad[] = {"", "a..b", ".a", "..", label64, long_name};
    static const uint8_t any[12] = {0};
    (void)state;
    memset(label64, 'a', 64);
    label64[64] = '\0';
    /* 64 labels of 3 bytes: 256 octets on the wire, one too many. */
    for (int i = 0; i < 64; i++)
        memcpy(long_name + i * 4, "abc.", 4);
    long_name[64 * 4 - 1] = '\0';
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++) {
        a->count = 77;
        if (mf_dns_query_mx(&nobody, bad[i], 1000, a, &err) !=
            MF_E_INVALID_ARGUMENT)
            fail_msg("query accepted name %zu \"%.40s\"", i, bad[i]);
        assert_non_null(strstr(err.detail, "not a valid domain name"));
        if (mf_dns_parse_mx(any, sizeof(any), 0, bad[i], a, &err) !=
            MF_E_INVALID_ARGUMENT)
            fail_msg("parser accepted name %zu \"%.40s\"", i, bad[i]);
        assert_int_equal(a->count, 77);
    }
    free(a);
}

/* ------------------------------------------------------------------ */
/* Real answers (dnsmasq 2.90, captured by tests/support/dns/fixture)   */
/* ------------------------------------------------------------------ */

static const char dnsmasq_low[] =
    "123485800001000200000000076578616d706c65047465737400000f0001c00c000f"
    "00010000012c00140014036d7832076578616d706c65047465737400c00c000f0001"
    "0000012c0014000a036d7831076578616d706c65047465737400";
static const char dnsmasq_high_auth[] =
    "1234850000010001000100000468696768047465737400000f0001c00c000f000100"
    "0151800010000a026d78046869676804746573740004686967680474657374000002"
    "000100015180000e026e730468696768047465737400";
static const char dnsmasq_nxdomain[] =
    "123481830001000000000000046e6f7065047465737400000f0001";
static const char dnsmasq_refused_noq[] = "123481050000000000000000";

static void
test_dnsmasq_answers(void **state) {
    struct mf_dns_mx_answer *a = calloc(1, sizeof(*a));
    struct mf_error err = {0};
    uint8_t buf[512];
    size_t n;
    (void)state;

    n = unhex(dnsmasq_low, buf, sizeof(buf));
    assert_int_equal(mf_dns_parse_mx(buf, n, 0x1234, "example.test", a, &err),
                     MF_E_OK);
    assert_int_equal(a->rcode, MF_DNS_RCODE_NOERROR);
    assert_true(a->authoritative);
    assert_false(a->truncated);
    assert_int_equal(a->count, 2);
    assert_int_equal(a->mx[0].preference, 20);
    assert_string_equal(a->mx[0].exchange, "mx2.example.test");
    assert_int_equal(a->mx[0].ttl, 300);
    assert_int_equal(a->mx[1].preference, 10);
    assert_string_equal(a->mx[1].exchange, "mx1.example.test");
    /* The question name compares without case. */
    assert_int_equal(mf_dns_parse_mx(buf, n, 0x1234, "EXAMPLE.Test.", a, &err),
                     MF_E_OK);

    n = unhex(dnsmasq_high_auth, buf, sizeof(buf));
    assert_int_equal(mf_dns_parse_mx(buf, n, 0x1234, "high.test", a, &err),
                     MF_E_OK);
    assert_int_equal(a->count, 1);
    assert_int_equal(a->mx[0].ttl, 86400);
    assert_string_equal(a->mx[0].exchange, "mx.high.test");

    n = unhex(dnsmasq_nxdomain, buf, sizeof(buf));
    assert_int_equal(mf_dns_parse_mx(buf, n, 0x1234, "nope.test", a, &err),
                     MF_E_OK);
    assert_int_equal(a->rcode, MF_DNS_RCODE_NXDOMAIN);
    assert_int_equal(a->count, 0);

    n = unhex(dnsmasq_refused_noq, buf, sizeof(buf));
    assert_int_equal(mf_dns_parse_mx(buf, n, 0x1234, "any.test", a, &err),
                     MF_E_OK);
    assert_int_equal(a->rcode, MF_DNS_RCODE_REFUSED);
    free(a);
}

/* Every proper prefix of a good answer fails, without touching *a. */
static void
test_truncations(void **state) {
    struct mf_dns_mx_answer *a = calloc(1, sizeof(*a));
    struct mf_error err = {0};
    uint8_t buf[512];
    size_t n = unhex(dnsmasq_low, buf, sizeof(buf));
    (void)state;

    for (size_t k = 0; k < n; k++) {
        uint8_t *copy = malloc(k ? k : 1); /* exact size: ASan sees overreads */
        memcpy(copy, buf, k);
        a->count = 99;
        if (mf_dns_parse_mx(copy, k, 0x1234, "example.test", a, &err) ==
            MF_E_OK)
            fail_msg("prefix of %zu bytes accepted", k);
        assert_int_equal(err.code, MF_E_DNS);
        assert_int_equal(a->count, 99);
        free(copy);
    }
    free(a);
}

/* ------------------------------------------------------------------ */
/* Hand-built answers                                                  */
/* ------------------------------------------------------------------ */

static void
test_compression_and_cname(void **state) {
    struct mf_dns_mx_answer *a = calloc(1, sizeof(*a));
    struct msg *m = calloc(1, sizeof(*m));
    struct mf_error err = {0};
    size_t target_off;
    (void)state;

    /* alias.test CNAME mail.example.net; mail.example.net MX 5
     * mx.example.net, all compressed against earlier names. */
    header(m, 7, 0x8180, 1, 3);
    question(m, "alias.test");
    put16(m, 0xc00c); /* alias.test */
    put16(m, ns_t_cname), put16(m, 1), put32(m, 60);
    put16(m, 18);
    target_off = m->n;
    putname(m, "mail.example.net"); /* 18 octets */
    /* An A record for the target: skipped. */
    put16(m, 0xc000 | (unsigned)target_off);
    put16(m, 1), put16(m, 1), put32(m, 60), put16(m, 4), put32(m, 0x7f000001);
    put16(m, 0xc000 | (unsigned)target_off);
    put16(m, ns_t_mx), put16(m, 1), put32(m, 0x80000001u);
    put16(m, 7);
    put16(m, 5);
    put8(m, 2), put8(m, 'm'), put8(m, 'x');
    /* "example.net" inside the CNAME target: 5 bytes in ("\4mail"). */
    put16(m, 0xc000 | (unsigned)(target_off + 5));
    assert_int_equal(parse(m, 7, "alias.test", a, &err), MF_E_OK);
    assert_int_equal(a->cnames, 1);
    assert_string_equal(a->owner, "mail.example.net");
    assert_int_equal(a->count, 1);
    assert_int_equal(a->mx[0].preference, 5);
    assert_string_equal(a->mx[0].exchange, "mx.example.net");
    /* RFC 2181 section 8: the top bit set means 0. */
    assert_int_equal(a->mx[0].ttl, 0);
    free(m);
    free(a);
}

static void
test_odd_records(void **state) {
    struct mf_dns_mx_answer *a = calloc(1, sizeof(*a));
    struct msg *m = calloc(1, sizeof(*m));
    struct mf_error err = {0};
    (void)state;

    /* Records for other owners and classes are skipped; a null MX
     * (RFC 7505: preference 0, exchange ".") is kept as ".". */
    header(m, 9, 0x8580, 1, 3);
    question(m, "example.test");
    mx_rr(m, "other.test", 100, 1, "mx.other.test");
    mx_rr(m, "example.test", 7200, 0, "");
    putname(m, "example.test");
    put16(m, ns_t_mx), put16(m, 3 /* CH */), put32(m, 1), put16(m, 3);
    put16(m, 1), put8(m, 0);
    assert_int_equal(parse(m, 9, "example.test", a, &err), MF_E_OK);
    assert_int_equal(a->count, 1);
    assert_string_equal(a->mx[0].exchange, ".");
    assert_int_equal(a->mx[0].ttl, 7200);

    /* Odd bytes in a label come out escaped. */
    header(m, 9, 0x8180, 1, 1);
    question(m, "example.test");
    putname(m, "example.test");
    put16(m, ns_t_mx), put16(m, 1), put32(m, 1), put16(m, 2 + 8);
    put16(m, 10);
    put8(m, 6), put8(m, 'a'), put8(m, '.'), put8(m, ' '), put8(m, 0xff);
    put8(m, '\\'), put8(m, 'b'), put8(m, 0);
    assert_int_equal(parse(m, 9, "example.test", a, &err), MF_E_OK);
    assert_string_equal(a->mx[0].exchange, "a\\.\\032\\255\\\\b");

    /* The truncated flag is reported. */
    header(m, 9, 0x8380, 1, 0);
    question(m, "example.test");
    assert_int_equal(parse(m, 9, "example.test", a, &err), MF_E_OK);
    assert_true(a->truncated);
    assert_int_equal(a->count, 0);
    free(m);
    free(a);
}

static void
test_many_records(void **state) {
    struct mf_dns_mx_answer *a = calloc(1, sizeof(*a));
    struct msg *m = calloc(1, sizeof(*m));
    struct mf_error err = {0};
    unsigned total = MF_DNS_MX_MAX + 5;
    (void)state;

    header(m, 3, 0x8180, 1, total);
    question(m, "big.test");
    for (unsigned i = 0; i < total; i++) {
        char name[32];
        snprintf(name, sizeof(name), "mx%u.big.test", i);
        mx_rr(m, "big.test", 60 + i, i, name);
    }
    assert_int_equal(parse(m, 3, "big.test", a, &err), MF_E_OK);
    assert_int_equal(a->count, MF_DNS_MX_MAX);
    assert_int_equal(a->dropped, 5);
    assert_string_equal(a->mx[MF_DNS_MX_MAX - 1].exchange, "mx31.big.test");
    free(m);
    free(a);
}

/* Each malformed message fails with MF_E_DNS and leaves *a untouched. */
static void
test_malformed(void **state) {
    struct mf_dns_mx_answer *a = calloc(1, sizeof(*a));
    struct msg *m = calloc(1, sizeof(*m));
    struct mf_error err = {0};
    int cases = 0;
    (void)state;

#define EXPECT_BAD(what)                                                       \
    do {                                                                       \
        a->count = 42;                                                         \
        if (parse(m, 5, "example.test", a, &err) != MF_E_DNS)                  \
            fail_msg("accepted: %s", what);                                    \
        assert_int_equal(a->count, 42);                                        \
        assert_non_null(strstr(err.detail, "malformed"));                      \
        cases++;                                                               \
    } while (0)

    header(m, 6, 0x8180, 1, 0);
    question(m, "example.test");
    EXPECT_BAD("wrong id");

    header(m, 5, 0x0100, 1, 0);
    question(m, "example.test");
    EXPECT_BAD("a query, not a response");

    header(m, 5, 0x8180 | (2 << 11), 1, 0);
    question(m, "example.test");
    EXPECT_BAD("opcode STATUS");

    header(m, 5, 0x8180, 2, 0);
    question(m, "example.test");
    question(m, "example.test");
    EXPECT_BAD("two questions");

    header(m, 5, 0x8180, 1, 0);
    question(m, "other.test");
    EXPECT_BAD("another question");

    header(m, 5, 0x8180, 1, 0);
    putname(m, "example.test");
    put16(m, 1), put16(m, 1);
    EXPECT_BAD("question of type A");

    header(m, 5, 0x8180, 0, 0);
    EXPECT_BAD("no question with NOERROR");

    /* A pointer to itself. */
    header(m, 5, 0x8180, 1, 0);
    put16(m, 0xc00c);
    put16(m, 15), put16(m, 1);
    EXPECT_BAD("pointer loop");

    /* A forward pointer. */
    header(m, 5, 0x8180, 1, 0);
    put16(m, 0xc020);
    put16(m, 15), put16(m, 1);
    put8(m, 0), put8(m, 0), put8(m, 0), put8(m, 0), put8(m, 0);
    put8(m, 0), put8(m, 0), put8(m, 0), put8(m, 0), put8(m, 0);
    put8(m, 0), put8(m, 0), put8(m, 0), put8(m, 0), put8(m, 0);
    put8(m, 0), put8(m, 0), put8(m, 0), put8(m, 0), put8(m, 0);
    EXPECT_BAD("forward pointer");

    /* Two pointers bouncing between each other. */
    header(m, 5, 0x8180, 1, 1);
    question(m, "example.test");
    put16(m, 0xc000 | (unsigned)(m->n + 2));
    put16(m, 0xc000 | (unsigned)(m->n - 2));
    EXPECT_BAD("pointer ping-pong");

    header(m, 5, 0x8180, 1, 0);
    put8(m, 0x40), put8(m, 1);
    put16(m, 15), put16(m, 1);
    EXPECT_BAD("extended label type");

    /* A name of 300 octets made of pointers back to a long label run. */
    header(m, 5, 0x8180, 1, 0);
    for (int i = 0; i < 5; i++) {
        put8(m, 63);
        for (int k = 0; k < 63; k++)
            put8(m, 'a');
    }
    put8(m, 0);
    put16(m, 15), put16(m, 1);
    EXPECT_BAD("name over 255 octets");

    /* MX data whose name runs past RDLENGTH. */
    header(m, 5, 0x8180, 1, 1);
    question(m, "example.test");
    put16(m, 0xc00c);
    put16(m, 15), put16(m, 1), put32(m, 1), put16(m, 4);
    put16(m, 10), put8(m, 2), put8(m, 'm'), put8(m, 'x'), put8(m, 0);
    EXPECT_BAD("MX name past RDLENGTH");

    /* MX data with bytes after the name. */
    header(m, 5, 0x8180, 1, 1);
    question(m, "example.test");
    put16(m, 0xc00c);
    put16(m, 15), put16(m, 1), put32(m, 1), put16(m, 5);
    put16(m, 10), put8(m, 0), put8(m, 9), put8(m, 9);
    EXPECT_BAD("MX trailing bytes");

    header(m, 5, 0x8180, 1, 1);
    question(m, "example.test");
    put16(m, 0xc00c);
    put16(m, 15), put16(m, 1), put32(m, 1), put16(m, 2);
    put16(m, 10);
    EXPECT_BAD("MX too short");

    header(m, 5, 0x8180, 1, 1);
    question(m, "example.test");
    put16(m, 0xc00c);
    put16(m, 15), put16(m, 1), put32(m, 1), put16(m, 200);
    put16(m, 10), put8(m, 0);
    EXPECT_BAD("RDLENGTH past the end");

    header(m, 5, 0x8180, 1, 2);
    question(m, "example.test");
    mx_rr(m, "example.test", 1, 1, "a.test");
    EXPECT_BAD("fewer records than ANCOUNT");

    /* A CNAME loop: example.test -> example.test ... 17 times. */
    header(m, 5, 0x8180, 1, 17);
    question(m, "example.test");
    for (int i = 0; i < 17; i++) {
        put16(m, 0xc00c);
        put16(m, 5), put16(m, 1), put32(m, 1), put16(m, 2);
        put16(m, 0xc00c);
    }
    EXPECT_BAD("CNAME loop");
#undef EXPECT_BAD
    assert_int_equal(cases, 18);
    free(m);
    free(a);
}

/* ------------------------------------------------------------------ */
/* Server addresses                                                    */
/* ------------------------------------------------------------------ */

static void
test_server_parse(void **state) {
    static const struct {
        const char *in, *ip;
        uint16_t port;
    } good[] = {
        {"127.0.0.1", "127.0.0.1", 53},
        {"127.0.0.1:5353", "127.0.0.1", 5353},
        {"::1", "::1", 53},
        {"[::1]:5353", "::1", 5353},
        {"[2001:db8::1]", "2001:db8::1", 53},
        {"fe80::1", "fe80::1", 53},
    };
    static const char *const bad[] = {
        "",          "dns.example.com", "127.0.0.1:",  "127.0.0.1:0",
        "1.2.3.4:x", "127.0.0.1:65536", "[::1",        "[::1]x",
        "1.2.3",     "[]:53",           "300.1.1.1:53"};
    struct mf_dns_server s;
    struct mf_error err = {0};
    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(good); i++) {
        assert_int_equal(mf_dns_server_parse(good[i].in, &s, &err), MF_E_OK);
        assert_string_equal(s.ip, good[i].ip);
        assert_int_equal(s.port, good[i].port);
    }
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++) {
        s.port = 7;
        if (mf_dns_server_parse(bad[i], &s, &err) != MF_E_CONFIG)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(s.port, 7);
    }
}

static void
test_resolvconf(void **state) {
    struct mf_dns_server s;
    struct mf_error err = {0};
    (void)state;
    assert_int_equal(mf_dns_resolvconf_server("# generated\n"
                                              "search example.com\n"
                                              "nameserver fe80::1%eth0\n"
                                              "  nameserver\t10.0.0.2 # main\n"
                                              "nameserver 10.0.0.3\n",
                                              &s, &err),
                     MF_E_OK);
    assert_string_equal(s.ip, "10.0.0.2");
    assert_int_equal(s.port, 53);
    assert_int_equal(mf_dns_resolvconf_server("nameserver ::1", &s, &err),
                     MF_E_OK);
    assert_string_equal(s.ip, "::1");
    assert_int_equal(mf_dns_resolvconf_server(
                         "nameservers 1.1.1.1\noptions ndots:2\n", &s, &err),
                     MF_E_NOT_FOUND);
    assert_int_equal(mf_dns_resolvconf_server("", &s, &err), MF_E_NOT_FOUND);
}

static void
test_rcode_names(void **state) {
    char buf[16];
    (void)state;
    assert_string_equal(mf_dns_rcode_name(0, buf, sizeof(buf)), "NOERROR");
    assert_string_equal(mf_dns_rcode_name(3, buf, sizeof(buf)), "NXDOMAIN");
    assert_string_equal(mf_dns_rcode_name(9, buf, sizeof(buf)), "RCODE9");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_dnsmasq_answers),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_compression_and_cname),
        cmocka_unit_test(test_odd_records),
        cmocka_unit_test(test_many_records),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_server_parse),
        cmocka_unit_test(test_resolvconf),
        cmocka_unit_test(test_rcode_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
