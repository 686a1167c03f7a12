/*
 * A session that outlives nothing and waits for no server forever
 * (core/src/imap/session*.c, core/src/migrate/store_imap.c), against the
 * scripted fake server (tests/support/fakeimap).
 *
 * What they prove:
 *   - A server that answers an APPEND before it has the literal (Dovecot's
 *     NO [OVERQUOTA] to the literal's header) still gets the whole
 *     literal, and the done callback runs only after the last byte was
 *     read from the body source: an owner that frees the source in its
 *     callback (the folder copy does) is never read again. On the old
 *     code the next command, or the store's LOGOUT at close, read the
 *     freed source (ASan: heap-use-after-free; a plain build: the reads
 *     after the callback are counted).
 *   - mf_imap_session_abort() runs every callback at once with
 *     MF_E_CANCELLED, releases body sources and never reads them; a
 *     command sent whole keeps the session usable (its late answer is
 *     ignored), a half-written literal closes it.
 *   - A server that trickles a response byte by byte breaks the session
 *     with MF_E_SERVER_TOO_SLOW at the command deadline, although every
 *     byte resets the no-progress timeout; one that floods "* 1 EXISTS"
 *     breaks it with MF_E_SERVER_FLOOD; both in bounded time.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fakeimap.h"

#include "imap/session_int.h"
#include "mailferry/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generous step timeouts: the machines running these are busy. */
#define CAPS_PLUS                                                              \
    "TIMEOUT 30000\n"                                                          \
    "C: $0 CAPABILITY\n"                                                       \
    "S: * CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS MULTIAPPEND\n"                 \
    "S: $0 OK done\n"
/* Bigger than any socketpair buffer: the client cannot have written it
 * all before the server's early answer arrives. */
#define BIG 2000000
#define BIG_S "2000000"

/* ------------------------------------------------------------------ */
/* A body source whose owner frees it in the done callback             */
/* ------------------------------------------------------------------ */

struct owner {
    uint64_t off, size;
    int releases;
};

static int reads_after_done;
static int releases_after_done;
static bool done_ran;

static mf_err
owner_read(void *ud, uint8_t *buf, size_t cap, size_t *n_r) {
    struct owner *o = ud;
    size_t n = o->size - o->off < cap ? (size_t)(o->size - o->off) : cap;

    if (done_ran)
        reads_after_done++;
    memset(buf, 'x', n);
    o->off += n;
    *n_r = n;
    return MF_E_OK;
}

static void
owner_release(void *ud) {
    struct owner *o = ud;
    if (done_ran)
        releases_after_done++;
    o->releases++;
}

struct result {
    int calls;
    mf_err code;
    char detail[256];
    struct owner *free_me; /* freed in the callback, as a folder does */
    int releases;          /* the owner's count when it was freed */
};

static void
record(struct result *r, mf_err code, const char *detail) {
    r->calls++;
    r->code = code;
    snprintf(r->detail, sizeof(r->detail), "%s", detail);
    if (r->free_me) {
        r->releases = r->free_me->releases;
        free(r->free_me);
        r->free_me = NULL;
        done_ran = true;
    }
}

static void
on_done(void *ud, const struct mf_imap_result *res) {
    record(ud, res->error.code, res->error.detail);
}

static void
on_store_done(void *ud, const struct mf_store_done *d) {
    record(ud, d->error.code, d->error.detail);
}

static struct mf_imap_body_source
owner_source(struct result *r, uint64_t size) {
    struct owner *o = mf_xcalloc(1, sizeof(*o));
    struct mf_imap_body_source src = {
        .size = size, .read = owner_read, .release = owner_release, .ud = o};
    o->size = size;
    r->free_me = o;
    return src;
}

static void
reset_globals(void) {
    reads_after_done = 0;
    releases_after_done = 0;
    done_ran = false;
}

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

struct t {
    struct mf_fakeimap *fake;
    struct mf_imap_session *s;
};

