/*
 * Tests for message fingerprints (core/src/message/fingerprint.c).
 *
 * Header vectors are fed whole, byte at a time and in random chunks, and
 * must give the same fields, state and length every way. The RFC 2047
 * vectors were checked against Python's email.header.decode_header. The
 * expected digests were computed outside mailferry from the canonical
 * string, e.g.
 *
 *   printf 'mailferry-fp 1 strict\nmessage-id 17 <abc@example.org>\n'\
 *          'size 1234\ndate 1709647629\n' | sha256sum
 *
 * so that the canonical form cannot change without this test failing:
 * workers of different versions must agree on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailferry/imap_parser.h"
#include "mailferry/fingerprint.h"

/* ------------------------------------------------------------------ */
/* Header scanner                                                      */
/* ------------------------------------------------------------------ */

struct hvec {
    const char *name;
    const char *in;
    size_t in_len; /* 0: strlen(in) */
    const char *msgid, *subject, *date, *from;
    enum mf_header_scan_state state; /* after feeding all and finish() */
    size_t length;                   /* 0: in_len */
};

#define CRLF "\r\n"

static const struct hvec hvecs[] = {
    {"basic",
     "From: Anna <anna@example.org>" CRLF "Subject: Hello" CRLF
     "Date: Tue, 5 Mar 2024 15:07:09 +0100" CRLF
     "Message-ID: <abc@example.org>" CRLF CRLF "body Message-ID: <no@x>" CRLF,
     0, "<abc@example.org>", "Hello", "Tue, 5 Mar 2024 15:07:09 +0100",
     "Anna <anna@example.org>", MF_HEADER_SCAN_END, 118},
    {"lf only", "Subject: lf\nMessage-ID: <lf@x>\n\nbody\n", 0, "<lf@x>", "lf",
     NULL, NULL, MF_HEADER_SCAN_END, 32},
    {"folded",
     "Message-ID:" CRLF " <fold@example.org>" CRLF "Subject: one" CRLF
     "\ttwo" CRLF "  three  " CRLF "From: x" CRLF CRLF,
     0, "<fold@example.org>", "one\ttwo  three", NULL, "x", MF_HEADER_SCAN_END,
     0},
    {"folded lf tabs", "Message-ID:\n\t\t<t@x>\t\n\n", 0, "<t@x>", NULL, NULL,
     NULL, MF_HEADER_SCAN_END, 0},
    {"spelling Message-Id", "Message-Id: <a@b>" CRLF CRLF, 0, "<a@b>", NULL,
     NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"spelling MESSAGE-ID", "MESSAGE-ID:<A@B>" CRLF CRLF, 0, "<A@B>", NULL,
     NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"blank before colon", "message-id \t: <c@d>" CRLF "SUBJECT : s" CRLF CRLF,
     0, "<c@d>", "s", NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"value case kept", "Message-ID: <AbC.123@Example.COM>" CRLF CRLF, 0,
     "<AbC.123@Example.COM>", NULL, NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"duplicate: first counts",
     "Message-ID: <first@x>" CRLF "Subject: s1" CRLF
     "Message-ID: <second@x>" CRLF "Subject: s2" CRLF CRLF,
     0, "<first@x>", "s1", NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"empty one does not count",
     "Message-ID:   " CRLF "Message-ID: <real@x>" CRLF CRLF, 0, "<real@x>",
     NULL, NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"missing", "From: a@b" CRLF "Subject: no id" CRLF CRLF, 0, NULL, "no id",
     NULL, "a@b", MF_HEADER_SCAN_END, 0},
    {"lookalike names",
     "X-Message-ID: <no@x>" CRLF "Message-IDs: <no@y>" CRLF
     "Resent-Message-ID: <no@z>" CRLF "Message ID: <no@w>" CRLF CRLF,
     0, NULL, NULL, NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"mbox From_ line is no From",
     "From anna@example.org Tue Mar  5 15:07:09 2024" CRLF
     "From: real" CRLF CRLF,
     0, NULL, NULL, NULL, "real", MF_HEADER_SCAN_END, 0},
    {"lines without colon skipped",
     "garbage line" CRLF " continued" CRLF "Subject: ok" CRLF CRLF, 0, NULL,
     "ok", NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"leading continuation", " orphan" CRLF "Subject: x" CRLF CRLF, 0, NULL,
     "x", NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"8-bit bytes",
     "Subject: Gr\xfc\xdf"
     "e \xc3\xa4" CRLF CRLF,
     0, NULL,
     "Gr\xfc\xdf"
     "e \xc3\xa4",
     NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"encoded subject stays raw", "Subject: =?utf-8?Q?caf=C3=A9?=" CRLF CRLF, 0,
     NULL, "=?utf-8?Q?caf=C3=A9?=", NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"bare CR dropped", "Subject: a\rb" CRLF "\rMessage-ID: <m@x>" CRLF CRLF, 0,
     "<m@x>", "ab", NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"NUL dropped", "Subject: a\0b" CRLF CRLF, 16, NULL, "ab", NULL, NULL,
     MF_HEADER_SCAN_END, 0},
    {"no empty line: EOF", "Message-ID: <eof@x>", 0, "<eof@x>", NULL, NULL,
     NULL, MF_HEADER_SCAN_EOF, 0},
    {"no empty line after CRLF", "Message-ID: <eof@x>" CRLF " <more>", 0,
     "<eof@x> <more>", NULL, NULL, NULL, MF_HEADER_SCAN_EOF, 0},
    {"empty input", "", 0, NULL, NULL, NULL, NULL, MF_HEADER_SCAN_EOF, 0},
    {"empty header", CRLF "Message-ID: <body@x>" CRLF, 0, NULL, NULL, NULL,
     NULL, MF_HEADER_SCAN_END, 2},
    {"empty header lf", "\nbody", 0, NULL, NULL, NULL, NULL, MF_HEADER_SCAN_END,
     1},
    {"HEADER.FIELDS literal", "Message-ID: <lit@x>" CRLF CRLF, 0, "<lit@x>",
     NULL, NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"HEADER.FIELDS literal, no id", CRLF, 0, NULL, NULL, NULL, NULL,
     MF_HEADER_SCAN_END, 0},
    {"end right after fold", "Subject: a" CRLF " b" CRLF CRLF, 0, NULL, "a b",
     NULL, NULL, MF_HEADER_SCAN_END, 0},
    {"date and from raw",
     "Date:  Tue,  5 Mar 2024 15:07:09 +0100 (CET) " CRLF
     "From: =?utf-8?Q?J=C3=B6rg?= <j@x>" CRLF CRLF,
     0, NULL, NULL, "Tue,  5 Mar 2024 15:07:09 +0100 (CET)",
     "=?utf-8?Q?J=C3=B6rg?= <j@x>", MF_HEADER_SCAN_END, 0},
};

