/*
 * Transcript tests of the IMAP command layer and session (session.h)
 * against the scripted fake server (fakeimap.h): capabilities, SELECT,
 * pipelining and its window, synchronizing and non-synchronizing literals,
 * body sources, BYE and disconnects with commands pending, error mapping
 * with backoff hints, hostile servers, timeouts; a server that writes
 * megabytes without reading while we write megabytes (no deadlock), and
 * the connection's non-blocking primitives.
 *
 * Every session starts with our own CAPABILITY, hence the CAPS prefix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fakeimap.h"
#include "imap/conn.h"
#include "mailferry/imap_session.h"
#include "mailferry/folderplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CAPS_PLUS                                                              \
    "C: $0 CAPABILITY\n"                                                       \
    "S: * CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS MULTIAPPEND SPECIAL-USE "      \
    "APPENDLIMIT=35882577 NAMESPACE STATUS=SIZE ID IDLE MOVE\n"                \
    "S: $0 OK Capability completed.\n"
#define CAPS_SYNC                                                              \
    "C: $0 CAPABILITY\n"                                                       \
    "S: * CAPABILITY IMAP4rev1 UIDPLUS\n"                                      \
    "S: $0 OK done\n"
#define CAPS_MINUS                                                             \
    "C: $0 CAPABILITY\n"                                                       \
    "S: * CAPABILITY IMAP4rev1 LITERAL-\n"                                     \
    "S: $0 OK done\n"

struct t {
    struct mf_fakeimap *fake;
    struct mf_imap_session *s;
};

static void
stderr_trace(void *ud, bool sent, const char *line, size_t len) {
    (void)ud;
    fprintf(stderr, "%s %.*s\n", sent ? "C:" : "S:", (int)len, line);
}

static struct mf_imap_session *
open_opts(struct t *t, const char *script, unsigned window, long timeout_ms,
          const struct mf_imap_parser_limits *lim) {
    struct mf_imap_session_options o = {
        .window = window, .timeout_ms = timeout_ms, .limits = lim};
    struct mf_error err = {0};
    int fd;

    t->fake = mf_fakeimap_start(script, &fd);
    mf_err rc = mf_imap_session_new_on_conn(mf__imap_conn_from_fd(fd, 2000), &o,
                                            &t->s, &err, NULL);
    if (getenv("MF_TRACE"))
        mf_imap_session_set_trace(t->s, stderr_trace, NULL);
    if (rc != MF_E_OK)
        fail_msg("session: %s %s (fake: %s)", mf_err_name(rc), err.detail,
                 mf_fakeimap_finish(t->fake) ? mf_fakeimap_finish(t->fake)
                                             : "ok");
    return t->s;
}

static struct mf_imap_session *
open_s(struct t *t, const char *script) {
    return open_opts(t, script, 0, 2000, NULL);
}

/* Runs the session to completion expecting want; on a mismatch shows
 * what the fake saw. */
static void
run_expect(struct t *t, mf_err want) {
    mf_err rc = mf_imap_session_run(t->s, -1);
    if (rc != want) {
        const char *detail = mf_imap_session_error(t->s)->detail;
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", detail);
        mf_imap_session_free(&t->s);
        fail_msg("run: %s (%s), want %s; fake: %s", mf_err_name(rc), copy,
                 mf_err_name(want),
                 mf_fakeimap_finish(t->fake) ? mf_fakeimap_finish(t->fake)
                                             : "ok");
    }
}

/* Frees the session and checks the fake followed its script. */
static void
finish(struct t *t) {
    const char *e;

    mf_imap_session_free(&t->s);
    e = mf_fakeimap_finish(t->fake);
    if (e)
        fail_msg("%s\nclient sent:\n%s", e, mf_fakeimap_received(t->fake));
    mf_fakeimap_free(&t->fake);
}

/* Records every done callback. */
struct rec {
    int calls;
    mf_err code;
    enum mf_imap_status status;
    uint32_t retry_after_ms;
    char resp_code[32];
    char detail[256];
    int order; /* global completion order */
};
static int completion_counter;

static void
rec_done(void *ud, const struct mf_imap_result *res) {
    struct rec *r = ud;
    r->calls++;
    r->code = res->error.code;
    r->status = res->status;
    r->retry_after_ms = res->retry_after_ms;
    snprintf(r->resp_code, sizeof(r->resp_code), "%s", res->resp_code);
    snprintf(r->detail, sizeof(r->detail), "%s", res->error.detail);
    r->order = ++completion_counter;
}

static uint32_t
submit_text(struct mf_imap_session *s, const char *text, struct rec *r) {
    uint32_t id = 0;

    assert_int_equal(mf_fakeimap_submit_text(s, text, rec_done, r, &id),
                     MF_E_OK);
    return id;
}

static uint32_t
submit_append(struct mf_imap_session *s, const char *body, struct rec *r) {
    struct mf_imap_cmd_spec c = {0};
    uint32_t id = 0;

    mf_imap_cmd_text(&c, "APPEND INBOX (\\Seen) ");
    mf_imap_cmd_literal(&c, (const uint8_t *)body, strlen(body));
    assert_int_equal(mf_imap_session_submit(s, &c, rec_done, r, &id), MF_E_OK);
    mf_imap_cmd_clear(&c);
    return id;
}

/* ------------------------------------------------------------------ */

struct trace {
    struct mf_buf lines;
};

static void
trace_cb(void *ud, bool sent, const char *line, size_t len) {
    struct trace *tr = ud;
    mf_buf_appendf(&tr->lines, "%s %.*s\n", sent ? "C:" : "S:", (int)len, line);
}

