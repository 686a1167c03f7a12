/*
 * Tests for the IMAP response parser (core/src/imap/parser.c).
 *
 * Table-driven: every vector is wire bytes and the expected rendering
 * (mf_imap_response_dump(), one line per response). Each vector is fed
 * whole, one byte at a time, and in random chunks from several seeds, and
 * every way must give the same responses, the same streamed literal bytes
 * and the same final code. Then: errors and limits, the parser staying
 * failed, a callback stopping the feed, streaming of big literals, the
 * accessors, and random hostile input (which must never crash; ASan and
 * UBSan catch what a plain run would not).
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

/* ================================================================== */
/* Harness                                                             */
/* ================================================================== */

struct run {
    struct mf_buf dump;    /* every response, one per line */
    struct mf_buf streams; /* begin/data/end events, data concatenated */
    int responses;
    int stop_after;    /* on_response returns CANCELLED after this many */
    mf_err fail_begin; /* returned by on_literal_begin */
    mf_err fail_data;  /* returned by on_literal_data */
    bool in_stream;
};

static mf_err
on_response(void *ud, const struct mf_imap_response *r) {
    struct run *run = ud;
    mf_imap_response_dump(&run->dump, r, SIZE_MAX);
    mf_buf_append_str(&run->dump, "\n");
    run->responses++;
    if (run->stop_after && run->responses == run->stop_after)
        return MF_E_CANCELLED;
    return MF_E_OK;
}

static mf_err
on_begin(void *ud, const struct mf_imap_literal_info *info) {
    struct run *run = ud;
    assert_false(run->in_stream);
    run->in_stream = true;
    mf_buf_appendf(&run->streams,
                   "begin num=%s%u kw=%s item=%s "
                   "depth=%u size=%llu [",
                   info->has_number ? "" : "-", (unsigned)info->number,
                   info->keyword ? info->keyword : "-",
                   info->item ? info->item : "-", info->depth,
                   (unsigned long long)info->size);
    return run->fail_begin;
}

static mf_err
on_data(void *ud, const uint8_t *data, size_t n) {
    struct run *run = ud;
    assert_true(run->in_stream);
    assert_true(n > 0);
    mf_buf_append(&run->streams, data, n);
    return run->fail_data;
}

static mf_err
on_end(void *ud) {
    struct run *run = ud;
    assert_true(run->in_stream);
    run->in_stream = false;
    mf_buf_append_str(&run->streams, "] end\n");
    return MF_E_OK;
}