struct result {
    char *msgid, *subject, *date, *from;
    enum mf_header_scan_state state;
    size_t length;
    size_t consumed; /* sum of feed() returns */
};

static char *
dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

static void
result_free(struct result *r) {
    free(r->msgid);
    free(r->subject);
    free(r->date);
    free(r->from);
    memset(r, 0, sizeof(*r));
}

/* Feeds in..len in chunks: chunk 0 means whole, 1 byte at a time,
 * otherwise random sizes 1..chunk from seed. */
static void
scan(struct mf_header_scan *s, const uint8_t *in, size_t len, size_t chunk,
     unsigned seed, struct result *r) {
    size_t off = 0;

    memset(r, 0, sizeof(*r));
    mf_header_scan_reset(s);
    srand(seed);
    while (off < len) {
        size_t n = chunk == 0   ? len - off
                   : chunk == 1 ? 1
                                : 1 + (size_t)rand() % chunk;
        size_t used;

        if (n > len - off)
            n = len - off;
        used = mf_header_scan_feed(s, in + off, n);
        assert_true(used <= n);
        r->consumed += used;
        if (used < n)
            assert_int_not_equal(mf_header_scan_state(s), MF_HEADER_SCAN_MORE);
        off += n;
    }
    mf_header_scan_finish(s);
    /* After the stop, more input is not looked at. */
    assert_int_equal(mf_header_scan_feed(s, (const uint8_t *)"X: y\r\n", 6), 0);
    r->msgid = dup_or_null(mf_header_scan_message_id(s));
    r->subject = dup_or_null(mf_header_scan_subject(s));
    r->date = dup_or_null(mf_header_scan_date(s));
    r->from = dup_or_null(mf_header_scan_from(s));
    r->state = mf_header_scan_state(s);
    r->length = mf_header_scan_length(s);
}