static void
test_capabilities(void **state) {
    struct t t = {0};
    struct trace tr = {0};
    struct rec r = {0};
    (void)state;

    open_s(&t, CAPS_PLUS "C: $1 LOGIN user secret\n"
                         "S: $1 NO [ALREADYAUTHENTICATED] no\n"
                         "C: $2 CAPABILITY\n"
                         "S: * CAPABILITY IMAP4rev1 LITERAL- ENABLE "
                         "CONDSTORE LIST-EXTENDED LIST-STATUS UTF8=ACCEPT "
                         "COMPRESS=DEFLATE APPENDLIMIT\n"
                         "S: $2 OK done\n");
    uint32_t caps = mf_imap_session_caps(t.s);
    assert_true(caps & MF_IMAP_CAP_IMAP4REV1);
    assert_true(caps & MF_IMAP_CAP_LITERAL_PLUS);
    assert_false(caps & MF_IMAP_CAP_LITERAL_MINUS);
    assert_true(mf_imap_session_has(
        t.s, MF_IMAP_CAP_UIDPLUS | MF_IMAP_CAP_MULTIAPPEND |
                 MF_IMAP_CAP_SPECIAL_USE | MF_IMAP_CAP_APPENDLIMIT |
                 MF_IMAP_CAP_NAMESPACE | MF_IMAP_CAP_STATUS_SIZE |
                 MF_IMAP_CAP_ID | MF_IMAP_CAP_IDLE | MF_IMAP_CAP_MOVE));
    assert_false(caps & MF_IMAP_CAP_CONDSTORE);
    assert_int_equal(mf_imap_session_appendlimit(t.s), 35882577);
    assert_int_equal(mf_imap_session_state(t.s), MF_IMAP_STATE_AUTHENTICATED);

    mf_imap_session_set_trace(t.s, trace_cb, &tr);
    submit_text(t.s, "LOGIN user secret", &r);
    run_expect(&t, MF_E_OK);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, MF_E_IMAP_NO);
    assert_null(strstr((char *)tr.lines.data, "secret"));
    assert_non_null(strstr((char *)tr.lines.data, "C: mf2 LOGIN <masked>"));

    assert_int_equal(mf_imap_session_capability(t.s), MF_E_OK);
    caps = mf_imap_session_caps(t.s);
    assert_false(caps & MF_IMAP_CAP_LITERAL_PLUS);
    assert_true(mf_imap_session_has(
        t.s, MF_IMAP_CAP_LITERAL_MINUS | MF_IMAP_CAP_ENABLE |
                 MF_IMAP_CAP_CONDSTORE | MF_IMAP_CAP_LIST_EXTENDED |
                 MF_IMAP_CAP_LIST_STATUS | MF_IMAP_CAP_UTF8_ACCEPT |
                 MF_IMAP_CAP_COMPRESS | MF_IMAP_CAP_APPENDLIMIT));
    assert_int_equal(mf_imap_session_appendlimit(t.s), 0);
    assert_non_null(
        strstr((char *)tr.lines.data, "S: * CAPABILITY IMAP4rev1 LITERAL-"));
    mf_buf_free(&tr.lines);
    finish(&t);
}

static void
test_select(void **state) {
    struct t t = {0};
    struct mf_imap_mailbox_info info;
    (void)state;

    open_s(&t, CAPS_PLUS
           "C: $1 SELECT INBOX\n"
           "S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Fwd)\n"
           "S: * OK [PERMANENTFLAGS (\\Answered \\Seen \\*)] Flags "
           "permitted.\n"
           "S: * 172 EXISTS\n"
           "S: * 1 RECENT\n"
           "S: * OK [UIDVALIDITY 3857529045] UIDs valid\n"
           "S: * OK [UIDNEXT 4392] Predicted next UID\n"
           "S: * OK [HIGHESTMODSEQ 715194045007] Highest\n"
           "S: $1 OK [READ-WRITE] Select completed.\n"
           "C: $2 EXAMINE \"Sent Items\"\n"
           "S: * 0 EXISTS\n"
           "S: * OK [UIDVALIDITY 7] x\n"
           "S: $2 OK [READ-ONLY] done\n"
           "C: $3 SELECT {5+}\n"
           "C+: Caf\xc3\xa9\\r\\n\n"
           "S: $3 NO [NONEXISTENT] Mailbox doesn't exist: Caf\xc3\xa9\n");
    assert_int_equal(mf_imap_session_select(t.s, "INBOX", false, &info),
                     MF_E_OK);
    assert_int_equal(info.exists, 172);
    assert_int_equal(info.uidvalidity, 3857529045u);
    assert_int_equal(info.uidnext, 4392);
    assert_int_equal(info.highestmodseq, 715194045007ull);
    assert_false(info.read_only);
    assert_string_equal(info.permanent_flags, "(\\Answered \\Seen \\*)");
    assert_string_equal(info.flags,
                        "(\\Answered \\Flagged \\Deleted \\Seen \\Draft $Fwd)");
    assert_int_equal(mf_imap_session_state(t.s), MF_IMAP_STATE_SELECTED);

    assert_int_equal(mf_imap_session_select(t.s, "Sent Items", true, &info),
                     MF_E_OK);
    assert_int_equal(info.exists, 0);
    assert_int_equal(info.uidvalidity, 7);
    assert_int_equal(info.uidnext, 0);
    assert_true(info.read_only);

    memset(&info, 0xaa, sizeof(info));
    assert_int_equal(mf_imap_session_select(t.s, "Caf\xc3\xa9", false, &info),
                     MF_E_MAILBOX_MISSING);
    assert_int_equal(info.exists, 0xaaaaaaaa); /* untouched on error */
    assert_string_equal(mf_imap_session_last(t.s)->resp_code, "NONEXISTENT");
    assert_non_null(
        strstr(mf_imap_session_last(t.s)->error.detail, "doesn't exist"));
    /* A failed SELECT leaves no mailbox selected; the session lives on. */
    assert_int_equal(mf_imap_session_state(t.s), MF_IMAP_STATE_AUTHENTICATED);
    finish(&t);
}

/* Ten commands, window 4: four go out, nothing more until an answer. */
static void
test_pipelining_window(void **state) {
    struct t t = {0};
    struct rec r[10] = {0};
    (void)state;

    open_opts(&t,
              CAPS_PLUS "C: $1 NOOP\nC: $2 NOOP\nC: $3 NOOP\nC: $4 NOOP\n"
                        "QUIET 200\n"
                        "S: $1 OK one\n"
                        "C: $5 NOOP\n"
                        "QUIET 100\n"
                        "S: $3 OK three, out of order\n"
                        "S: $2 OK two\n"
                        "C: $6 NOOP\nC: $7 NOOP\n"
                        "QUIET 100\n"
                        "S: $4 OK\nS: $5 OK\nS: $6 OK\nS: $7 OK\n"
                        "C: $8 NOOP\nC: $9 NOOP\nC: $10 NOOP\n"
                        "S: $8 OK\nS: $9 OK\nS: $10 OK\n",
              4, 2000, NULL);
    completion_counter = 0;
    for (int i = 0; i < 10; i++)
        submit_text(t.s, "NOOP", &r[i]);
    assert_int_equal(mf_imap_session_pending(t.s), 10);
    run_expect(&t, MF_E_OK);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].code, MF_E_OK);
    }
    assert_int_equal(r[0].order, 1);
    assert_int_equal(r[2].order, 2);
    assert_int_equal(r[1].order, 3);
    assert_int_equal(mf_imap_session_pending(t.s), 0);
    finish(&t);
}