static uint64_t
rnd(uint64_t *s) {
    /* xorshift64*: deterministic, good enough to pick chunk sizes. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

enum chunking {
    WHOLE,
    BYTES,
    RANDOM,
};

/* Feeds in according to mode; returns the final code. */
static mf_err
feed_all(struct mf_imap_parser *p, const uint8_t *in, size_t len,
         enum chunking mode, uint64_t seed) {
    size_t off = 0;
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;

    while (off < len) {
        size_t n = len - off;
        size_t used;
        if (mode == BYTES)
            n = 1;
        else if (mode == RANDOM)
            n = 1 + (size_t)(rnd(&s) % (n < 17 ? n : 17));
        mf_err rc = mf_imap_parser_feed(p, in + off, n, &used);
        if (rc != MF_E_OK)
            return rc;
        assert_int_equal(used, n);
        off += n;
    }
    return MF_E_OK;
}

struct outcome {
    mf_err rc;
    char *dump;    /* owned */
    char *streams; /* owned */
    bool mid;      /* in the middle of a response at the end */
};

static struct outcome
run_one(const char *in, size_t len, const struct mf_imap_parser_limits *lim,
        bool stream, enum chunking mode, uint64_t seed) {
    struct run run = {0};
    struct mf_imap_parser_cb cb = {.on_response = on_response};
    struct outcome o;
    if (stream) {
        cb.on_literal_begin = on_begin;
        cb.on_literal_data = on_data;
        cb.on_literal_end = on_end;
    }
    struct mf_imap_parser *p = mf_imap_parser_new(lim, &cb, &run);
    o.rc = feed_all(p, (const uint8_t *)in, len, mode, seed);
    assert_int_equal(mf_imap_parser_error(p)->code, o.rc);
    o.mid = mf_imap_parser_in_response(p);
    mf_buf_append(&run.dump, "", 0);
    mf_buf_append(&run.streams, "", 0);
    o.dump = (char *)run.dump.data;
    o.streams = (char *)run.streams.data;
    mf_imap_parser_free(&p);
    assert_null(p);
    return o;
}

/* Runs every chunking and checks they agree; returns the whole-feed run. */
static struct outcome
run_all(const char *in, size_t len, const struct mf_imap_parser_limits *lim,
        bool stream) {
    struct outcome whole = run_one(in, len, lim, stream, WHOLE, 0);
    for (int k = 0; k < 6; k++) {
        struct outcome o =
            run_one(in, len, lim, stream, k == 0 ? BYTES : RANDOM, (uint64_t)k);
        assert_int_equal(o.rc, whole.rc);
        assert_string_equal(o.dump, whole.dump);
        /* Chunk boundaries differ, the bytes must not. */
        assert_string_equal(o.streams, whole.streams);
        assert_int_equal(o.mid, whole.mid);
        free(o.dump);
        free(o.streams);
    }
    return whole;
}

static void
free_outcome(struct outcome *o) {
    free(o->dump);
    free(o->streams);
}

/* ================================================================== */
/* Vectors                                                             */
/* ================================================================== */

struct vec {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *out;
};

#define V(in, out)                                                             \
    { in, 0, out }
#define VN(in, out)                                                            \
    { in, sizeof(in) - 1, out }

static const struct vec vectors[] = {
    /* Greetings. */
    V("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
      "LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
      "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
      "LITERAL+ STARTTLS AUTH=PLAIN] \"Dovecot (Debian) ready.\"\n"),
    V("* OK Gimap ready for requests from 192.0.2.1 v12mb1234\r\n",
      "* OK \"Gimap ready for requests from 192.0.2.1 v12mb1234\"\n"),
    V("* OK The Microsoft Exchange IMAP4 service is ready. "
      "[TQBOADIAUABSADAAMQBDAEEAMAAwADAAMwAuAGUAdQByAHAAcgBkAA==]\r\n",
      "* OK \"The Microsoft Exchange IMAP4 service is ready. "
      "[TQBOADIAUABSADAAMQBDAEEAMAAwADAAMwAuAGUAdQByAHAAcgBkAA==]\"\n"),
    V("* OK cyrus.example.org Cyrus IMAP v3.6.1 server ready\r\n",
      "* OK \"cyrus.example.org Cyrus IMAP v3.6.1 server ready\"\n"),
    V("* PREAUTH [CAPABILITY IMAP4rev1] Logged in as bob\r\n",
      "* PREAUTH [CAPABILITY IMAP4rev1] \"Logged in as bob\"\n"),
    V("* BYE Logging out\r\n", "* BYE \"Logging out\"\n"),
    V("* BYE\r\n", "* BYE \"\"\n"),

    /* Tagged status with codes (RFC 3501 7.1, RFC 4315, RFC 5530). */
    V("a1 OK [APPENDUID 38505 3955] APPEND completed\r\n",
      "a1 OK [APPENDUID 38505 3955] \"APPEND completed\"\n"),
    V("a2 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
      "a2 OK [COPYUID 38505 304,319:320 3956:3958] \"Done\"\n"),
    V("a3 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n",
      "a3 OK [READ-WRITE] \"Select completed (0.001 + 0.000 secs).\"\n"),
    V("a4 NO [TRYCREATE] Mailbox doesn't exist: Foo\r\n",
      "a4 NO [TRYCREATE] \"Mailbox doesn't exist: Foo\"\n"),
    V("a5 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
      "a5 NO [AUTHENTICATIONFAILED] \"Authentication failed.\"\n"),
    V("a6 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\n",
      "a6 NO [OVERQUOTA] \"Quota exceeded (mailbox for user is full)\"\n"),
    V("a7 NO [LIMIT] Too many\r\na8 NO [INUSE] busy\r\n"
      "a9 NO [UNAVAILABLE] later\r\nb1 BAD [SERVERBUG] oops\r\n"
      "b2 NO [THROTTLED] slow down\r\n",
      "a7 NO [LIMIT] \"Too many\"\na8 NO [INUSE] \"busy\"\n"
      "a9 NO [UNAVAILABLE] \"later\"\nb1 BAD [SERVERBUG] \"oops\"\n"
      "b2 NO [THROTTLED] \"slow down\"\n"),
    V("a5 BAD\r\n", "a5 BAD \"\"\n"),
    V("a6 OK [ALERT]\r\n", "a6 OK [ALERT] \"\"\n"),
    V("a6 OK [ALERT]no space\r\n", "a6 OK [ALERT] \"no space\"\n"),
    V("a1 ok [read-only] lower case\r\n", "a1 OK [READ-ONLY] \"lower case\"\n"),
    V("tag.with]chars OK x\r\n", "tag.with]chars OK \"x\"\n"),
    V("a1 NO [BADCHARSET (UTF-8 \"x]y\")] bad\r\n",
      "a1 NO [BADCHARSET (UTF-8 \"x]y\")] \"bad\"\n"),
    V("a1 OK [HIGHESTMODSEQ 715194045007] ok\r\n",
      "a1 OK [HIGHESTMODSEQ 715194045007] \"ok\"\n"),

    /* Untagged status with codes. */
    V("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
      "\\*)] Flags permitted.\r\n",
      "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
      "\\*)] \"Flags permitted.\"\n"),
    V("* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n",
      "* OK [PERMANENTFLAGS ()] \"No permanent flags permitted\"\n"),
    V("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
      "* OK [UIDVALIDITY 3857529045] \"UIDs valid\"\n"),
    V("* OK [UIDNEXT 4392] Predicted next UID\r\n",
      "* OK [UIDNEXT 4392] \"Predicted next UID\"\n"),
    V("* ok [uidvalidity 5] x\r\n", "* OK [UIDVALIDITY 5] \"x\"\n"),
    V("* NO [ALERT] System shutdown in 10 minutes\r\n",
      "* NO [ALERT] \"System shutdown in 10 minutes\"\n"),
    /* Unclosed code: it is text. Unparsable args: raw only. */
    V("* OK [foo bar\r\n", "* OK \"[foo bar\"\n"),
    V("* OK [X-FOO a)b] t\r\n", "* OK [X-FOO raw=\"a)b\"] \"t\"\n"),
    V("* OK [] t\r\n", "* OK \"[] t\"\n"),
    /* Status text is not tokenized: a {n} there is no literal. */
    V("* OK see {5}\r\n", "* OK \"see {5}\"\n"),
    V("* OK caf\xc3\xa9 (8-bit)\r\n", "* OK \"caf\\xc3\\xa9 (8-bit)\"\n"),

    /* Continuations. */
    V("+ Ready for literal data\r\n", "+ \"Ready for literal data\"\n"),
    V("+\r\n", "+ \"\"\n"),
    V("+ \r\n", "+ \"\"\n"),
    V("+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzmeTyzU7RbAA\r\n",
      "+ \"YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzmeTyzU7RbAA\"\n"),
    V("+ [ALERT] hi\r\n", "+ [ALERT] \"hi\"\n"),

    /* Message data. */
    V("* 3 EXISTS\r\n* 0 RECENT\r\n* 5 EXPUNGE\r\n",
      "* 3 EXISTS\n* 0 RECENT\n* 5 EXPUNGE\n"),
    V("* 12 FETCH (UID 7 FLAGS (\\Seen) )\r\n",
      "* 12 FETCH (UID 7 FLAGS (\\Seen))\n"),
    V("* 1 fetch (uid 1 flags ())\r\n", "* 1 FETCH (uid 1 flags ())\n"),
    V("* 1 FETCH(UID 1)\r\n", "* 1 FETCH (UID 1)\n"),
    V("* 1 FETCH (FLAGS (\\Seen)UID 3)\r\n",
      "* 1 FETCH (FLAGS (\\Seen) UID 3)\n"),
    V("* 1 FETCH  (UID  2   FLAGS (\\Seen  $Forwarded) )  \r\n",
      "* 1 FETCH (UID 2 FLAGS (\\Seen $Forwarded))\n"),
    V("* 1 FETCH (UID 5 RFC822.SIZE 44 INTERNALDATE \" 5-Mar-2024 14:07:09 "
      "+0100\" BODY[] {10}\r\nab\r\ncd\r\nef)\r\n",
      "* 1 FETCH (UID 5 RFC822.SIZE 44 INTERNALDATE \" 5-Mar-2024 14:07:09 "
      "+0100\" BODY[] {10}\"ab\\x0d\\x0acd\\x0d\\x0aef\")\n"),
    V("* 2 FETCH (BODY[HEADER.FIELDS (FROM TO)] {9}\r\nFrom: x\r\n UID 3)\r\n",
      "* 2 FETCH (BODY[HEADER.FIELDS (FROM TO)] {9}\"From: x\\x0d\\x0a\" UID "
      "3)\n"),
    V("* 2 FETCH (BODY[]<0> {3}\r\nabc)\r\n",
      "* 2 FETCH (BODY[]<0> {3}\"abc\")\n"),
    V("* 1 FETCH (BODY[] NIL UID 4)\r\n", "* 1 FETCH (BODY[] NIL UID 4)\n"),
    V("* 1 FETCH (BODY[] {0}\r\n)\r\n", "* 1 FETCH (BODY[] {0}\"\")\n"),
    VN("* 1 FETCH (BODY[] {3}\r\na\0b)\r\n",
       "* 1 FETCH (BODY[] {3}\"a\\x00b\")\n"),
    V("* 1 FETCH (BINARY[] ~{2}\r\nhi)\r\n",
      "* 1 FETCH (BINARY[] {2}\"hi\")\n"),
    V("* 1 FETCH (BODY[HEADER] {2}\r\nab BODY[TEXT] {3+}\r\ncde)\r\n",
      "* 1 FETCH (BODY[HEADER] {2}\"ab\" BODY[TEXT] {3}\"cde\")\n"),
    /* A literal that looks like protocol. */
    V("* 1 FETCH (BODY[] {16}\r\n* 2 EXISTS\r\n)\r\n) UID 9)\r\n",
      "* 1 FETCH (BODY[] {16}\"* 2 EXISTS\\x0d\\x0a)\\x0d\\x0a)\" UID 9)\n"),
    V("* 1 FETCH (ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"afternoon "
      "meeting\" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.COM\")) NIL "
      "NIL NIL NIL NIL NIL \"<B27397-0100000@Blurdybloop.COM>\"))\r\n",
      "* 1 FETCH (ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"afternoon "
      "meeting\" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.COM\")) NIL "
      "NIL NIL NIL NIL NIL \"<B27397-0100000@Blurdybloop.COM>\"))\n"),
    V("* 4 FETCH (X-GM-MSGID 1278455344230334865 X-GM-LABELS (\\Inbox "
      "\"\\\\Important\" Work) UID 4)\r\n",
      "* 4 FETCH (X-GM-MSGID 1278455344230334865 X-GM-LABELS (\\Inbox "
      "\"\\\\Important\" Work) UID 4)\n"),
    V("* 1 FETCH (MODSEQ (12121231000))\r\n",
      "* 1 FETCH (MODSEQ (12121231000))\n"),

    /* Mailbox data. */
    V("* CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE\r\n",
      "* CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE\n"),
    V("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\n"),
    V("* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n",
      "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\n"),
    V("* LIST (\\HasChildren \\Noselect) \"/\" \"[Gmail]\"\r\n"
      "* LIST (\\HasNoChildren \\Drafts) \"/\" [Gmail]/Drafts\r\n",
      "* LIST (\\HasChildren \\Noselect) \"/\" \"[Gmail]\"\n"
      "* LIST (\\HasNoChildren \\Drafts) \"/\" [Gmail]/Drafts\n"),
    V("* LIST () \".\" {5}\r\nINBOX\r\n", "* LIST () \".\" {5}\"INBOX\"\n"),
    V("* LIST (\\Noselect) NIL \"\"\r\n", "* LIST (\\Noselect) NIL \"\"\n"),
    V("* LSUB () \"/\" Entw&APw-rfe\r\n", "* LSUB () \"/\" Entw&APw-rfe\n"),
    V("* LIST () \"\\\\\" \"a\\\"b\\\\c\\d\"\r\n",
      "* LIST () \"\\\\\" \"a\\\"b\\\\c\\\\d\"\n"),
    V("* LIST () \"/\" Inbox/\xc3\x9cnicode\r\n",
      "* LIST () \"/\" Inbox/\xc3\x9cnicode\n"),
    V("* LIST () \"/\" \"Caf\xc3\xa9\"\r\n",
      "* LIST () \"/\" \"Caf\\xc3\\xa9\"\n"),
    V("* LIST (\\HasNoChildren) \"/\" \"Tab\there\"\r\n",
      "* LIST (\\HasNoChildren) \"/\" \"Tab\\x09here\"\n"),
    V("* SEARCH 2 84 882\r\n* SEARCH\r\n", "* SEARCH 2 84 882\n* SEARCH\n"),
    V("* ESEARCH (TAG \"a1\") UID ALL 1:3,5\r\n",
      "* ESEARCH (TAG \"a1\") UID ALL 1:3,5\n"),
    V("* STATUS \"INBOX\" (MESSAGES 231 UIDNEXT 44292)\r\n",
      "* STATUS \"INBOX\" (MESSAGES 231 UIDNEXT 44292)\n"),
    V("* STATUS {5}\r\nINBOX (MESSAGES 2)\r\n",
      "* STATUS {5}\"INBOX\" (MESSAGES 2)\n"),
    V("* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) NIL\r\n",
      "* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) NIL\n"),
    V("* NAMESPACE ((\"INBOX.\" \".\" \"X-PARAM\" (\"FLAG1\"))) NIL NIL\r\n",
      "* NAMESPACE ((\"INBOX.\" \".\" \"X-PARAM\" (\"FLAG1\"))) NIL NIL\n"),
    V("* ID (\"name\" \"Dovecot\")\r\n* ID NIL\r\n",
      "* ID (\"name\" \"Dovecot\")\n* ID NIL\n"),
    V("* ENABLED CONDSTORE\r\n", "* ENABLED CONDSTORE\n"),
    V("* QUOTAROOT INBOX \"\"\r\n* QUOTA \"\" (STORAGE 10 512)\r\n",
      "* QUOTAROOT INBOX \"\"\n* QUOTA \"\" (STORAGE 10 512)\n"),
    V("* VANISHED (EARLIER) 41,43:116\r\n", "* VANISHED (EARLIER) 41,43:116\n"),
    V("* XUNKNOWN stuff \"here\" (1 (2 (3)))\r\n",
      "* XUNKNOWN stuff \"here\" (1 (2 (3)))\n"),

    /* Framing: blank lines between responses, a partial response. */
    V("\r\n\r\n* 1 EXISTS\r\n", "* 1 EXISTS\n"),
    V("* 1 EXISTS\r\n* 2 EXI", "* 1 EXISTS\n"),
    V("* 1 FETCH (BODY[] {10}\r\nabc", ""),
};

static void
test_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vec *v = &vectors[i];
        size_t len = v->len ? v->len : strlen(v->in);
        struct outcome o = run_all(v->in, len, NULL, false);
        if (o.rc != MF_E_OK || strcmp(o.dump, v->out) != 0)
            fprintf(stderr, "vector %zu: rc %d\n got: %s\nwant: %s\n", i,
                    (int)o.rc, o.dump, v->out);
        assert_int_equal(o.rc, MF_E_OK);
        assert_string_equal(o.dump, v->out);
        free_outcome(&o);
    }
}