static void
assert_str_or_null(const char *got, const char *want, const char *what,
                   const char *vec) {
    if (!want && !got)
        return;
    if (!want || !got || strcmp(want, got) != 0)
        fail_msg("%s: %s is \"%s\", want \"%s\"", vec, what,
                 got ? got : "(null)", want ? want : "(null)");
}

static void
test_header_vectors(void **state) {
    struct mf_header_scan *s = mf_header_scan_new(0);

    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(hvecs); i++) {
        const struct hvec *v = &hvecs[i];
        size_t len = v->in_len ? v->in_len : strlen(v->in);
        size_t want_len = v->length ? v->length : len;
        struct result first;

        scan(s, (const uint8_t *)v->in, len, 0, 0, &first);
        assert_str_or_null(first.msgid, v->msgid, "Message-ID", v->name);
        assert_str_or_null(first.subject, v->subject, "Subject", v->name);
        assert_str_or_null(first.date, v->date, "Date", v->name);
        assert_str_or_null(first.from, v->from, "From", v->name);
        if (first.state != v->state)
            fail_msg("%s: state %d, want %d", v->name, first.state, v->state);
        if (first.length != want_len || first.consumed != want_len)
            fail_msg("%s: length %zu (consumed %zu), want %zu", v->name,
                     first.length, first.consumed, want_len);

        for (size_t chunk = 1; chunk <= 9; chunk += 4) {
            for (unsigned seed = 1; seed <= 20; seed++) {
                struct result r;

                scan(s, (const uint8_t *)v->in, len, chunk, seed, &r);
                assert_str_or_null(r.msgid, first.msgid, "chunked Message-ID",
                                   v->name);
                assert_str_or_null(r.subject, first.subject, "chunked Subject",
                                   v->name);
                assert_str_or_null(r.date, first.date, "chunked Date", v->name);
                assert_str_or_null(r.from, first.from, "chunked From", v->name);
                assert_int_equal(r.state, first.state);
                assert_int_equal(r.length, first.length);
                assert_int_equal(r.consumed, first.consumed);
                result_free(&r);
                if (chunk == 1)
                    break; /* byte at a time needs one run */
            }
        }
        result_free(&first);
    }
    mf_header_scan_free(&s);
    assert_null(s);
    mf_header_scan_free(&s); /* NULL is fine */
}

/* A last line without its line end counts on finish(). */
static void
test_finish_takes_last_line(void **state) {
    struct mf_header_scan *s = mf_header_scan_new(0);
    static const char in[] = "Subject: a\r\n b";

    (void)state;
    assert_int_equal(mf_header_scan_feed(s, (const uint8_t *)in, 14), 14);
    assert_int_equal(mf_header_scan_state(s), MF_HEADER_SCAN_MORE);
    assert_null(mf_header_scan_subject(s)); /* not final yet */
    mf_header_scan_finish(s);
    assert_int_equal(mf_header_scan_state(s), MF_HEADER_SCAN_EOF);
    assert_string_equal(mf_header_scan_subject(s), "a b");
    mf_header_scan_finish(s); /* no effect */
    assert_int_equal(mf_header_scan_state(s), MF_HEADER_SCAN_EOF);
    mf_header_scan_free(&s);
}

/* Appends n bytes of "X-Pad: aaa...\r\n" lines (n >= 10). */
static void
pad(struct mf_buf *b, size_t n) {
    while (n > 0) {
        size_t line = n > 1000 ? 1000 : n;

        if (n - line < 10 && n - line > 0)
            line = n - 10; /* leave room for one more line */
        mf_buf_append_str(b, "X-Pad: ");
        for (size_t i = 0; i < line - 9; i++)
            mf_buf_append(b, "a", 1);
        mf_buf_append_str(b, "\r\n");
        n -= line;
    }
}

