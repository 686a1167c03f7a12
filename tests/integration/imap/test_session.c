/*
 * The IMAP session against the real Dovecot pair (fixture "dovecot"):
 * CAPABILITY, LIST, CREATE, SELECT, a pipelined APPEND of 20 small
 * messages with flags and INTERNALDATE (checked through APPENDUID), a
 * 1 MB APPEND from a body source, and UID FETCH of everything back, the
 * big body through the streaming literal sink; all of it over plain IMAP
 * and over TLS (imaps). Then big streams crossing: 16 MB of FETCH answers
 * while a 4 MB APPEND goes out on the same connection (Dovecot stops
 * reading while its output is blocked, so a session that does not read
 * while it writes would deadlock), again plain and TLS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "imap/session_int.h"
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NMSG 20
#define BIG_SIZE (1024 * 1024)

static void
stderr_trace(void *ud, bool sent, const char *line, size_t len) {
    (void)ud;
    fprintf(stderr, "%s %.*s\n", sent ? "C:" : "S:", (int)len, line);
}

static struct mf_imap_session *
open_target(bool tls) {
    struct mf_imap_conn_options o;
    struct mf_imap_login login = {.user = "user07@example.test",
                                  .password = "pw-user07"};
    struct mf_imap_session_options so = {.window = 8, .timeout_ms = 10000};
    struct mf_imap_session *s = NULL;
    struct mf_error err = {0};
    char *port =
        mf_itest_dovecot(tls ? "TARGET_IMAPS_PORT" : "TARGET_IMAP_PORT");
    char *ca = tls ? mf_itest_dovecot("CA_FILE") : NULL;
    char *url = tls ? mf_xasprintf("imaps://127.0.0.1:%s/", port)
                    : mf_xasprintf("imap://127.0.0.1:%s/?tls=off", port);

    memset(&o, 0, sizeof(o));
    assert_int_equal(mf_endpoint_parse(url, &o.endpoint, &err), MF_E_OK);
    o.connect_timeout_ms = 10000;
    o.io_timeout_ms = 10000;
    o.ca_file = ca;
    mf_err rc = mf_imap_session_open(&o, &login, &so, &s, &err, NULL);
    if (rc != MF_E_OK)
        fail_msg("open: %s %s", mf_err_name(rc), err.detail);
    free(port);
    free(ca);
    free(url);
    if (getenv("MF_TRACE"))
        mf_imap_session_set_trace(s, stderr_trace, NULL);
    return s;
}

static mf_err
on_list(void *ud, const struct mf_imap_list_entry *e) {
    if (e->name_len == 5 && memcmp(e->name, "INBOX", 5) == 0)
        *(bool *)ud = true;
    return MF_E_OK;
}

struct appended {
    int calls;
    mf_err code;
    uint32_t uid;
};

static void
on_appended(void *ud, const struct mf_imap_result *res) {
    struct appended *a = ud;
    uint32_t uid;

    a->calls++;
    a->code = res->error.code;
    /* RFC 4315: OK [APPENDUID uidvalidity uid] */
    if (res->tagged && res->tagged->code.name &&
        strcmp(res->tagged->code.name, "APPENDUID") == 0 &&
        res->tagged->code.nargs == 2 &&
        mf_imap_arg_as_u32(&res->tagged->code.args[1], &uid))
        a->uid = uid;
}

static char *
message(int i) {
    return mf_xasprintf("From: a@example.test\r\nTo: b@example.test\r\n"
                        "Subject: message %d\r\nMessage-ID: <%d.%d@mf>\r\n"
                        "\r\nBody of message %d.\r\n",
                        i, i, (int)getpid(), i);
}

struct big {
    uint64_t off;
    uint64_t size; /* 0: BIG_SIZE */
};

static uint8_t
big_byte(uint64_t i) {
    /* Lines of 64 bytes ending in CRLF: a valid message body. */
    return (i % 64 == 62) ? '\r' : (i % 64 == 63) ? '\n' : 'a' + (i % 26);
}

static mf_err
big_read(void *ud, uint8_t *buf, size_t cap, size_t *n_r) {
    struct big *b = ud;
    uint64_t size = b->size ? b->size : BIG_SIZE;
    size_t n = cap < size - b->off ? cap : (size_t)(size - b->off);
    for (size_t i = 0; i < n; i++)
        buf[i] = big_byte(b->off + i);
    b->off += n;
    *n_r = n;
    return MF_E_OK;
}