/* All vectors back to back in one stream. */
static void
test_vectors_concatenated(void **state) {
    struct mf_buf in = {0}, want = {0};
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vec *v = &vectors[i];
        size_t len = v->len ? v->len : strlen(v->in);
        /* Skip the ones that end mid-response. */
        if (len < 2 || v->in[len - 1] != '\n')
            continue;
        mf_buf_append(&in, v->in, len);
        mf_buf_append_str(&want, v->out);
    }
    struct outcome o = run_all((char *)in.data, in.len, NULL, false);
    assert_int_equal(o.rc, MF_E_OK);
    assert_string_equal(o.dump, (char *)want.data);
    assert_false(o.mid);
    free_outcome(&o);
    mf_buf_free(&in);
    mf_buf_free(&want);
}

/* ================================================================== */
/* Errors and limits                                                   */
/* ================================================================== */

struct evec {
    const char *in;
    size_t len;
    mf_err rc;
    const char *out; /* responses delivered before the error */
};

#define E(in, rc)                                                              \
    { in, 0, rc, "" }
#define EN(in, rc)                                                             \
    { in, sizeof(in) - 1, rc, "" }

static const struct evec errors[] = {
    E("* 1 FETCH (UID 1\n", MF_E_IMAP_PARSE), /* bare LF */
    E("\n", MF_E_IMAP_PARSE),
    E("* OK a\rb\r\n", MF_E_IMAP_PARSE),        /* bare CR */
    EN("a1 OK x\0y\r\n", MF_E_IMAP_PARSE),      /* NUL */
    E("* 1 FETCH (UID 1\r\n", MF_E_IMAP_PARSE), /* list not closed */
    E("* 1 FETCH UID 1)\r\n", MF_E_IMAP_PARSE), /* unbalanced ")" */
    E("* 1 FETCH (\"abc\r\n", MF_E_IMAP_PARSE), /* unterminated string */
    E("* 1 FETCH (BODY[] {3x}\r\n", MF_E_IMAP_PARSE),
    E("* 1 FETCH (BODY[] {}\r\n", MF_E_IMAP_PARSE),
    E("* 1 FETCH (BODY[] {3} x\r\n", MF_E_IMAP_PARSE),
    E("* 1 FETCH (BODY[] {-3}\r\n", MF_E_IMAP_PARSE),
    E("* 1 FETCH (\x01)\r\n", MF_E_IMAP_PARSE), /* control in atom */
    E("* 1 FETCH (\"a\x01\")\r\n", MF_E_IMAP_PARSE),
    E("a1 FOO bar\r\n", MF_E_IMAP_PARSE), /* tagged, not a status */
    E("a1 PREAUTH x\r\n", MF_E_IMAP_PARSE),
    E("a1\r\n", MF_E_IMAP_PARSE),
    E(" a1 OK\r\n", MF_E_IMAP_PARSE), /* empty tag */
    E("a(1 OK\r\n", MF_E_IMAP_PARSE),
    E("*OK\r\n", MF_E_IMAP_PARSE),
    E("*\r\n", MF_E_IMAP_PARSE),
    E("* \r\n", MF_E_IMAP_PARSE),
    E("* 1\r\n", MF_E_IMAP_PARSE),
    E("* 4294967296 EXISTS\r\n", MF_E_IMAP_PARSE),
    E("* 99999999999 EXISTS\r\n", MF_E_IMAP_PARSE),
    E("* 12a EXISTS\r\n", MF_E_IMAP_PARSE),
    E("* 1 FETCH (BODY[] {99999999999999999999999}\r\n",
      MF_E_IMAP_LITERAL_TOO_BIG),
    E("* 1 FETCH (BODY[] {67108865}\r\n", MF_E_IMAP_LITERAL_TOO_BIG),
    E("* OK [ALERT] {5}\r\n* LIST () \"/\" {2}\r\nab\r\n* 1 FETCH (x\r\n",
      MF_E_IMAP_PARSE),
};