static void
test_huge_header(void **state) {
    struct mf_header_scan *s = mf_header_scan_new(0);
    struct mf_buf b = {0};
    struct result r;

    (void)state;
    /* A Message-ID before the limit counts, one after it does not. */
    mf_buf_append_str(&b, "Message-ID: <early@x>\r\n");
    pad(&b, MF_HEADER_SCAN_MAX);
    mf_buf_append_str(&b, "Subject: late\r\n\r\n");
    for (size_t chunk = 0; chunk <= 4096; chunk += 4096) {
        scan(s, b.data, b.len, chunk, 7, &r);
        assert_int_equal(r.state, MF_HEADER_SCAN_LIMIT);
        assert_int_equal(r.length, MF_HEADER_SCAN_MAX);
        assert_int_equal(r.consumed, MF_HEADER_SCAN_MAX);
        assert_string_equal(r.msgid, "<early@x>");
        assert_null(r.subject);
        result_free(&r);
    }

    /* One Subject line longer than the limit: cut where the limit is. */
    mf_buf_reset(&b);
    mf_buf_append_str(&b, "Subject: ");
    for (size_t i = 0; i < MF_HEADER_SCAN_MAX + 100; i++)
        mf_buf_append(&b, "s", 1);
    mf_buf_append_str(&b, "\r\nMessage-ID: <late@x>\r\n\r\n");
    scan(s, b.data, b.len, 0, 0, &r);
    assert_int_equal(r.state, MF_HEADER_SCAN_LIMIT);
    assert_non_null(r.subject);
    assert_int_equal(strlen(r.subject), MF_HEADER_SCAN_MAX - 9);
    assert_null(r.msgid);
    result_free(&r);

    /* A header of exactly the limit, empty line included, ends normally. */
    mf_buf_reset(&b);
    pad(&b, MF_HEADER_SCAN_MAX - 2);
    mf_buf_append_str(&b, "\r\n");
    assert_int_equal(b.len, MF_HEADER_SCAN_MAX);
    scan(s, b.data, b.len, 0, 0, &r);
    assert_int_equal(r.state, MF_HEADER_SCAN_END);
    assert_int_equal(r.length, MF_HEADER_SCAN_MAX);
    result_free(&r);
    mf_buf_free(&b);
    mf_header_scan_free(&s);
}

static void
test_small_limit(void **state) {
    struct mf_header_scan *s = mf_header_scan_new(24);
    static const char in[] = "Message-ID: <abcdefghijklmnop@x>\r\n\r\n";
    struct result r;

    (void)state;
    for (size_t chunk = 0; chunk <= 5; chunk += 1) {
        scan(s, (const uint8_t *)in, sizeof(in) - 1, chunk, 3, &r);
        assert_int_equal(r.state, MF_HEADER_SCAN_LIMIT);
        assert_int_equal(r.length, 24);
        /* A cut Message-ID is taken as it is: both sides are cut alike. */
        assert_string_equal(r.msgid, "<abcdefghijk");
        result_free(&r);
    }
    mf_header_scan_free(&s);
}

/* ------------------------------------------------------------------ */
/* RFC 2047                                                            */
/* ------------------------------------------------------------------ */

struct dvec {
    const char *raw, *want;
};

static const struct dvec dvecs[] = {
    {"", ""},
    {"plain text", "plain text"},
    {"=?utf-8?B?w6TDtsO8?=", "\xc3\xa4\xc3\xb6\xc3\xbc"},
    {"=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", "Gr\xc3\xbc\xc3\x9f"
                                                  "e aus K\xc3\xb6ln"},
    {"=?iso-8859-1?Q?J=F6rg?=", "J\xc3\xb6rg"},
    {"=?ISO-8859-1?B?SvZyZw==?=", "J\xc3\xb6rg"},
    {"=?latin1?q?caf=e9?=", "caf\xc3\xa9"},
    {"=?us-ascii?Q?plain?=", "plain"},
    {"Re: =?utf-8?Q?caf=C3=A9?= ok", "Re: caf\xc3\xa9 ok"},
    /* RFC 2047 8 examples. */
    {"(=?ISO-8859-1?Q?a?=)", "(a)"},
    {"(=?ISO-8859-1?Q?a?= b)", "(a b)"},
    {"(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"},
    {"(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"},
    {"(=?ISO-8859-1?Q?a?=\t =?ISO-8859-1?Q?b?=)", "(ab)"},
    {"(=?ISO-8859-1?Q?a_b?=)", "(a b)"},
    /* ... except that we do not know ISO-8859-2. */
    {"(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a =?ISO-8859-2?Q?_b?=)"},
    /* A UTF-8 character split across two words comes out whole. */
    {"=?utf-8?Q?=C3?= =?utf-8?Q?=A4?=", "\xc3\xa4"},
    {"=?utf-8?B?ww==?= =?utf-8?B?pA==?=", "\xc3\xa4"},
    /* Charset changes between words. */
    {"=?iso-8859-1?Q?=E9?= =?utf-8?Q?=C3=A9?=", "\xc3\xa9\xc3\xa9"},
    {"=?utf-8*de?Q?Hallo?=", "Hallo"},
    {"=?utf-8?B?w6Q?=", "\xc3\xa4"}, /* padding missing */
    /* Invalid ones stay raw. */
    {"=?utf-8?Q?=FF?=", "=?utf-8?Q?=FF?="},
    {"=?utf-8?Q?=C3?=", "=?utf-8?Q?=C3?="},
    {"=?koi8-r?B?8NLJ18XU?=", "=?koi8-r?B?8NLJ18XU?="},
    {"=?utf-8?B?!!!?=", "=?utf-8?B?!!!?="},
    {"=?utf-8?B?w?=", "=?utf-8?B?w?="},
    {"=?utf-8?X?abc?=", "=?utf-8?X?abc?="},
    {"=?utf-8?Q?abc", "=?utf-8?Q?abc"},
    {"=?utf-8?Q?"
     "?=",
     "=?utf-8?Q?"
     "?="}, /* "?" "?=": no trigraph */
    {"=?utf-8?Q?a=4?=", "=?utf-8?Q?a=4?="},
    {"=?us-ascii?Q?=E9?=", "=?us-ascii?Q?=E9?="},
    {"=?utf-8?Q?=00?=", "=?utf-8?Q?=00?="},
    {"=?utf-8?Q?a b?=", "=?utf-8?Q?a b?="},
    {"a =? b ?= c", "a =? b ?= c"},
    /* A valid word next to an invalid one. */
    {"=?utf-8?Q?ok?= =?bogus?Q?x?=", "ok =?bogus?Q?x?="},
    /* Raw 8-bit text passes as it is. */
    {"Gr\xfc\xdf =?utf-8?Q?x?=", "Gr\xfc\xdf x"},
    {"=?utf-8?Q?a?==?utf-8?Q?b?=", "ab"},
};