static void
open_session(struct t *t, const char *script,
             const struct mf_imap_session_options *o) {
    struct mf_error err = {0};
    mf_err rc;
    int fd;

    reset_globals();
    t->fake = mf_fakeimap_start(script, &fd);
    rc = mf_imap_session_new_on_conn(mf__imap_conn_from_fd(fd, 30000), o, &t->s,
                                     &err, NULL);
    if (rc != MF_E_OK) {
        const char *why = mf_fakeimap_finish(t->fake);
        fail_msg("open: %s %s (fake: %s)", mf_err_name(rc), err.detail,
                 why ? why : "ok");
    }
}

/* Frees the session; checks the fake followed its script (check). */
static void
finish(struct t *t, bool check) {
    const char *e;

    mf_imap_session_free(&t->s);
    e = mf_fakeimap_finish(t->fake);
    if (check && e) {
        const char *got = mf_fakeimap_received(t->fake);
        size_t n = strlen(got);
        fail_msg("%s\nclient sent, at the end:\n%s", e,
                 got + (n > 300 ? n - 300 : 0));
    }
    mf_fakeimap_free(&t->fake);
}

static uint32_t
submit_append(struct t *t, struct result *r, uint64_t size) {
    struct mf_imap_cmd_spec c = {0};
    struct mf_imap_body_source src = owner_source(r, size);
    uint32_t id = 0;

    mf_imap_cmd_text(&c, "APPEND INBOX () ");
    mf_imap_cmd_source(&c, &src);
    assert_int_equal(mf_imap_session_submit(t->s, &c, on_done, r, &id),
                     MF_E_OK);
    mf_imap_cmd_clear(&c);
    return id;
}

static uint32_t
submit_text(struct t *t, const char *text, struct result *r) {
    uint32_t id = 0;

    assert_int_equal(mf_fakeimap_submit_text(t->s, text, on_done, r, &id),
                     MF_E_OK);
    return id;
}

/* ------------------------------------------------------------------ */
/* An answer before the literal                                        */
/* ------------------------------------------------------------------ */

static void
test_early_no_then_next_command(void **state) {
    struct t t = {0};
    struct result r = {0}, noop = {0};
    uint32_t id;
    (void)state;

    open_session(&t,
                 CAPS_PLUS "C: $1 APPEND INBOX () {" BIG_S "+}\n"
                           "S: $1 NO [OVERQUOTA] Quota exceeded\n"
                           "C*: " BIG_S " x\n"
                           "C:\n"
                           "C: $2 NOOP\n"
                           "S: $2 OK done\n",
                 NULL);
    id = submit_append(&t, &r, BIG);
    assert_int_equal(mf_imap_session_wait(t.s, id, -1), MF_E_OK);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, MF_E_OVERQUOTA);
    assert_non_null(strstr(r.detail, "OVERQUOTA"));
    /* The whole literal was read before the callback, which freed the
     * owner; the source was released before that, once. */
    assert_int_equal(r.releases, 1);
    id = submit_text(&t, "NOOP", &noop);
    assert_int_equal(mf_imap_session_wait(t.s, id, -1), MF_E_OK);
    assert_int_equal(noop.code, MF_E_OK);
    assert_int_equal(reads_after_done, 0);
    assert_int_equal(releases_after_done, 0);
    finish(&t, true);
}

/* The crash of issue 11 section 5, as the folder copy meets it: a
 * streamed APPEND refused with OVERQUOTA at its header, the batch (and
 * its body source) freed in the done callback, then the store closed
 * with a polite LOGOUT. */