static void
test_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        const struct evec *v = &errors[i];
        size_t len = v->len ? v->len : strlen(v->in);
        struct outcome o = run_all(v->in, len, NULL, false);
        if (o.rc != v->rc)
            fprintf(stderr, "error vector %zu: rc %d, want %d\n", i, (int)o.rc,
                    (int)v->rc);
        assert_int_equal(o.rc, v->rc);
        free_outcome(&o);
    }
    /* Responses before the bad one are delivered. */
    struct outcome o =
        run_all(errors[MF_ARRAY_LEN(errors) - 1].in,
                strlen(errors[MF_ARRAY_LEN(errors) - 1].in), NULL, false);
    assert_string_equal(o.dump, "* OK [ALERT] \"{5}\"\n* LIST () \"/\" "
                                "{2}\"ab\"\n");
    free_outcome(&o);
}

static void
test_line_limit(void **state) {
    struct mf_imap_parser_limits lim;
    char line[300];
    (void)state;

    mf_imap_parser_limits_init(&lim);
    lim.max_line = 100;
    /* Exactly 100 bytes with CRLF is fine, 101 is not. */
    memset(line, 'x', sizeof(line));
    memcpy(line, "* SEARCH ", 9);
    memcpy(line + 98, "\r\n", 2);
    struct outcome o = run_all(line, 100, &lim, false);
    assert_int_equal(o.rc, MF_E_OK);
    free_outcome(&o);
    memcpy(line + 98, "x\r\n", 3);
    o = run_all(line, 101, &lim, false);
    assert_int_equal(o.rc, MF_E_IMAP_LINE_TOO_LONG);
    free_outcome(&o);

    /* A line that never ends fails as soon as it passes the limit, having
     * consumed exactly the limit. */
    struct run run = {0};
    struct mf_imap_parser_cb cb = {.on_response = on_response};
    struct mf_imap_parser *p = mf_imap_parser_new(&lim, &cb, &run);
    size_t used;
    assert_int_equal(mf_imap_parser_feed(p, (const uint8_t *)line, 300, &used),
                     MF_E_IMAP_LINE_TOO_LONG);
    assert_int_equal(used, 100);
    assert_non_null(strstr(mf_imap_parser_error(p)->detail, "100"));
    mf_imap_parser_free(&p);

    /* The limit counts every line of a response but not literal data. */
    const char *multi = "* 1 FETCH (BODY[] {200}\r\n";
    struct mf_buf in = {0};
    mf_buf_append_str(&in, multi);
    for (int i = 0; i < 200; i++)
        mf_buf_append(&in, "L", 1);
    mf_buf_append_str(&in, " UID 1)\r\n");
    o = run_all((char *)in.data, in.len, &lim, false);
    assert_int_equal(o.rc, MF_E_OK);
    free_outcome(&o);
    mf_buf_reset(&in);
    for (int i = 0; i < 20; i++)
        mf_buf_append_str(&in, i ? " X {1}\r\nz" : "* 1 FETCH (A {1}\r\nz");
    mf_buf_append_str(&in, ")\r\n");
    o = run_all((char *)in.data, in.len, &lim, false);
    assert_int_equal(o.rc, MF_E_IMAP_LINE_TOO_LONG);
    free_outcome(&o);
    mf_buf_free(&in);
    free(run.dump.data);
}