static void
test_decode_2047(void **state) {
    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(dvecs); i++) {
        struct mf_buf b = {0};

        mf_buf_append_str(&b, ">");
        mf_header_decode_2047(dvecs[i].raw, &b);
        if (strcmp((char *)b.data + 1, dvecs[i].want) != 0)
            fail_msg("decode \"%s\": \"%s\", want \"%s\"", dvecs[i].raw,
                     (char *)b.data + 1, dvecs[i].want);
        assert_true(b.len - 1 <= 3 * strlen(dvecs[i].raw));
        mf_buf_free(&b);
    }
}

/* ------------------------------------------------------------------ */
/* Fingerprints                                                        */
/* ------------------------------------------------------------------ */

static void
assert_fp_hex(const struct mf_fingerprint *fp, const char *want) {
    char hex[65];

    mf_fingerprint_hex(fp, hex);
    assert_string_equal(hex, want);
}

/* Digests computed with printf ... | sha256sum (see the top). */
static void
test_digest_stable(void **state) {
    struct mf_fingerprint fp;

    (void)state;
    mf_fingerprint_compute("<abc@example.org>", 1234, 1709647629,
                           MF_FINGERPRINT_STRICT, &fp);
    assert_fp_hex(
        &fp,
        "5369f34a183ca2454a2bce60ae641b42e232d0709efd8b8943532def90ffa261");
    mf_fingerprint_compute(NULL, 0, -1, MF_FINGERPRINT_STRICT, &fp);
    assert_fp_hex(
        &fp,
        "cd12ff64eab2629dcba87ff9313fab2cc6f9f39926d6aa169e4763b396faf087");
    mf_fingerprint_compute("", 0, -1, MF_FINGERPRINT_STRICT, &fp);
    assert_fp_hex(
        &fp,
        "cd12ff64eab2629dcba87ff9313fab2cc6f9f39926d6aa169e4763b396faf087");
    mf_fingerprint_compute("<abc@example.org>", 99999, 1709647629,
                           MF_FINGERPRINT_LENIENT, &fp);
    assert_fp_hex(
        &fp,
        "c1825c271ec52d9252f2e8516ce46fb665c4cfbaa7cdf4e492895c771882c45d");
    mf_fingerprint_compute(NULL, 1234, 1709647629, MF_FINGERPRINT_LENIENT, &fp);
    assert_fp_hex(
        &fp,
        "f41ad6e5f113d74f0996b949dce93713522351f406eeb74770003af9ef0b359c");
}

static bool
fp_eq(const struct mf_fingerprint *a, const struct mf_fingerprint *b) {
    return memcmp(a->digest, b->digest, sizeof(a->digest)) == 0;
}