/* What a literal sink saw: the literals streamed to it, each checked
 * byte by byte against big_byte(). */
struct streamed {
    int streams;
    uint64_t pos, total, bad;
};

static mf_err
stream_begin(void *ud, const struct mf_imap_literal_info *info) {
    struct streamed *x = ud;
    (void)info;
    x->streams++;
    x->pos = 0;
    return MF_E_OK;
}

static mf_err
stream_data(void *ud, const uint8_t *p, size_t n) {
    struct streamed *x = ud;
    for (size_t i = 0; i < n; i++)
        if (p[i] != big_byte(x->pos + i))
            x->bad++;
    x->pos += n;
    x->total += n;
    return MF_E_OK;
}

static mf_err
stream_end(void *ud) {
    (void)ud;
    return MF_E_OK;
}

/* APPENDs b's body (b->size bytes, 0: BIG_SIZE) to folder; the answer
 * goes to ap. */
static void
submit_append_big(struct mf_imap_session *s, const char *folder, struct big *b,
                  struct appended *ap) {
    struct mf_imap_body_source src = {
        .size = b->size ? b->size : BIG_SIZE, .read = big_read, .ud = b};
    struct mf_imap_cmd_spec c = {0};

    mf_imap_cmd_text(&c, "APPEND ");
    mf_imap_cmd_astring(&c, (const uint8_t *)folder, strlen(folder));
    mf_imap_cmd_text(&c, " ");
    mf_imap_cmd_source(&c, &src);
    assert_int_equal(mf_imap_session_submit(s, &c, on_appended, ap, NULL),
                     MF_E_OK);
    mf_imap_cmd_clear(&c);
}

/* Unselects and deletes folder: the server as the test found it. */
static void
drop_folder(struct mf_imap_session *s, const char *folder) {
    struct mf_imap_cmd_spec c = {0};

    mf_imap_cmd_text(&c, "UNSELECT");
    assert_int_equal(mf_imap_session_submit(s, &c, NULL, NULL, NULL), MF_E_OK);
    mf_imap_cmd_clear(&c);
    mf_imap_cmd_text(&c, "DELETE ");
    mf_imap_cmd_astring(&c, (const uint8_t *)folder, strlen(folder));
    assert_int_equal(mf_imap_session_submit(s, &c, NULL, NULL, NULL), MF_E_OK);
    mf_imap_cmd_clear(&c);
    assert_int_equal(mf_imap_session_run(s, -1), MF_E_OK);
}

struct fetched {
    int count;
    int ok_bodies, ok_flags, ok_dates;
};

static mf_err
on_fetch(void *ud, const struct mf_imap_response *r) {
    struct fetched *f = ud;
    const struct mf_imap_arg *items, *v;
    size_t n;
    uint32_t uid;
    const uint8_t *body;
    size_t blen;
    const char *date;

    if (r->nargs != 1 || !mf_imap_arg_as_list(&r->args[0], &items, &n))
        return MF_E_IMAP_UNEXPECTED;
    v = mf_imap_args_find(items, n, "UID");
    if (!v || !mf_imap_arg_as_u32(v, &uid))
        return MF_E_IMAP_UNEXPECTED;
    f->count++;
    v = mf_imap_args_find(items, n, "BODY[]");
    if (v && v->type == MF_IMAP_ARG_STREAMED)
        return MF_E_OK; /* the big one: checked by the sink */
    if (v && mf_imap_arg_as_string(v, &body, &blen)) {
        /* Subjects say which message it is. */
        const char *subj = memmem(body, blen, "Subject: message ", 17);
        if (subj) {
            int i = (int)strtol(subj + 17, NULL, 10);
            char *want = message(i);
            if (strlen(want) == blen && memcmp(want, body, blen) == 0)
                f->ok_bodies++;
            free(want);
            const struct mf_imap_arg *fl = mf_imap_args_find(items, n, "FLAGS");
            const struct mf_imap_arg *fa;
            size_t fn;
            bool seen = false, kw = false;
            if (fl && mf_imap_arg_as_list(fl, &fa, &fn))
                for (size_t k = 0; k < fn; k++) {
                    seen = seen || mf_imap_arg_atom_eq(&fa[k], "\\Seen");
                    kw = kw || mf_imap_arg_atom_eq(&fa[k], "$Forwarded");
                }
            if (seen == (i % 2 == 0) && kw)
                f->ok_flags++;
            v = mf_imap_args_find(items, n, "INTERNALDATE");
            /* Maildir keeps the instant, not the zone (Dovecot answers
             * in +0000): compare instants. */
            struct mf_imap_datetime dt, wdt = {2021, 3, i + 1, 10, i, 0, 60};
            if (v && mf_imap_arg_as_astring(v, &date) &&
                mf_imap_datetime_parse(date, strlen(date), &dt) == MF_E_OK &&
                mf_imap_datetime_to_unix(&dt) == mf_imap_datetime_to_unix(&wdt))
                f->ok_dates++;
        }
    }
    return MF_E_OK;
}