static void
test_store_close_after_early_overquota(void **state) {
    struct mf_imap_session_options so = {0};
    struct mf_store_imap_options sto = {0};
    struct mf_store_append_msg m = {0};
    struct mf_store *st = NULL;
    struct mf_error err = {0};
    struct result r = {0};
    struct t t = {0};
    (void)state;

    open_session(&t,
                 CAPS_PLUS "C: $1 LIST \"\" \"\"\n"
                           "S: * LIST (\\Noselect) \"/\" \"\"\n"
                           "S: $1 OK done\n"
                           "C: $2 APPEND INBOX () {" BIG_S "+}\n"
                           "S: $2 NO [OVERQUOTA] Quota exceeded (mailbox for "
                           "user is full)\n"
                           "C*: " BIG_S " x\n"
                           "C:\n"
                           "C: $3 LOGOUT\n"
                           "S: * BYE logging out\n"
                           "S: $3 OK done\n",
                 &so);
    assert_int_equal(mf_store_imap_wrap(t.s, &sto, &st, &err), MF_E_OK);
    t.s = NULL; /* the store owns it */
    m.flags = "";
    m.body = owner_source(&r, BIG);
    assert_int_equal(st->ops->append(st, "INBOX", &m, 1, on_store_done, &r),
                     MF_E_OK);
    assert_int_equal(st->ops->flush(st, 0), MF_E_OK);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, MF_E_OVERQUOTA);
    mf_store_close(&st);
    assert_int_equal(reads_after_done, 0);
    assert_int_equal(releases_after_done, 0);
    finish(&t, true);
}

/* ------------------------------------------------------------------ */
/* Abort                                                               */
/* ------------------------------------------------------------------ */

static void
test_abort_drops_queued_and_in_flight(void **state) {
    struct mf_imap_session_options so = {.window = 2};
    struct result a = {0}, b = {0}, c = {0};
    struct t t = {0};
    uint32_t id;
    (void)state;

    /* Window 2: NOOP and CHECK go out, the APPEND (mf3) waits its turn
     * and is never sent. CHECK's answer comes only after the abort. */
    open_session(&t,
                 CAPS_PLUS "C: $1 NOOP\n"
                           "C: $2 CHECK\n"
                           "S: $1 OK done\n"
                           "C: $4 LOGOUT\n"
                           "S: $2 OK late answer\n"
                           "S: * BYE logging out\n"
                           "S: $4 OK done\n",
                 &so);
    id = submit_text(&t, "NOOP", &a);
    (void)submit_text(&t, "CHECK", &b);
    (void)submit_append(&t, &c, 100);
    assert_int_equal(mf_imap_session_wait(t.s, id, -1), MF_E_OK);
    assert_int_equal(a.code, MF_E_OK);
    assert_int_equal(b.calls + c.calls, 0);

    mf_imap_session_abort(t.s, "folder ended");
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.code, MF_E_CANCELLED);
    assert_non_null(strstr(b.detail, "folder ended"));
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.code, MF_E_CANCELLED);
    assert_int_equal(c.releases, 1); /* released before the callback */
    /* Nothing was half sent: the session goes on; CHECK's late answer is
     * swallowed. */
    assert_int_equal(mf_imap_session_state(t.s), MF_IMAP_STATE_AUTHENTICATED);
    assert_int_equal(mf_imap_session_logout(t.s), MF_E_OK);
    assert_int_equal(b.calls, 1);
    assert_int_equal(reads_after_done, 0);
    assert_int_equal(releases_after_done, 0);
    finish(&t, true);
}

static void
test_abort_half_written_literal_closes(void **state) {
    struct result a = {0}, b = {0};
    struct t t = {0};
    uint32_t id;
    (void)state;

    /* The server answers NOOP before it reads the APPEND's literal, so
     * the literal is half written when the client aborts. */
    open_session(&t,
                 CAPS_PLUS "C: $1 NOOP\n"
                           "C: $2 APPEND INBOX () {" BIG_S "+}\n"
                           "S: $1 OK done\n"
                           "C*: " BIG_S " x\n",
                 NULL);
    id = submit_text(&t, "NOOP", &a);
    (void)submit_append(&t, &b, BIG);
    assert_int_equal(mf_imap_session_wait(t.s, id, -1), MF_E_OK);
    assert_int_equal(b.calls, 0);

    mf_imap_session_abort(t.s, "lease lost");
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.code, MF_E_CANCELLED);
    assert_int_equal(b.releases, 1);
    assert_int_equal(mf_imap_session_state(t.s), MF_IMAP_STATE_BROKEN);
    assert_int_equal(mf_imap_session_error(t.s)->code, MF_E_CANCELLED);
    assert_non_null(strstr(mf_imap_session_error(t.s)->detail, "half sent"));
    assert_int_equal(reads_after_done, 0);
    finish(&t, false); /* the fake sees a literal cut short */
}