static void
test_fingerprint_fields(void **state) {
    struct mf_fingerprint a, b;

    (void)state;
    /* Every field counts in strict mode. */
    mf_fingerprint_compute("<a@x>", 100, 1000, 0, &a);
    mf_fingerprint_compute("<a@x>", 101, 1000, 0, &b);
    assert_false(fp_eq(&a, &b));
    mf_fingerprint_compute("<a@x>", 100, 1001, 0, &b);
    assert_false(fp_eq(&a, &b));
    mf_fingerprint_compute("<A@x>", 100, 1000, 0, &b);
    assert_false(fp_eq(&a, &b)); /* case of the Message-ID counts */
    mf_fingerprint_compute(NULL, 100, 1000, 0, &b);
    assert_false(fp_eq(&a, &b));
    /* Lenient ignores the size only when there is a Message-ID. */
    mf_fingerprint_compute("<a@x>", 100, 1000, MF_FINGERPRINT_LENIENT, &a);
    mf_fingerprint_compute("<a@x>", 250, 1000, MF_FINGERPRINT_LENIENT, &b);
    assert_true(fp_eq(&a, &b));
    mf_fingerprint_compute("<a@x>", 100, 1001, MF_FINGERPRINT_LENIENT, &b);
    assert_false(fp_eq(&a, &b));
    mf_fingerprint_compute(NULL, 100, 1000, MF_FINGERPRINT_LENIENT, &a);
    mf_fingerprint_compute(NULL, 250, 1000, MF_FINGERPRINT_LENIENT, &b);
    assert_false(fp_eq(&a, &b));
    /* The modes never match each other. */
    mf_fingerprint_compute("<a@x>", 100, 1000, MF_FINGERPRINT_STRICT, &a);
    mf_fingerprint_compute("<a@x>", 100, 1000, MF_FINGERPRINT_LENIENT, &b);
    assert_false(fp_eq(&a, &b));
    /* The length prefix keeps the fields apart. */
    mf_fingerprint_compute("<a@x>\nsize 1", 100, 1000, 0, &a);
    mf_fingerprint_compute("<a@x>", 1, 1000, 0, &b);
    assert_false(fp_eq(&a, &b));
}

/* Source side: the full message scanned; target side: the HEADER.FIELDS
 * literal with another folding and another zone for the same instant. */
static void
test_source_matches_target(void **state) {
    static const char source[] =
        "Received: from x by y; Tue, 5 Mar 2024 14:07:09 +0000\r\n"
        "Message-Id:\r\n\t<abc@example.org>\r\n"
        "Subject: hi\r\n\r\nbody\r\n";
    static const char target_lit[] = "Message-Id: <abc@example.org>\r\n\r\n";
    struct mf_header_scan *s = mf_header_scan_new(0);
    struct mf_imap_datetime src_dt, tgt_dt;
    struct mf_fingerprint a, b;

    (void)state;
    assert_int_equal(
        mf_imap_datetime_parse("05-Mar-2024 15:07:09 +0100", 26, &src_dt),
        MF_E_OK);
    assert_int_equal(
        mf_imap_datetime_parse(" 5-Mar-2024 14:07:09 +0000", 26, &tgt_dt),
        MF_E_OK);
    (void)mf_header_scan_feed(s, (const uint8_t *)source, sizeof(source) - 1);
    assert_int_equal(mf_header_scan_state(s), MF_HEADER_SCAN_END);
    mf_fingerprint_compute(mf_header_scan_message_id(s), 1234,
                           mf_imap_datetime_to_unix(&src_dt), 0, &a);
    mf_fingerprint_from_header(s, (const uint8_t *)target_lit,
                               sizeof(target_lit) - 1, 1234,
                               mf_imap_datetime_to_unix(&tgt_dt), 0, &b);
    assert_true(fp_eq(&a, &b));
    assert_fp_hex(
        &b, "5369f34a183ca2454a2bce60ae641b42e232d0709efd8b8943532def90ffa261");
    mf_fingerprint_from_header(NULL, (const uint8_t *)target_lit,
                               sizeof(target_lit) - 1, 1234,
                               mf_imap_datetime_to_unix(&tgt_dt), 0, &b);
    assert_true(fp_eq(&a, &b));
    /* No Message-ID on either side: the literal is just the empty line. */
    mf_fingerprint_from_header(s, (const uint8_t *)"\r\n", 2, 0, -1, 0, &b);
    assert_fp_hex(
        &b, "cd12ff64eab2629dcba87ff9313fab2cc6f9f39926d6aa169e4763b396faf087");
    mf_header_scan_free(&s);
}