static void
session_flow(bool tls) {
    struct mf_imap_session *s = open_target(tls);
    struct mf_imap_mailbox_info info;
    struct appended ap[NMSG + 1];
    struct fetched fx = {0};
    struct streamed streamed = {0};
    struct big big = {0};
    bool inbox = false;
    char folder[64];

    memset(ap, 0, sizeof(ap));
    assert_true(mf_imap_session_has(
        s, MF_IMAP_CAP_IMAP4REV1 | MF_IMAP_CAP_LITERAL_PLUS |
               MF_IMAP_CAP_UIDPLUS | MF_IMAP_CAP_MULTIAPPEND));
    assert_int_equal(mf_imap_session_state(s), MF_IMAP_STATE_AUTHENTICATED);
    assert_int_equal(mf_imap_session_list(s, "", "*", NULL, on_list, &inbox),
                     MF_E_OK);
    assert_true(inbox);

    snprintf(folder, sizeof(folder), "mfsession %d%s", (int)getpid(),
             tls ? " tls" : "");
    assert_int_equal(mf_imap_session_create(s, folder), MF_E_OK);
    assert_int_equal(mf_imap_session_select(s, folder, false, &info), MF_E_OK);
    assert_int_equal(info.exists, 0);
    assert_true(info.uidvalidity != 0);
    mf_err rc = mf_imap_session_select(s, "no such folder", false, &info);
    if (rc != MF_E_MAILBOX_MISSING)
        fail_msg("SELECT of a missing folder: %s %s", mf_err_name(rc),
                 mf_imap_session_last(s)->error.detail);
    assert_int_equal(mf_imap_session_select(s, folder, false, &info), MF_E_OK);

    /* 20 pipelined APPENDs, window 8. */
    for (int i = 0; i < NMSG; i++) {
        struct mf_imap_cmd_spec c = {0};
        char *m = message(i);
        mf_imap_cmd_text(&c, "APPEND ");
        mf_imap_cmd_astring(&c, (const uint8_t *)folder, strlen(folder));
        mf_imap_cmd_textf(&c,
                          " (%s$Forwarded) \"%02d-Mar-2021 10:%02d:00 "
                          "+0100\" ",
                          i % 2 == 0 ? "\\Seen " : "", i + 1, i);
        mf_imap_cmd_literal(&c, (const uint8_t *)m, strlen(m));
        assert_int_equal(
            mf_imap_session_submit(s, &c, on_appended, &ap[i], NULL), MF_E_OK);
        mf_imap_cmd_clear(&c);
        free(m);
    }
    /* And a 1 MB body from a source. */
    submit_append_big(s, folder, &big, &ap[NMSG]);
    assert_int_equal(mf_imap_session_run(s, -1), MF_E_OK);
    for (int i = 0; i <= NMSG; i++) {
        assert_int_equal(ap[i].calls, 1);
        assert_int_equal(ap[i].code, MF_E_OK);
        assert_int_equal(ap[i].uid, (uint32_t)i + 1);
    }

    mf_imap_session_on_untagged(s, "FETCH", on_fetch, &fx);
    mf_imap_session_set_literal_sink(s, stream_begin, stream_data, stream_end,
                                     &streamed);
    {
        struct mf_imap_cmd_spec c = {0};
        struct appended done = {0};
        mf_imap_cmd_text(&c, "UID FETCH 1:* (UID FLAGS INTERNALDATE "
                             "BODY.PEEK[])");
        assert_int_equal(
            mf_imap_session_submit(s, &c, on_appended, &done, NULL), MF_E_OK);
        mf_imap_cmd_clear(&c);
        assert_int_equal(mf_imap_session_run(s, -1), MF_E_OK);
        assert_int_equal(done.code, MF_E_OK);
    }
    assert_int_equal(fx.count, NMSG + 1);
    assert_int_equal(fx.ok_bodies, NMSG);
    assert_int_equal(fx.ok_flags, NMSG);
    assert_int_equal(fx.ok_dates, NMSG);
    assert_int_equal(streamed.streams, 1);
    assert_int_equal(streamed.total, BIG_SIZE);
    assert_int_equal(streamed.bad, 0);

    drop_folder(s, folder);
    assert_int_equal(mf_imap_session_state(s), MF_IMAP_STATE_AUTHENTICATED);
    assert_int_equal(mf_imap_session_logout(s), MF_E_OK);
    mf_imap_session_free(&s);
}