/* Within the window everything goes out before any answer. */
static void
test_pipelining_all_first(void **state) {
    struct t t = {0};
    struct rec r[10] = {0};
    struct mf_buf script = {0};
    uint32_t ids[10];
    (void)state;

    mf_buf_append_str(&script, CAPS_PLUS);
    for (int i = 1; i <= 10; i++)
        mf_buf_appendf(&script, "C: $%d UID FETCH %d (FLAGS)\n", i, i);
    for (int i = 1; i <= 10; i++)
        mf_buf_appendf(&script, "S: * %d FETCH (UID %d FLAGS ())\nS: $%d OK\n",
                       i, i, i);
    open_opts(&t, (char *)script.data, 16, 2000, NULL);
    for (int i = 0; i < 10; i++) {
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "UID FETCH %d (FLAGS)", i + 1);
        ids[i] = submit_text(t.s, cmd, &r[i]);
    }
    /* Waiting for the fifth completes the first five only. */
    assert_int_equal(mf_imap_session_wait(t.s, ids[4], -1), MF_E_OK);
    assert_int_equal(r[4].calls, 1);
    run_expect(&t, MF_E_OK);
    for (int i = 0; i < 10; i++)
        assert_int_equal(r[i].calls, 1);
    mf_buf_free(&script);
    finish(&t);
}

/* {n}: nothing after the header until "+"; the next command waits too. */
static void
test_sync_literal(void **state) {
    struct t t = {0};
    struct rec r1 = {0}, r2 = {0}, r3 = {0};
    (void)state;

    open_s(&t, CAPS_SYNC "C: $1 APPEND INBOX (\\Seen) {5}\n"
                         "QUIET 200\n"
                         "S: + Ready for literal data\n"
                         "C+: hello\\r\\n\n"
                         "C: $2 NOOP\n"
                         "C: $3 APPEND INBOX (\\Seen) {3}\n"
                         "QUIET 100\n"
                         "S: $1 OK [APPENDUID 1 7] done\n"
                         "S: $2 OK\n"
                         "S: $3 NO [TOOBIG] too big, no \"+\" for you\n");
    submit_append(t.s, "hello", &r1);
    submit_text(t.s, "NOOP", &r2);
    submit_append(t.s, "abc", &r3);
    run_expect(&t, MF_E_OK);
    assert_int_equal(r1.calls, 1);
    assert_int_equal(r1.code, MF_E_OK);
    assert_string_equal(r1.resp_code, "APPENDUID");
    assert_int_equal(r2.code, MF_E_OK);
    assert_int_equal(r3.calls, 1);
    assert_int_equal(r3.code, MF_E_MESSAGE_TOO_LARGE);
    /* The refused literal was never sent and the session goes on. */
    assert_int_equal(mf_imap_session_state(t.s), MF_IMAP_STATE_AUTHENTICATED);
    finish(&t);
}

/* {n+}: everything goes out without waiting. */
static void
test_literal_plus(void **state) {
    struct t t = {0};
    struct rec r[3] = {0};
    (void)state;

    open_s(&t, CAPS_PLUS "C: $1 APPEND INBOX (\\Seen) {5+}\n"
                         "C+: hello\\r\\n\n"
                         "C: $2 APPEND INBOX (\\Seen) {0+}\n"
                         "C: \n"
                         "C: $3 APPEND INBOX (\\Seen) {3+}\n"
                         "C+: a\\r\\n\\r\\n\n"
                         "S: $1 OK\nS: $2 OK\nS: $3 OK\n");
    submit_append(t.s, "hello", &r[0]);
    submit_append(t.s, "", &r[1]);
    submit_append(t.s, "a\r\n", &r[2]);
    run_expect(&t, MF_E_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r[i].code, MF_E_OK);
    finish(&t);
}

/* LITERAL-: {n+} up to 4096 bytes, {n} above. */
static void
test_literal_minus(void **state) {
    struct t t = {0};
    struct rec r1 = {0}, r2 = {0};
    char *small = mf_xmalloc(4097), *big = mf_xmalloc(4098);
    (void)state;

    memset(small, 'a', 4096), small[4096] = '\0';
    memset(big, 'b', 4097), big[4097] = '\0';
    open_s(&t, CAPS_MINUS "C: $1 APPEND INBOX (\\Seen) {4096+}\n"
                          "C*: 4096 a\n"
                          "C: \n"
                          "C: $2 APPEND INBOX (\\Seen) {4097}\n"
                          "QUIET 100\n"
                          "S: + go\n"
                          "C*: 4097 b\n"
                          "C: \n"
                          "S: $1 OK\nS: $2 OK\n");
    submit_append(t.s, small, &r1);
    submit_append(t.s, big, &r2);
    run_expect(&t, MF_E_OK);
    assert_int_equal(r1.code, MF_E_OK);
    assert_int_equal(r2.code, MF_E_OK);
    free(small), free(big);
    finish(&t);
}

/* A body source streams a big literal in bounded pieces. */
struct src {
    uint64_t size, left;
    size_t max_read;
    size_t max_give; /* short reads: at most this much per call (0: cap) */
    int released;
};

static mf_err
src_read(void *ud, uint8_t *buf, size_t cap, size_t *n_r) {
    struct src *s = ud;
    size_t n = cap < s->left ? cap : (size_t)s->left;
    if (s->max_give && n > s->max_give)
        n = s->max_give; /* short reads are fine */
    for (size_t i = 0; i < n; i++)
        buf[i] = "xyz"[(size_t)((s->size - s->left + i) % 3)];
    s->left -= n;
    if (cap > s->max_read)
        s->max_read = cap;
    *n_r = n;
    return MF_E_OK;
}

static void
src_release(void *ud) {
    ((struct src *)ud)->released++;
}