/* ------------------------------------------------------------------ */
/* Multiset                                                            */
/* ------------------------------------------------------------------ */

static void
fp_of(unsigned i, struct mf_fingerprint *fp) {
    char id[32];

    snprintf(id, sizeof(id), "<%u@x>", i);
    mf_fingerprint_compute(id, i, 1700000000, 0, fp);
}

static void
test_set_multiset(void **state) {
    struct mf_fingerprint_set *set = mf_fingerprint_set_new(0);
    struct mf_fingerprint a, b, c;

    (void)state;
    fp_of(1, &a);
    fp_of(2, &b);
    fp_of(3, &c);
    assert_int_equal(mf_fingerprint_set_add(set, &a), MF_E_OK);
    assert_int_equal(mf_fingerprint_set_add(set, &a), MF_E_OK);
    assert_int_equal(mf_fingerprint_set_add(set, &b), MF_E_OK);
    assert_int_equal(mf_fingerprint_set_count(set, &a), 2);
    assert_int_equal(mf_fingerprint_set_count(set, &b), 1);
    assert_int_equal(mf_fingerprint_set_count(set, &c), 0);
    assert_int_equal(mf_fingerprint_set_total(set), 3);

    assert_false(mf_fingerprint_set_take(set, &c));
    assert_true(mf_fingerprint_set_take(set, &a));
    assert_true(mf_fingerprint_set_take(set, &a));
    assert_false(mf_fingerprint_set_take(set, &a));
    assert_int_equal(mf_fingerprint_set_count(set, &a), 0);
    assert_int_equal(mf_fingerprint_set_total(set), 1);
    /* An emptied entry fills up again. */
    assert_int_equal(mf_fingerprint_set_add(set, &a), MF_E_OK);
    assert_int_equal(mf_fingerprint_set_count(set, &a), 1);
    assert_true(mf_fingerprint_set_take(set, &a));
    mf_fingerprint_set_free(&set);
    assert_null(set);
    mf_fingerprint_set_free(&set);
}

/*
 * The engine's use: the target's messages are added, then each source
 * message above the checkpoint takes one; a failed take means "copy".
 */
static unsigned
copies_needed(const unsigned *src, size_t nsrc, const unsigned *tgt,
              size_t ntgt) {
    struct mf_fingerprint_set *set = mf_fingerprint_set_new(0);
    struct mf_fingerprint fp;
    unsigned copies = 0;

    for (size_t i = 0; i < ntgt; i++) {
        fp_of(tgt[i], &fp);
        assert_int_equal(mf_fingerprint_set_add(set, &fp), MF_E_OK);
    }
    for (size_t i = 0; i < nsrc; i++) {
        fp_of(src[i], &fp);
        if (!mf_fingerprint_set_take(set, &fp))
            copies++;
    }
    mf_fingerprint_set_free(&set);
    return copies;
}

static void
test_set_duplicates_stay(void **state) {
    /* A message twice in the source (7), once on the target (the crash
     * came after the first APPEND): the second copy is made. */
    static const unsigned src[] = {5, 7, 7, 9};
    static const unsigned tgt_one[] = {5, 7};
    static const unsigned tgt_two[] = {5, 7, 7};
    static const unsigned tgt_all[] = {7, 9, 5, 7};

    (void)state;
    assert_int_equal(copies_needed(src, 4, NULL, 0), 4);
    assert_int_equal(copies_needed(src, 4, tgt_one, 2), 2);
    assert_int_equal(copies_needed(src, 4, tgt_two, 3), 1);
    assert_int_equal(copies_needed(src, 4, tgt_all, 4), 0);
}