static void
test_literal_limit(void **state) {
    struct mf_imap_parser_limits lim;
    (void)state;

    mf_imap_parser_limits_init(&lim);
    lim.max_literal = 10;
    const char *ok = "* 1 FETCH (BODY[] {10}\r\n0123456789)\r\n";
    struct outcome o = run_all(ok, strlen(ok), &lim, false);
    assert_int_equal(o.rc, MF_E_OK);
    free_outcome(&o);
    const char *big = "* 1 FETCH (BODY[] {11}\r\n01234567890)\r\n";
    o = run_all(big, strlen(big), &lim, false);
    assert_int_equal(o.rc, MF_E_IMAP_LITERAL_TOO_BIG);
    free_outcome(&o);
    /* Buffered literals of one response add up. */
    const char *two = "* 1 FETCH (A {6}\r\n012345 B {5}\r\n01234)\r\n";
    o = run_all(two, strlen(two), &lim, false);
    assert_int_equal(o.rc, MF_E_IMAP_LITERAL_TOO_BIG);
    free_outcome(&o);
    /* ... but not across responses. */
    const char *sep = "* 1 FETCH (A {6}\r\n012345)\r\n"
                      "* 2 FETCH (B {6}\r\n012345)\r\n";
    o = run_all(sep, strlen(sep), &lim, false);
    assert_int_equal(o.rc, MF_E_OK);
    free_outcome(&o);
}