static void
test_body_source(void **state) {
    struct t t = {0};
    struct rec r = {0};
    struct src src = {.size = 300000, .left = 300000, .max_give = 1000};
    struct mf_imap_body_source bs = {
        .size = 300000, .read = src_read, .release = src_release, .ud = &src};
    struct mf_imap_cmd_spec c = {0};
    (void)state;

    open_s(&t, CAPS_SYNC "C: $1 APPEND INBOX {300000}\n"
                         "S: + go\n"
                         "C*: 300000 xyz\n"
                         "C: \n"
                         "S: $1 OK [APPENDUID 9 1] done\n");
    mf_imap_cmd_text(&c, "APPEND INBOX ");
    mf_imap_cmd_source(&c, &bs);
    assert_int_equal(mf_imap_session_submit(t.s, &c, rec_done, &r, NULL),
                     MF_E_OK);
    mf_imap_cmd_clear(&c);
    run_expect(&t, MF_E_OK);
    assert_int_equal(r.code, MF_E_OK);
    assert_int_equal(src.left, 0);
    assert_int_equal(src.released, 1);
    assert_true(src.max_read <= 64 * 1024);
    finish(&t);
}

/* A NO before the literal is all sent (Dovecot answers [OVERQUOTA] to an
 * APPEND with LITERAL+ at once): the callback runs then, its owner frees
 * the body source there, so the session must never read the source again;
 * the rest of the literal still goes out (the server reads and discards
 * it), as filler. A NOOP behind it is answered as usual. */
struct early {
    int reads_after_done;
    bool done;
    mf_err code;
};

static mf_err
early_read(void *ud, uint8_t *buf, size_t cap, size_t *n_r) {
    struct early *e = ud;
    size_t n = cap < 1000 ? cap : 1000;

    if (e->done)
        e->reads_after_done++;
    memset(buf, ' ', n);
    *n_r = n;
    return MF_E_OK;
}

static void
early_done(void *ud, const struct mf_imap_result *res) {
    struct early *e = ud;
    e->done = true;
    e->code = res->error.code;
}

static void
test_no_before_literal_end(void **state) {
    struct t t = {0};
    struct early e = {0};
    struct rec r = {0};
    struct mf_imap_body_source bs = {
        .size = 4000000, .read = early_read, .ud = &e};
    struct mf_imap_cmd_spec c = {0};
    (void)state;

    open_s(&t, CAPS_PLUS "C: $1 APPEND INBOX {4000000+}\n"
                         "S: $1 NO [OVERQUOTA] Quota exceeded\n"
                         "SLEEP 100\n"
                         "C*: 4000000 \\x20\n"
                         "C: \n"
                         "C: $2 NOOP\n"
                         "S: $2 OK\n");
    mf_imap_cmd_text(&c, "APPEND INBOX ");
    mf_imap_cmd_source(&c, &bs);
    assert_int_equal(mf_imap_session_submit(t.s, &c, early_done, &e, NULL),
                     MF_E_OK);
    mf_imap_cmd_clear(&c);
    submit_text(t.s, "NOOP", &r);
    run_expect(&t, MF_E_OK);
    assert_true(e.done);
    assert_int_equal(e.code, MF_E_OVERQUOTA);
    assert_int_equal(e.reads_after_done, 0);
    assert_int_equal(r.code, MF_E_OK);
    finish(&t);
}

/* The deadlock a blocking send would have: the server writes 4 MB of
 * FETCH answers and reads nothing until it is done, while we send a 4 MB
 * APPEND literal (LITERAL+, from a body source) pipelined behind the
 * FETCH. Neither socket buffer holds that much, so both sides would wait
 * for each other forever; the session must read while it writes. */
#define DL_FETCHES 64
#define DL_LITERAL (64 * 1024)
#define DL_APPEND (4 * 1024 * 1024)

struct fetch_sum {
    int count;
    uint64_t bytes;
    int bad;
};

static mf_err
sum_fetch(void *ud, const struct mf_imap_response *r) {
    struct fetch_sum *fs = ud;
    const struct mf_imap_arg *items, *v;
    const uint8_t *body;
    size_t n, blen;

    fs->count++;
    if (r->nargs != 1 || !mf_imap_arg_as_list(&r->args[0], &items, &n) ||
        !(v = mf_imap_args_find(items, n, "BODY[]")) ||
        !mf_imap_arg_as_string(v, &body, &blen)) {
        fs->bad++;
        return MF_E_OK;
    }
    for (size_t i = 0; i < blen; i++)
        if (body[i] != "0123456789abcdef"[i % 16]) {
            fs->bad++;
            break;
        }
    fs->bytes += blen;
    return MF_E_OK;
}

static void
test_no_deadlock(void **state) {
    struct t t = {0};
    struct rec r1 = {0}, r2 = {0};
    struct fetch_sum fs = {0};
    struct src src = {.size = DL_APPEND, .left = DL_APPEND};
    struct mf_imap_body_source bs = {.size = DL_APPEND,
                                     .read = src_read,
                                     .release = src_release,
                                     .ud = &src};
    struct mf_imap_cmd_spec c = {0};
    struct mf_buf script = {0};
    (void)state;

    mf_buf_append_str(&script, CAPS_PLUS "TIMEOUT 20000\n"
                                         "C: $1 UID FETCH 1:* (BODY.PEEK[])\n");
    for (int i = 1; i <= DL_FETCHES; i++)
        mf_buf_appendf(&script,
                       "S+: * %d FETCH (UID %d BODY[] {%d}\\r\\n\n"
                       "S*: %d 0123456789abcdef\n"
                       "S: )\n",
                       i, i, DL_LITERAL, DL_LITERAL);
    mf_buf_appendf(&script,
                   "S: $1 OK Fetch completed.\n"
                   "C: $2 APPEND INBOX {%d+}\n"
                   "C*: %d xyz\n"
                   "C: \n"
                   "S: $2 OK [APPENDUID 1 1] Append completed.\n",
                   DL_APPEND, DL_APPEND);
    open_opts(&t, (char *)script.data, 0, 10000, NULL);
    mf_imap_session_on_untagged(t.s, "FETCH", sum_fetch, &fs);
    submit_text(t.s, "UID FETCH 1:* (BODY.PEEK[])", &r1);
    mf_imap_cmd_text(&c, "APPEND INBOX ");
    mf_imap_cmd_source(&c, &bs);
    assert_int_equal(mf_imap_session_submit(t.s, &c, rec_done, &r2, NULL),
                     MF_E_OK);
    mf_imap_cmd_clear(&c);
    run_expect(&t, MF_E_OK);
    assert_int_equal(r1.code, MF_E_OK);
    assert_int_equal(r2.code, MF_E_OK);
    assert_string_equal(r2.resp_code, "APPENDUID");
    assert_int_equal(fs.count, DL_FETCHES);
    assert_int_equal(fs.bad, 0);
    assert_int_equal(fs.bytes, (uint64_t)DL_FETCHES * DL_LITERAL);
    /* The source was read in bounded pieces as the socket drained. */
    assert_int_equal(src.left, 0);
    assert_int_equal(src.released, 1);
    assert_true(src.max_read <= 64 * 1024);
    mf_buf_free(&script);
    finish(&t);
}