static void
test_set_limit_and_growth(void **state) {
    struct mf_fingerprint_set *set = mf_fingerprint_set_new(3);
    struct mf_fingerprint fp;

    (void)state;
    for (unsigned i = 0; i < 3; i++) {
        fp_of(i, &fp);
        assert_int_equal(mf_fingerprint_set_add(set, &fp), MF_E_OK);
    }
    fp_of(3, &fp);
    assert_int_equal(mf_fingerprint_set_add(set, &fp), MF_E_LIMIT);
    assert_int_equal(mf_fingerprint_set_count(set, &fp), 0);
    assert_int_equal(mf_fingerprint_set_total(set), 3);
    fp_of(2, &fp); /* not new: no limit */
    assert_int_equal(mf_fingerprint_set_add(set, &fp), MF_E_OK);
    assert_int_equal(mf_fingerprint_set_count(set, &fp), 2);
    mf_fingerprint_set_free(&set);

    set = mf_fingerprint_set_new(0);
    for (unsigned i = 0; i < 20000; i++) {
        fp_of(i % 15000, &fp);
        assert_int_equal(mf_fingerprint_set_add(set, &fp), MF_E_OK);
    }
    assert_int_equal(mf_fingerprint_set_total(set), 20000);
    for (unsigned i = 0; i < 15000; i++) {
        fp_of(i, &fp);
        assert_int_equal(mf_fingerprint_set_count(set, &fp), i < 5000 ? 2 : 1);
    }
    for (unsigned i = 0; i < 20000; i++) {
        fp_of(i % 15000, &fp);
        assert_true(mf_fingerprint_set_take(set, &fp));
    }
    assert_int_equal(mf_fingerprint_set_total(set), 0);
    fp_of(0, &fp);
    assert_false(mf_fingerprint_set_take(set, &fp));
    mf_fingerprint_set_free(&set);
}

/* Version 2, lenient (issue 13): no size; Subject by its words, From by
 * its address; every other difference tells messages apart. */
/* The fields mf_fingerprint_lenient() reads. */
struct lenient {
    const char *id, *subject, *from;
    int64_t date;
};

static void
test_lenient_v2(void **state) {
#define ANN                                                                    \
    { "<x@y>", "Re: Hello  World", "Ann <Ann@Example.org>", 1700000000 }
    static const struct {
        struct lenient a, b;
        bool same;
    } cases[] = {
        /* What a re-encoding target may change: blanks, case, display
         * name. */
        {ANN,
         {"<x@y>", " re: hello\tworld ", "\"Ann B.\" <ann@example.org>",
          1700000000},
         true},
        /* What it may not. */
        {ANN,
         {"<x@z>", "Re: Hello World", "ann@example.org", 1700000000},
         false},
        {ANN,
         {"<x@y>", "Re: Hello World", "ann@example.org", 1700000001},
         false},
        {ANN,
         {"<x@y>", "Re: Hello Word", "ann@example.org", 1700000000},
         false},
        {ANN,
         {"<x@y>", "Re: Hello World", "bob@example.org", 1700000000},
         false},
        /* Without a Message-ID: date, subject and sender still count. */
        {{NULL, "s", "a@b", 5}, {"", "S", "<A@B>", 5}, true},
        {{NULL, "s", "a@b", 5}, {NULL, "s", "a@c", 5}, false},
        /* No subject is not the subject "none", nor an empty one with
         * words. */
        {{NULL, NULL, NULL, 5}, {NULL, "none", NULL, 5}, false},
    };
#undef ANN
    struct mf_fingerprint a, b;

    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(cases); i++) {
        const struct lenient *x = &cases[i].a, *y = &cases[i].b;

        mf_fingerprint_lenient(x->id, x->subject, x->from, x->date, &a);
        mf_fingerprint_lenient(y->id, y->subject, y->from, y->date, &b);
        if ((memcmp(a.digest, b.digest, sizeof(a.digest)) == 0) !=
            cases[i].same)
            fail_msg("case %zu: the fingerprints %s", i,
                     cases[i].same ? "differ" : "are the same");
    }
    /* Never the strict or the version 1 lenient form. */
    mf_fingerprint_compute("<x@y>", 10, 5, MF_FINGERPRINT_LENIENT, &a);
    mf_fingerprint_lenient("<x@y>", NULL, NULL, 5, &b);
    assert_memory_not_equal(a.digest, b.digest, sizeof(a.digest));
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lenient_v2),
        cmocka_unit_test(test_header_vectors),
        cmocka_unit_test(test_finish_takes_last_line),
        cmocka_unit_test(test_huge_header),
        cmocka_unit_test(test_small_limit),
        cmocka_unit_test(test_decode_2047),
        cmocka_unit_test(test_digest_stable),
        cmocka_unit_test(test_fingerprint_fields),
        cmocka_unit_test(test_source_matches_target),
        cmocka_unit_test(test_set_multiset),
        cmocka_unit_test(test_set_duplicates_stay),
        cmocka_unit_test(test_set_limit_and_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