static void
test_nesting_limit(void **state) {
    struct mf_imap_parser_limits lim;
    struct mf_buf in = {0};
    (void)state;

    mf_imap_parser_limits_init(&lim);
    lim.max_depth = 4;
    mf_buf_append_str(&in, "* X ((((a))))\r\n");
    struct outcome o = run_all((char *)in.data, in.len, &lim, false);
    assert_int_equal(o.rc, MF_E_OK);
    free_outcome(&o);
    mf_buf_reset(&in);
    mf_buf_append_str(&in, "* X (((((a)))))\r\n");
    o = run_all((char *)in.data, in.len, &lim, false);
    assert_int_equal(o.rc, MF_E_IMAP_NESTING);
    free_outcome(&o);

    /* The default (32) stops a hostile server's 10000 "(". */
    mf_buf_reset(&in);
    mf_buf_append_str(&in, "* 1 FETCH ");
    for (int i = 0; i < 10000; i++)
        mf_buf_append(&in, "(", 1);
    mf_buf_append_str(&in, "\r\n");
    o = run_all((char *)in.data, in.len, NULL, false);
    assert_int_equal(o.rc, MF_E_IMAP_NESTING);
    free_outcome(&o);
    /* Nesting in a code's args is just not parsed. */
    mf_buf_reset(&in);
    mf_buf_append_str(&in, "* OK [X (((((a)))))] t\r\n");
    o = run_all((char *)in.data, in.len, &lim, false);
    assert_int_equal(o.rc, MF_E_OK);
    assert_string_equal(o.dump, "* OK [X raw=\"(((((a)))))\"] \"t\"\n");
    free_outcome(&o);
    mf_buf_free(&in);
}

static void
test_args_limit(void **state) {
    struct mf_imap_parser_limits lim;
    (void)state;

    mf_imap_parser_limits_init(&lim);
    lim.max_args = 5;
    const char *ok = "* X a b (c d)\r\n"; /* a b c d and the list */
    struct outcome o = run_all(ok, strlen(ok), &lim, false);
    assert_int_equal(o.rc, MF_E_OK);
    free_outcome(&o);
    const char *bad = "* X a b (c d) e\r\n";
    o = run_all(bad, strlen(bad), &lim, false);
    assert_int_equal(o.rc, MF_E_IMAP_LINE_TOO_LONG);
    free_outcome(&o);
    const char *next = "* X a b (c d)\r\n* X a b (c d)\r\n";
    o = run_all(next, strlen(next), &lim, false);
    assert_int_equal(o.rc, MF_E_OK);
    free_outcome(&o);
}

/* After an error the parser stays failed; reset makes it new. */
static void
test_sticky_failure(void **state) {
    struct run run = {0};
    struct mf_imap_parser_cb cb = {.on_response = on_response};
    struct mf_imap_parser *p = mf_imap_parser_new(NULL, &cb, &run);
    const char *good = "* 1 EXISTS\r\n";
    size_t used = 99;
    (void)state;

    assert_int_equal(
        mf_imap_parser_feed(p, (const uint8_t *)"*OK\r\n", 5, &used),
        MF_E_IMAP_PARSE);
    assert_int_equal(used, 5);
    assert_int_equal(mf_imap_parser_error(p)->code, MF_E_IMAP_PARSE);
    assert_int_equal(
        mf_imap_parser_feed(p, (const uint8_t *)good, strlen(good), &used),
        MF_E_IMAP_PARSE);
    assert_int_equal(used, 0);
    assert_int_equal(run.responses, 0);
    mf_imap_parser_reset(p);
    assert_int_equal(mf_imap_parser_error(p)->code, MF_E_OK);
    assert_int_equal(
        mf_imap_parser_feed(p, (const uint8_t *)good, strlen(good), &used),
        MF_E_OK);
    assert_int_equal(run.responses, 1);
    mf_imap_parser_free(&p);
    mf_imap_parser_free(&p); /* NULL is fine */
    mf_buf_free(&run.dump);
}

/* A callback can stop the feed right after its response. */
static void
test_callback_stops(void **state) {
    struct run run = {.stop_after = 1};
    struct mf_imap_parser_cb cb = {.on_response = on_response};
    struct mf_imap_parser *p = mf_imap_parser_new(NULL, &cb, &run);
    const char *in = "a1 OK begin TLS now\r\n\x16\x03\x01 binary";
    size_t used;
    (void)state;

    assert_int_equal(
        mf_imap_parser_feed(p, (const uint8_t *)in, strlen(in), &used),
        MF_E_CANCELLED);
    assert_int_equal(used, strlen("a1 OK begin TLS now\r\n"));
    assert_false(mf_imap_parser_in_response(p));
    /* Not failed: it goes on with the next bytes. */
    assert_int_equal(mf_imap_parser_error(p)->code, MF_E_OK);
    assert_int_equal(
        mf_imap_parser_feed(p, (const uint8_t *)"* 2 EXISTS\r\n", 12, &used),
        MF_E_OK);
    assert_int_equal(run.responses, 2);
    mf_imap_parser_free(&p);
    mf_buf_free(&run.dump);
}

/* ================================================================== */
/* Streaming                                                           */
/* ================================================================== */