/* The connection's non-blocking primitives over a socketpair: a receive
 * that may have left data behind makes wait() report readable without
 * polling; a full socket makes send_some() take nothing and wait() time
 * out, until the peer reads. */
static void
test_conn_nonblocking(void **state) {
    struct mf_error err = {0};
    struct mf_imap_conn *c;
    uint8_t buf[8], big[65536];
    bool rd = false, wr = false;
    size_t n = 0, total = 0;
    int sv[2];
    (void)state;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    c = mf__imap_conn_from_fd(sv[0], 500);
    assert_int_equal(write(sv[1], "0123456789", 10), 10);
    assert_int_equal(mf__imap_conn_recv_some(c, buf, 4, &n, &err), MF_E_OK);
    assert_int_equal(n, 4);
    /* Not drained: readable at once. */
    assert_int_equal(mf__imap_conn_wait(c, true, false, 0, &rd, &wr, &err),
                     MF_E_OK);
    assert_true(rd);
    assert_false(wr);
    assert_int_equal(mf__imap_conn_recv_some(c, buf, sizeof(buf), &n, &err),
                     MF_E_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "456789", 6);
    assert_int_equal(mf__imap_conn_recv_some(c, buf, sizeof(buf), &n, &err),
                     MF_E_OK);
    assert_int_equal(n, 0);
    /* Drained: the wait polls, and nothing comes. */
    assert_int_equal(mf__imap_conn_wait(c, true, false, 50, &rd, &wr, &err),
                     MF_E_TIMEOUT);
    /* Both ways: writable, not readable. */
    rd = wr = false;
    assert_int_equal(mf__imap_conn_wait(c, true, true, 50, &rd, &wr, &err),
                     MF_E_OK);
    assert_false(rd);
    assert_true(wr);
    /* Fill the socket: send_some takes nothing, never blocks. */
    memset(big, 'z', sizeof(big));
    for (;;) {
        assert_int_equal(mf__imap_conn_send_some(c, big, sizeof(big), &n, &err),
                         MF_E_OK);
        if (n == 0)
            break;
        total += n;
        assert_true(total < (size_t)64 * 1024 * 1024);
    }
    assert_int_equal(mf__imap_conn_wait(c, false, true, 50, &rd, &wr, &err),
                     MF_E_TIMEOUT);
    /* The blocking send times out the same way. */
    assert_int_equal(mf__imap_conn_send(c, big, sizeof(big), &err),
                     MF_E_TIMEOUT);
    /* The peer reads everything: room again. */
    for (;;) {
        ssize_t k = recv(sv[1], big, sizeof(big), MSG_DONTWAIT);
        if (k <= 0)
            break;
        assert_true((size_t)k <= total);
        total -= (size_t)k;
    }
    assert_int_equal(total, 0);
    assert_int_equal(mf__imap_conn_wait(c, false, true, 1000, &rd, &wr, &err),
                     MF_E_OK);
    assert_true(wr);
    /* The peer hangs up: readable, and the receive says so. */
    close(sv[1]);
    assert_int_equal(mf__imap_conn_wait(c, true, false, 1000, &rd, &wr, &err),
                     MF_E_OK);
    assert_true(rd);
    assert_int_equal(mf__imap_conn_recv_some(c, buf, sizeof(buf), &n, &err),
                     MF_E_DISCONNECTED);
    mf__imap_conn_free(&c);
    assert_null(c);
}

/* BYE while an APPEND waits for "+", more commands queued behind: each
 * callback runs once with the BYE's error. */
static void
test_bye_pending(void **state) {
    struct t t = {0};
    struct rec r[4] = {0};
    (void)state;

    open_s(&t, CAPS_SYNC "C: $1 NOOP\n"
                         "C: $2 APPEND INBOX (\\Seen) {5}\n"
                         "S: $1 OK\n"
                         "S: * BYE Server shutting down\n"
                         "CLOSE\n");
    submit_text(t.s, "NOOP", &r[0]);
    submit_append(t.s, "hello", &r[1]);
    submit_text(t.s, "NOOP", &r[2]);
    submit_text(t.s, "NOOP", &r[3]);
    run_expect(&t, MF_E_IMAP_BYE);
    assert_int_equal(r[0].code, MF_E_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(r[i].calls, 1);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(r[i].code, MF_E_IMAP_BYE);
        assert_non_null(strstr(r[i].detail, "Server shutting down"));
    }
    assert_int_equal(mf_imap_session_state(t.s), MF_IMAP_STATE_BROKEN);
    /* Submitting now fails and the callback never runs. */
    struct rec late = {0};
    struct mf_imap_cmd_spec c = {0};
    mf_imap_cmd_text(&c, "NOOP");
    assert_int_equal(mf_imap_session_submit(t.s, &c, rec_done, &late, NULL),
                     MF_E_IMAP_BYE);
    mf_imap_cmd_clear(&c);
    assert_int_equal(late.calls, 0);
    finish(&t);
}

/* The server dies in the middle of a FETCH literal. */
static mf_err
count_fetch(void *ud, const struct mf_imap_response *r) {
    (void)r;
    (*(int *)ud)++;
    return MF_E_OK;
}

static void
test_disconnect_mid_literal(void **state) {
    struct t t = {0};
    struct rec r[3] = {0};
    int fetches = 0;
    (void)state;

    open_s(&t, CAPS_PLUS "C: $1 UID FETCH 1:* (UID BODY.PEEK[])\n"
                         "C: $2 NOOP\n"
                         "C: $3 NOOP\n"
                         "S: * 1 FETCH (UID 5 BODY[] {11}\\r\\nhello wo\n"
                         "CLOSE\n");
    mf_imap_session_on_untagged(t.s, "FETCH", count_fetch, &fetches);
    submit_text(t.s, "UID FETCH 1:* (UID BODY.PEEK[])", &r[0]);
    submit_text(t.s, "NOOP", &r[1]);
    submit_text(t.s, "NOOP", &r[2]);
    run_expect(&t, MF_E_DISCONNECTED);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].code, MF_E_DISCONNECTED);
    }
    assert_int_equal(fetches, 0);
    assert_non_null(
        strstr(mf_imap_session_error(t.s)->detail, "middle of a response"));
    finish(&t);
}