/* ------------------------------------------------------------------ */
/* Deadlines                                                           */
/* ------------------------------------------------------------------ */

static long
elapsed_ms(long t0) {
    return mf__imap_now_ms() - t0;
}

static void
test_trickle_breaks_with_server_too_slow(void **state) {
    struct mf_imap_session_options so = {.timeout_ms = 5000,
                                         .command_timeout_ms = 1000};
    struct mf_buf script = {0};
    struct result a = {0};
    struct t t = {0};
    long t0;
    uint32_t id;
    (void)state;

    /* One byte every 200 ms: the no-progress timeout (5 s) never fires. */
    mf_buf_append_str(&script, CAPS_PLUS "C: $1 NOOP\nS+: * OK \n");
    for (int i = 0; i < 60; i++)
        mf_buf_append_str(&script, "S+: x\nSLEEP 200\n");
    open_session(&t, (const char *)script.data, &so);
    mf_buf_free(&script);
    id = submit_text(&t, "NOOP", &a);
    t0 = mf__imap_now_ms();
    assert_int_equal(mf_imap_session_wait(t.s, id, -1), MF_E_SERVER_TOO_SLOW);
    assert_true(elapsed_ms(t0) < 8000);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.code, MF_E_SERVER_TOO_SLOW);
    assert_int_equal(mf_err_class_of(a.code), MF_ERRCLASS_RECONNECT);
    assert_non_null(strstr(a.detail, "no answer to mf"));
    finish(&t, false);
}

static void
test_flood_breaks_with_server_flood(void **state) {
    struct result a = {0};
    struct t t = {0};
    long t0;
    uint32_t id;
    (void)state;

    /* The default budget: bounded, and quickly reached. */
    open_session(&t,
                 CAPS_PLUS "C: $1 NOOP\n"
                           "FILL 400000000 * 1 EXISTS\\r\\n\n",
                 NULL);
    id = submit_text(&t, "NOOP", &a);
    t0 = mf__imap_now_ms();
    assert_int_equal(mf_imap_session_wait(t.s, id, -1), MF_E_SERVER_FLOOD);
    assert_true(elapsed_ms(t0) < 30000);
    assert_int_equal(a.code, MF_E_SERVER_FLOOD);
    assert_int_equal(mf_err_class_of(a.code), MF_ERRCLASS_RECONNECT);
    assert_non_null(strstr(a.detail, "EXISTS"));
    finish(&t, false);
}

/* A big literal at a decent rate gets time in proportion to its size. */
static void
test_deadline_grows_with_literal(void **state) {
    struct mf_imap_session_options so = {.command_timeout_ms = 300,
                                         .min_rate = 1024 * 1024};
    struct result r = {0};
    struct t t = {0};
    uint32_t id;
    (void)state;

    open_session(&t,
                 CAPS_PLUS "C: $1 APPEND INBOX () {" BIG_S "+}\n"
                           "C*: " BIG_S " x\n"
                           "C:\n"
                           "SLEEP 1000\n"
                           "S: $1 OK [APPENDUID 1 1] done\n",
                 &so);
    id = submit_append(&t, &r, BIG);
    assert_int_equal(mf_imap_session_wait(t.s, id, -1), MF_E_OK);
    assert_int_equal(r.code, MF_E_OK);
    finish(&t, true);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_early_no_then_next_command),
        cmocka_unit_test(test_store_close_after_early_overquota),
        cmocka_unit_test(test_abort_drops_queued_and_in_flight),
        cmocka_unit_test(test_abort_half_written_literal_closes),
        cmocka_unit_test(test_trickle_breaks_with_server_too_slow),
        cmocka_unit_test(test_flood_breaks_with_server_flood),
        cmocka_unit_test(test_deadline_grows_with_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