static void
test_session_dovecot(void **state) {
    (void)state;
    session_flow(false);
}

static void
test_session_dovecot_tls(void **state) {
    (void)state;
    session_flow(true);
}

/* ------------------------------------------------------------------ */
/* Crossing streams                                                    */
/* ------------------------------------------------------------------ */

#define CROSS_SIZE (4 * 1024 * 1024)
#define CROSS_FETCHES 4

static void
crossing_streams(bool tls) {
    struct mf_imap_session *s = open_target(tls);
    struct appended first = {0}, second = {0}, fetched[CROSS_FETCHES];
    struct big b1 = {.size = CROSS_SIZE}, b2 = {.size = CROSS_SIZE};
    struct streamed x = {0};
    char folder[64];
    int small = 8192;

    /* A small send buffer: sends would block in the middle of TLS
     * records while the staged output moves (the retry path of conn.c).
     * (A small receive buffer would make loopback TCP crawl: tiny windows
     * and delayed ACKs.) */
    assert_int_equal(setsockopt(mf__imap_conn_fd(mf__imap_session_conn(s)),
                                SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
                     0);
    memset(fetched, 0, sizeof(fetched));
    snprintf(folder, sizeof(folder), "mfcross %d%s", (int)getpid(),
             tls ? " tls" : "");
    assert_int_equal(mf_imap_session_create(s, folder), MF_E_OK);
    assert_int_equal(mf_imap_session_select(s, folder, false, NULL), MF_E_OK);
    submit_append_big(s, folder, &b1, &first);
    assert_int_equal(mf_imap_session_run(s, -1), MF_E_OK);
    assert_int_equal(first.code, MF_E_OK);

    /* 16 MB of FETCH answers, and a 4 MB APPEND pipelined behind them. */
    mf_imap_session_set_literal_sink(s, stream_begin, stream_data, stream_end,
                                     &x);
    for (int i = 0; i < CROSS_FETCHES; i++) {
        struct mf_imap_cmd_spec c = {0};
        mf_imap_cmd_text(&c, "UID FETCH 1 (BODY.PEEK[])");
        assert_int_equal(
            mf_imap_session_submit(s, &c, on_appended, &fetched[i], NULL),
            MF_E_OK);
        mf_imap_cmd_clear(&c);
    }
    submit_append_big(s, folder, &b2, &second);
    assert_int_equal(mf_imap_session_run(s, -1), MF_E_OK);
    for (int i = 0; i < CROSS_FETCHES; i++)
        assert_int_equal(fetched[i].code, MF_E_OK);
    assert_int_equal(second.code, MF_E_OK);
    assert_int_equal(second.uid, first.uid + 1);
    assert_int_equal(x.streams, CROSS_FETCHES);
    assert_int_equal(x.total, (uint64_t)CROSS_FETCHES * CROSS_SIZE);
    assert_int_equal(x.bad, 0);
    mf_imap_session_set_literal_sink(s, NULL, NULL, NULL, NULL);
    drop_folder(s, folder);
    assert_int_equal(mf_imap_session_logout(s), MF_E_OK);
    mf_imap_session_free(&s);
}

static void
test_crossing_streams(void **state) {
    (void)state;
    crossing_streams(false);
}

static void
test_crossing_streams_tls(void **state) {
    (void)state;
    crossing_streams(true);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_dovecot),
        cmocka_unit_test(test_session_dovecot_tls),
        cmocka_unit_test(test_crossing_streams),
        cmocka_unit_test(test_crossing_streams_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