/* push/pop: a handler pushed over another is the one called until its
 * pop, which puts the other back; pushed over none, its pop removes it.
 * Each NOOP's answer carries one FETCH, counted by whichever is in. */
static void
test_untagged_push_pop(void **state) {
    struct t t = {0};
    struct rec r = {0};
    struct mf_imap_untagged_prev p1, p2;
    int outer = 0, inner = 0, other = 0;
    (void)state;

    open_s(&t, CAPS_PLUS "C: $1 NOOP\n"
                         "S: * 1 FETCH (FLAGS ())\n"
                         "S: $1 OK\n"
                         "C: $2 NOOP\n"
                         "S: * 1 FETCH (FLAGS ())\n"
                         "S: $2 OK\n"
                         "C: $3 NOOP\n"
                         "S: * 1 FETCH (FLAGS ())\n"
                         "S: * 2 EXPUNGE\n"
                         "S: $3 OK\n"
                         "C: $4 NOOP\n"
                         "S: * 1 EXPUNGE\n"
                         "S: $4 OK\n");
    mf_imap_session_on_untagged(t.s, "FETCH", count_fetch, &outer);
    mf_imap_session_push_untagged(t.s, "FETCH", count_fetch, &inner, &p1);
    mf_imap_session_push_untagged(t.s, "EXPUNGE", count_fetch, &other, &p2);
    submit_text(t.s, "NOOP", &r);
    run_expect(&t, MF_E_OK);
    assert_int_equal(inner, 1);
    mf_imap_session_pop_untagged(t.s, &p1);
    submit_text(t.s, "NOOP", &r);
    run_expect(&t, MF_E_OK);
    assert_int_equal(outer, 1); /* the one pushed over is back */
    assert_int_equal(inner, 1);
    submit_text(t.s, "NOOP", &r);
    run_expect(&t, MF_E_OK);
    assert_int_equal(outer, 2);
    assert_int_equal(other, 1);
    mf_imap_session_pop_untagged(t.s, &p2); /* there was none: removed */
    submit_text(t.s, "NOOP", &r);
    run_expect(&t, MF_E_OK);
    assert_int_equal(other, 1);
    finish(&t);
}

static void
test_throttled_retry_after(void **state) {
    struct t t = {0};
    struct rec r = {0}, r2 = {0};
    (void)state;

    open_s(&t, CAPS_PLUS "C: $1 SELECT INBOX\n"
                         "S: $1 NO [UNAVAILABLE] Server busy, try again in "
                         "30 seconds\n"
                         "C: $2 NOOP\n"
                         "S: $2 OK\n");
    submit_text(t.s, "SELECT INBOX", &r);
    submit_text(t.s, "NOOP", &r2);
    run_expect(&t, MF_E_OK);
    assert_int_equal(r.code, MF_E_THROTTLED);
    assert_int_equal(r.status, MF_IMAP_STATUS_NO);
    assert_int_equal(r.retry_after_ms, 30000);
    assert_string_equal(r.resp_code, "UNAVAILABLE");
    assert_string_equal(
        r.detail, "NO [UNAVAILABLE] Server busy, try again in 30 seconds");
    /* RETRY class: the session is not broken. */
    assert_int_equal(r2.code, MF_E_OK);
    finish(&t);
}

/* Dovecot's mail_max_userip_connections answer comes right after login. */
static void
test_dovecot_max_connections(void **state) {
    struct mf_error err = {0};
    struct mf_imap_session *s = NULL;
    uint32_t retry = 99;
    int fd;
    (void)state;

    struct mf_fakeimap *f = mf_fakeimap_start(
        "C: $0 CAPABILITY\n"
        "S: * BYE Maximum number of connections from user+IP exceeded "
        "(mail_max_userip_connections=20)\n"
        "CLOSE\n",
        &fd);
    mf_err rc = mf_imap_session_new_on_conn(mf__imap_conn_from_fd(fd, 2000),
                                            NULL, &s, &err, &retry);
    assert_int_equal(rc, MF_E_TOO_MANY_CONNECTIONS);
    assert_null(s);
    assert_int_equal(retry, 0);
    assert_non_null(strstr(err.detail, "mail_max_userip_connections=20"));
    assert_null(mf_fakeimap_finish(f));
    mf_fakeimap_free(&f);
}

/* Hostile servers: every case ends in a clean error, fast. */
static void
hostile(const char *server_part, mf_err want, size_t max_line) {
    struct t t = {0};
    struct rec r = {0};
    struct mf_imap_parser_limits lim;
    char script[1024];

    mf_imap_parser_limits_init(&lim);
    if (max_line)
        lim.max_line = max_line;
    snprintf(script, sizeof(script), CAPS_PLUS "C: $1 NOOP\n%s", server_part);
    open_opts(&t, script, 0, 1000, &lim);
    submit_text(t.s, "NOOP", &r);
    assert_int_equal(mf_imap_session_run(t.s, -1), want);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, want);
    assert_int_equal(mf_imap_session_state(t.s), MF_IMAP_STATE_BROKEN);
    finish(&t);
}

static void
test_hostile(void **state) {
    (void)state;
    /* A literal of 2^40 bytes. */
    hostile("S: * 1 FETCH (BODY[] {1099511627776}\n", MF_E_IMAP_LITERAL_TOO_BIG,
            0);
    /* An endless line. */
    hostile("FILL 2000000 x\n", MF_E_IMAP_LINE_TOO_LONG, 0);
    hostile("S+: * 1 FETCH \nFILL 100 (\nS: \n", MF_E_IMAP_NESTING, 0);
    /* Garbage, NUL bytes, bare LF. */
    hostile("S: )))(((\n", MF_E_IMAP_PARSE, 0);
    hostile("S+: * OK \\x00\\r\\n\n", MF_E_IMAP_PARSE, 0);
    hostile("S+: * OK bare\\nLF\\r\\n\n", MF_E_IMAP_PARSE, 0);
    /* Protocol violations the parser accepts. */
    hostile("S: mf999 OK who?\n", MF_E_IMAP_UNEXPECTED, 0);
    hostile("S: + nobody asked\n", MF_E_IMAP_UNEXPECTED, 0);
}

static void
test_timeout(void **state) {
    struct t t = {0};
    struct rec r = {0};
    (void)state;

    open_opts(&t, CAPS_PLUS "C: $1 NOOP\nS: * 1 EXISTS\n", 0, 300, NULL);
    submit_text(t.s, "NOOP", &r);
    run_expect(&t, MF_E_TIMEOUT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, MF_E_TIMEOUT);
    assert_int_equal(mf_imap_session_state(t.s), MF_IMAP_STATE_BROKEN);
    finish(&t);
}