static void
test_streaming(void **state) {
    struct mf_imap_parser_limits lim;
    (void)state;

    mf_imap_parser_limits_init(&lim);
    lim.stream_threshold = 4;
    const char *in =
        "* 7 FETCH (UID 9 BODY[] {10}\r\n0123456789 FLAGS (\\Seen))\r\n"
        "* 8 FETCH (UID 10 BODY[HEADER] {4}\r\nabcd BODY[TEXT]<0> {5}\r\n"
        "ABCDE)\r\n"
        "* 9 FETCH (BODY[] {0}\r\n)\r\n"
        "* LIST () \"/\" {6}\r\nfolder\r\n"
        "a1 OK done\r\n";
    struct outcome o = run_all(in, strlen(in), &lim, true);
    assert_int_equal(o.rc, MF_E_OK);
    assert_string_equal(
        o.dump, "* 7 FETCH (UID 9 BODY[] {10}<streamed> FLAGS (\\Seen))\n"
                "* 8 FETCH (UID 10 BODY[HEADER] {4}\"abcd\" BODY[TEXT]<0> "
                "{5}<streamed>)\n"
                "* 9 FETCH (BODY[] {0}\"\")\n"
                "* LIST () \"/\" {6}<streamed>\n"
                "a1 OK \"done\"\n");
    assert_string_equal(
        o.streams, "begin num=7 kw=FETCH item=BODY[] depth=1 size=10 "
                   "[0123456789] end\n"
                   "begin num=8 kw=FETCH item=BODY[TEXT]<0> depth=1 size=5 "
                   "[ABCDE] end\n"
                   "begin num=-0 kw=LIST item=- depth=0 size=6 [folder] end\n");
    assert_false(o.mid);
    free_outcome(&o);

    /* Streamed literals do not count against the buffered total, but
     * still against the per-literal maximum. */
    lim.max_literal = 12;
    const char *many = "* 1 FETCH (A {10}\r\n0123456789 B {10}\r\n0123456789"
                       " C {4}\r\nabcd)\r\n";
    o = run_all(many, strlen(many), &lim, true);
    assert_int_equal(o.rc, MF_E_OK);
    free_outcome(&o);
    const char *big = "* 1 FETCH (A {13}\r\n0123456789abc)\r\n";
    o = run_all(big, strlen(big), &lim, true);
    assert_int_equal(o.rc, MF_E_IMAP_LITERAL_TOO_BIG);
    assert_string_equal(o.streams, "");
    free_outcome(&o);
}

/* A big message streams in bounded memory whatever the chunking. */
static void
test_streaming_big(void **state) {
    struct mf_buf in = {0};
    const size_t size = 3 * 1024 * 1024;
    (void)state;

    mf_buf_appendf(&in, "* 1 FETCH (UID 5 BODY[] {%zu}\r\n", size);
    for (size_t i = 0; i < size; i++) {
        uint8_t c = (uint8_t)(i * 31 + (i >> 9));
        mf_buf_append(&in, &c, 1);
    }
    mf_buf_append_str(&in, ")\r\n");
    struct outcome o = run_one((char *)in.data, in.len, NULL, true, RANDOM, 1);
    assert_int_equal(o.rc, MF_E_OK);
    assert_string_equal(o.dump,
                        "* 1 FETCH (UID 5 BODY[] {3145728}<streamed>)\n");
    const char *hdr = "begin num=1 kw=FETCH item=BODY[] depth=1 "
                      "size=3145728 [";
    assert_memory_equal(o.streams, hdr, strlen(hdr));
    assert_memory_equal(o.streams + strlen(hdr), in.data + in.len - size - 3,
                        size);
    free_outcome(&o);
    mf_buf_free(&in);
}

static void
test_streaming_sink_fails(void **state) {
    struct mf_imap_parser_limits lim;
    struct mf_imap_parser_cb cb = {.on_response = on_response,
                                   .on_literal_begin = on_begin,
                                   .on_literal_data = on_data,
                                   .on_literal_end = on_end};
    const char *in = "* 1 FETCH (BODY[] {10}\r\n0123456789)\r\n";
    size_t used;
    (void)state;

    mf_imap_parser_limits_init(&lim);
    lim.stream_threshold = 0;
    struct run run = {.fail_begin = MF_E_MESSAGE_TOO_LARGE};
    struct mf_imap_parser *p = mf_imap_parser_new(&lim, &cb, &run);
    assert_int_equal(
        mf_imap_parser_feed(p, (const uint8_t *)in, strlen(in), &used),
        MF_E_MESSAGE_TOO_LARGE);
    assert_int_equal(mf_imap_parser_error(p)->code, MF_E_MESSAGE_TOO_LARGE);
    mf_imap_parser_free(&p);
    mf_buf_free(&run.dump);
    mf_buf_free(&run.streams);

    struct run run2 = {.fail_data = MF_E_IO};
    p = mf_imap_parser_new(&lim, &cb, &run2);
    assert_int_equal(
        mf_imap_parser_feed(p, (const uint8_t *)in, strlen(in), &used),
        MF_E_IO);
    assert_int_equal(run2.responses, 0);
    assert_int_equal(mf_imap_parser_feed(p, (const uint8_t *)"x", 1, &used),
                     MF_E_IO);
    mf_imap_parser_free(&p);
    mf_buf_free(&run2.dump);
    mf_buf_free(&run2.streams);
}

/* ================================================================== */
/* Accessors                                                           */
/* ================================================================== */