static void
test_free_cancels(void **state) {
    struct t t = {0};
    struct rec r[2] = {0};
    (void)state;

    open_s(&t, CAPS_PLUS);
    submit_text(t.s, "NOOP", &r[0]);
    submit_text(t.s, "NOOP", &r[1]);
    finish(&t); /* nothing was sent: the fake sees no more bytes */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].code, MF_E_CANCELLED);
    }
}

/* Untagged handlers, streamed literals, LIST, CREATE, LOGOUT. */
struct sink {
    struct mf_buf data;
    char item[32];
    uint32_t number;
    int ends;
};

static mf_err
sink_begin(void *ud, const struct mf_imap_literal_info *info) {
    struct sink *k = ud;
    snprintf(k->item, sizeof(k->item), "%s", info->item ? info->item : "");
    k->number = info->number;
    return MF_E_OK;
}

static mf_err
sink_data(void *ud, const uint8_t *p, size_t n) {
    mf_buf_append(&((struct sink *)ud)->data, p, n);
    return MF_E_OK;
}

static mf_err
sink_end(void *ud) {
    ((struct sink *)ud)->ends++;
    return MF_E_OK;
}

struct listed {
    struct mf_buf names;
    uint32_t attrs_sent;
};

static mf_err
on_entry(void *ud, const struct mf_imap_list_entry *e) {
    struct listed *l = ud;
    mf_buf_appendf(&l->names, "%c%.*s;", e->delimiter ? e->delimiter : '0',
                   (int)e->name_len, (const char *)e->name);
    if (e->name_len == 4 && memcmp(e->name, "Sent", 4) == 0)
        for (size_t i = 0; i < e->nraw; i++) {
            const char *a;
            if (mf_imap_arg_as_astring(&e->raw[i], &a))
                l->attrs_sent |= mf_folder_attr_parse(a, strlen(a));
        }
    return MF_E_OK;
}

static void
test_handlers_and_helpers(void **state) {
    struct t t = {0};
    struct rec r = {0};
    struct sink k = {0};
    struct listed l = {0};
    int fetches = 0, exists = 0;
    struct mf_imap_parser_limits lim;
    (void)state;

    mf_imap_parser_limits_init(&lim);
    lim.stream_threshold = 8;
    open_opts(&t,
              CAPS_PLUS "C: $1 UID FETCH 7 (BODY.PEEK[])\n"
                        "S: * 3 EXISTS\n"
                        "S: * 2 FETCH (UID 7 BODY[] {20}\\r\\n0123456789"
                        "abcdefghij)\n"
                        "S: $1 OK done\n"
                        "C: $2 LIST \"\" *\n"
                        "S: * LIST (\\HasNoChildren) \"/\" INBOX\n"
                        "S: * LIST (\\HasNoChildren \\Sent) \"/\" Sent\n"
                        "S: * LIST (\\Noselect) NIL {3}\\r\\na b\n"
                        "S: $2 OK done\n"
                        "C: $3 CREATE \"New Folder\"\n"
                        "S: $3 NO [ALREADYEXISTS] exists\n"
                        "C: $4 SUBSCRIBE INBOX\n"
                        "S: $4 OK\n"
                        "C: $5 NOOP\n"
                        "S: $5 BAD [CLIENTBUG] huh\n"
                        "C: $6 LOGOUT\n"
                        "S: * BYE Logging out\n"
                        "S: $6 OK Logout completed.\n"
                        "CLOSE\n",
              0, 2000, &lim);
    mf_imap_session_on_untagged(t.s, "FETCH", count_fetch, &fetches);
    mf_imap_session_on_untagged(t.s, "EXISTS", count_fetch, &exists);
    mf_imap_session_set_literal_sink(t.s, sink_begin, sink_data, sink_end, &k);
    submit_text(t.s, "UID FETCH 7 (BODY.PEEK[])", &r);
    run_expect(&t, MF_E_OK);
    assert_int_equal(r.code, MF_E_OK);
    assert_int_equal(fetches, 1);
    assert_int_equal(exists, 1);
    assert_int_equal(k.ends, 1);
    assert_int_equal(k.number, 2);
    assert_string_equal(k.item, "BODY[]");
    assert_int_equal(k.data.len, 20);
    assert_memory_equal(k.data.data, "0123456789abcdefghij", 20);

    assert_int_equal(
        mf_imap_session_list(t.s, "", "*", "SPECIAL-USE", on_entry, &l),
        MF_E_OK);
    assert_string_equal((char *)l.names.data, "/INBOX;/Sent;0a b;");
    assert_int_equal(l.attrs_sent,
                     MF_FOLDER_ATTR_HASNOCHILDREN | MF_FOLDER_ATTR_SENT);
    assert_int_equal(mf_imap_session_create(t.s, "New Folder"), MF_E_EXISTS);
    assert_int_equal(mf_imap_session_subscribe(t.s, "INBOX"), MF_E_OK);
    assert_int_equal(mf_imap_session_noop(t.s), MF_E_IMAP_BAD);
    assert_int_equal(mf_imap_session_logout(t.s), MF_E_OK);
    assert_int_equal(mf_imap_session_state(t.s), MF_IMAP_STATE_LOGOUT);
    mf_buf_free(&k.data);
    mf_buf_free(&l.names);
    finish(&t);
}