static mf_err
check_accessors(void *ud, const struct mf_imap_response *r) {
    const struct mf_imap_arg *l, *v;
    size_t n;
    uint32_t u32;
    uint64_t u64;
    const uint8_t *data;
    size_t len;
    const char *s;

    (*(int *)ud)++;
    assert_int_equal(r->kind, MF_IMAP_RESP_UNTAGGED);
    assert_true(r->has_number);
    assert_int_equal(r->number, 42);
    assert_string_equal(r->keyword, "FETCH");
    assert_int_equal(r->nargs, 1);
    assert_true(mf_imap_arg_as_list(&r->args[0], &l, &n));
    assert_int_equal(n, 18);

    v = mf_imap_args_find(l, n, "uid");
    assert_true(mf_imap_arg_as_u32(v, &u32));
    assert_int_equal(u32, 4294967295u);
    v = mf_imap_args_find(l, n, "RFC822.SIZE");
    assert_false(mf_imap_arg_as_u32(v, &u32));
    assert_true(mf_imap_arg_as_u64(v, &u64));
    assert_int_equal(u64, 4294967296ULL);
    v = mf_imap_args_find(l, n, "X1");
    assert_false(mf_imap_arg_as_u32(v, &u32)); /* "12a" */
    v = mf_imap_args_find(l, n, "X2");
    assert_false(mf_imap_arg_as_u32(v, &u32)); /* quoted "12" */
    assert_true(mf_imap_arg_is_string(v));
    v = mf_imap_args_find(l, n, "BODY[]");
    assert_int_equal(v->type, MF_IMAP_ARG_LITERAL);
    assert_true(mf_imap_arg_as_string(v, &data, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(data, "a\0b", 3);
    assert_false(mf_imap_arg_as_astring(v, &s)); /* embedded NUL */
    v = mf_imap_args_find(l, n, "X3");
    assert_true(mf_imap_arg_is_nil(v));
    assert_false(mf_imap_arg_as_string(v, &data, &len));
    assert_true(mf_imap_arg_as_astring(v, &s));
    assert_string_equal(s, "nil");
    v = mf_imap_args_find(l, n, "FLAGS");
    assert_true(mf_imap_arg_as_list(v, &v, &len));
    assert_int_equal(len, 0);
    v = mf_imap_args_find(l, n, "X4");
    assert_true(mf_imap_arg_atom_eq(v, "0007"));
    assert_true(mf_imap_arg_as_u32(v, &u32));
    assert_int_equal(u32, 7);
    /* Pairs: a value equal to a name is not found as a name. */
    assert_null(mf_imap_args_find(l, n, "Y"));
    assert_null(mf_imap_args_find(l, n, "NOPE"));
    assert_false(mf_imap_arg_as_list(&l[0], &v, &len));
    assert_false(mf_imap_arg_as_u32(&l[0], &u32)); /* the atom "UID" */
    return MF_E_OK;
}

static void
test_accessors(void **state) {
    static const char in[] =
        "* 42 FETCH (UID 4294967295 RFC822.SIZE 4294967296 X1 12a X2 \"12\" "
        "BODY[] {3}\r\na\0b X3 nil FLAGS () X4 0007 X5 Y)\r\n";
    int calls = 0;
    struct mf_imap_parser_cb cb = {.on_response = check_accessors};
    struct mf_imap_parser *p = mf_imap_parser_new(NULL, &cb, &calls);
    size_t used;
    (void)state;

    assert_int_equal(
        mf_imap_parser_feed(p, (const uint8_t *)in, sizeof(in) - 1, &used),
        MF_E_OK);
    assert_int_equal(calls, 1);
    mf_imap_parser_free(&p);
    assert_null(mf_imap_args_find(NULL, 0, "x"));
    assert_false(mf_imap_arg_is_atom(NULL));
    assert_string_equal(mf_imap_status_name(MF_IMAP_STATUS_BYE), "BYE");
}

static mf_err
check_code(void *ud, const struct mf_imap_response *r) {
    uint32_t v;
    const uint8_t *d;
    size_t n;

    (*(int *)ud)++;
    assert_string_equal(r->tag, "A003");
    assert_int_equal(r->status, MF_IMAP_STATUS_OK);
    assert_string_equal(r->code.name, "APPENDUID");
    assert_string_equal(r->code.raw, "38505 3955");
    assert_true(r->code.args_ok);
    assert_int_equal(r->code.nargs, 2);
    assert_true(mf_imap_arg_as_u32(&r->code.args[0], &v));
    assert_int_equal(v, 38505);
    assert_true(mf_imap_arg_as_string(&r->code.args[1], &d, &n));
    assert_memory_equal(d, "3955", 4);
    assert_string_equal(r->text, "APPEND completed");
    assert_int_equal(r->text_len, 16);
    assert_int_equal(r->nargs, 0);
    return MF_E_OK;
}

static void
test_resp_code(void **state) {
    const char *in = "A003 OK [APPENDUID 38505 3955] APPEND completed\r\n";
    int calls = 0;
    struct mf_imap_parser_cb cb = {.on_response = check_code};
    struct mf_imap_parser *p = mf_imap_parser_new(NULL, &cb, &calls);
    size_t used;
    (void)state;

    assert_int_equal(
        mf_imap_parser_feed(p, (const uint8_t *)in, strlen(in), &used),
        MF_E_OK);
    assert_int_equal(calls, 1);
    mf_imap_parser_free(&p);
}

/* ================================================================== */
/* Hostile input                                                       */
/* ================================================================== */

/* Random bytes drawn mostly from IMAP's alphabet; every chunking must
 * agree and nothing may crash. Small limits keep memory tiny. */
static void
test_hostile(void **state) {
    static const char alphabet[] = "* ()[]{}\"\\~+0123456789\r\n\r\nAaNIL.:<>-";
    struct mf_imap_parser_limits lim;
    uint64_t s = 12345;
    (void)state;

    mf_imap_parser_limits_init(&lim);
    lim.max_line = 512;
    lim.max_literal = 4096;
    lim.max_depth = 8;
    lim.max_args = 200;
    lim.stream_threshold = 16;
    for (int iter = 0; iter < 3000; iter++) {
        char buf[400];
        size_t len = 1 + rnd(&s) % sizeof(buf);
        for (size_t i = 0; i < len; i++) {
            uint64_t r = rnd(&s);
            buf[i] = (r & 0x300) ? alphabet[r % (sizeof(alphabet) - 1)]
                                 : (char)(r >> 16);
        }
        struct outcome o = run_all(buf, len, &lim, iter & 1);
        free_outcome(&o);
    }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_vectors_concatenated),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_literal_limit),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_args_limit),
        cmocka_unit_test(test_sticky_failure),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_streaming_big),
        cmocka_unit_test(test_streaming_sink_fails),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_resp_code),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