/* The status table and the backoff parser, without a server. */
static void
test_status_mapping(void **state) {
    (void)state;
    static const struct {
        enum mf_imap_status st;
        const char *code;
        const char *text;
        mf_err want;
        uint32_t retry;
    } v[] = {
        {MF_IMAP_STATUS_OK, NULL, "done", MF_E_OK, 0},
        {MF_IMAP_STATUS_NO, "TRYCREATE", "no such mailbox",
         MF_E_MAILBOX_MISSING, 0},
        {MF_IMAP_STATUS_NO, "NONEXISTENT", "x", MF_E_MAILBOX_MISSING, 0},
        {MF_IMAP_STATUS_NO, "AUTHENTICATIONFAILED", "x", MF_E_AUTH, 0},
        {MF_IMAP_STATUS_NO, "UNAVAILABLE", "try again in 30 seconds",
         MF_E_THROTTLED, 30000},
        {MF_IMAP_STATUS_NO, "THROTTLED", "Retry after 2 minutes",
         MF_E_THROTTLED, 120000},
        {MF_IMAP_STATUS_NO, "LIMIT", "Account exceeded command limits",
         MF_E_THROTTLED, 0},
        {MF_IMAP_STATUS_NO, "OVERQUOTA", "Quota exceeded", MF_E_OVERQUOTA, 0},
        {MF_IMAP_STATUS_NO, "ALERT", "Too many simultaneous connections.",
         MF_E_TOO_MANY_CONNECTIONS, 0},
        {MF_IMAP_STATUS_NO, NULL, "Too many commands, please wait 10s",
         MF_E_THROTTLED, 10000},
        /* Cyrus IMAP 3.6: refusals of what the folder or the message
         * holds, not throttling (issue 13). */
        {MF_IMAP_STATUS_NO, NULL, "Too many user flags in mailbox",
         MF_E_IMAP_NO, 0},
        {MF_IMAP_STATUS_NO, NULL, "Too many identical emails", MF_E_IMAP_NO, 0},
        {MF_IMAP_STATUS_NO, NULL, "Too many open connections (user)",
         MF_E_TOO_MANY_CONNECTIONS, 0},
        {MF_IMAP_STATUS_NO, NULL, "Mailbox is locked", MF_E_IMAP_NO, 0},
        {MF_IMAP_STATUS_NO, NULL,
         "Mailbox doesn't exist: x (0.001 + 0.000 secs).", MF_E_MAILBOX_MISSING,
         0},
        {MF_IMAP_STATUS_NO, NULL, "in 5 seconds the world ends", MF_E_IMAP_NO,
         0},
        {MF_IMAP_STATUS_BAD, NULL, "Error in IMAP command", MF_E_IMAP_BAD, 0},
        {MF_IMAP_STATUS_BYE, NULL, "Disconnected for inactivity.",
         MF_E_IMAP_BYE, 0},
        {MF_IMAP_STATUS_BYE, NULL,
         "Maximum number of connections from user+IP exceeded "
         "(mail_max_userip_connections=10)",
         MF_E_TOO_MANY_CONNECTIONS, 0},
        {MF_IMAP_STATUS_BYE, "UNAVAILABLE", "back later, try again in 1 hour",
         MF_E_THROTTLED, 3600000},
        {MF_IMAP_STATUS_NO, "UNAVAILABLE", "retry in 99999999999 seconds",
         MF_E_THROTTLED, 86400000},
        /* Exchange Online (issue 13), as NO and as BAD. */
        {MF_IMAP_STATUS_NO, NULL,
         "Request is throttled. Suggested Backoff Time: 2000 milliseconds",
         MF_E_THROTTLED, 2000},
        {MF_IMAP_STATUS_BAD, NULL,
         "Request is throttled. Suggested Backoff Time: 178755 milliseconds",
         MF_E_THROTTLED, 178755},
        {MF_IMAP_STATUS_BAD, NULL, "Command Argument Error. 11", MF_E_IMAP_BAD,
         0},
        /* Gmail. */
        {MF_IMAP_STATUS_NO, "THROTTLED",
         "Account exceeded command or bandwidth limits. (Failure)",
         MF_E_THROTTLED, 0},
        {MF_IMAP_STATUS_NO, "ALERT",
         "Account exceeded command or bandwidth limits. (Failure)",
         MF_E_THROTTLED, 0},
        /* Gmail's daily bandwidth quota used up (reported by its users on
         * FETCH: "[OVERQUOTA] Account exceeded command or bandwidth
         * limits."): waits for the next window, not a full target. */
        {MF_IMAP_STATUS_NO, "OVERQUOTA",
         "Account exceeded command or bandwidth limits.", MF_E_BANDWIDTH_QUOTA,
         0},
        {MF_IMAP_STATUS_NO, "OVERQUOTA",
         "Quota exceeded (mailbox for user is "
         "full)",
         MF_E_OVERQUOTA, 0},
        /* The same quota as Gmail ends a FETCH session with it (mbsync's
         * users: "unexpected BYE response: [OVERQUOTA] Account exceeded
         * command or bandwidth limits."); other BYEs with that code are
         * not the quota. */
        {MF_IMAP_STATUS_BYE, "OVERQUOTA",
         "Account exceeded command or bandwidth limits.", MF_E_BANDWIDTH_QUOTA,
         0},
        {MF_IMAP_STATUS_BYE, "OVERQUOTA", "Mailbox is full", MF_E_IMAP_BYE, 0},
    };
    for (size_t i = 0; i < MF_ARRAY_LEN(v); i++) {
        struct mf_imap_response r = {0};
        struct mf_imap_result res;
        r.kind = MF_IMAP_RESP_TAGGED;
        r.tag = "mf1";
        r.status = v[i].st;
        r.code.name = v[i].code;
        r.code.raw = "";
        r.text = v[i].text;
        r.text_len = strlen(v[i].text);
        mf_err got = mf_imap_status_to_error(&r, &res);
        if (got != v[i].want || res.retry_after_ms != v[i].retry)
            fail_msg("vector %zu (%s): got %s/%u, want %s/%u", i, v[i].text,
                     mf_err_name(got), res.retry_after_ms,
                     mf_err_name(v[i].want), v[i].retry);
        assert_int_equal(res.error.code, got);
        assert_non_null(strstr(res.error.detail, v[i].text));
    }
    assert_int_equal(mf_imap_parse_retry_after("wait 250ms", 10), 250);
    assert_int_equal(mf_imap_parse_retry_after("try later: 3 min", 16), 180000);
    assert_int_equal(mf_imap_parse_retry_after("try again", 9), 0);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capabilities),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_pipelining_window),
        cmocka_unit_test(test_pipelining_all_first),
        cmocka_unit_test(test_sync_literal),
        cmocka_unit_test(test_literal_plus),
        cmocka_unit_test(test_literal_minus),
        cmocka_unit_test(test_body_source),
        cmocka_unit_test(test_no_before_literal_end),
        cmocka_unit_test(test_no_deadlock),
        cmocka_unit_test(test_conn_nonblocking),
        cmocka_unit_test(test_bye_pending),
        cmocka_unit_test(test_disconnect_mid_literal),
        cmocka_unit_test(test_throttled_retry_after),
        cmocka_unit_test(test_untagged_push_pop),
        cmocka_unit_test(test_dovecot_max_connections),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_free_cancels),
        cmocka_unit_test(test_handlers_and_helpers),
        cmocka_unit_test(test_status_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
