/*
 * Transcript tests of the IMAP store (core/src/migrate/store_imap.c)
 * against the scripted fake server (tests/support/fakeimap): a session
 * over a socketpair, wrapped with mf_store_imap_wrap().
 *
 * What they prove: fetch_meta() parses UID, FLAGS, INTERNALDATE,
 * RFC822.SIZE, Message-ID and Subject, drops \Recent, ignores unsolicited
 * FETCHes and the extra message "n:*" returns; fetch_bodies() maps
 * sequence numbers to UIDs for streamed literals (the UID item after the
 * body), also across an EXPUNGE in the middle, and reports a UID that
 * never came as vanished; a server that dies in the middle of a literal
 * or says BYE between two bodies gives a clean error of class RECONNECT
 * without a hang; MULTIAPPEND is sent exactly (flags, quoted dates, {n+}
 * literals with LITERAL+; {n} with a wait for "+" without) and APPENDUID
 * "38505 3955:3957" becomes three UIDs; NO [OVERQUOTA], [TRYCREATE] and
 * [UNAVAILABLE] map to the documented codes (with the suggested backoff)
 * without breaking the store; CREATE answered NO [ALREADYEXISTS] is
 * success; LIST plus LSUB give attributes and subscriptions.
 *
 * Without MULTIAPPEND (Exchange Online's capability list): a batch goes
 * out as single APPENDs all in flight before any answer, {n+} literals
 * with LITERAL+, and with LITERAL- only up to 4096 bytes (a bigger one
 * waits for "+"); answers in any order come back to their own message
 * with its APPENDUID; a NO fails its message alone and the store goes on;
 * a connection lost with four in flight confirms exactly the one that was
 * answered and fails the other three, in one callback. A mailbox's CREATEs
 * (and SUBSCRIBEs) go out together, each answer to its own name. A
 * SELECT sent ahead is on the wire at once and its answer is select()'s.
 * UID MOVE reads COPYUID untagged (in parts) or tagged, pairs its two
 * sets in the order written, and ignores one naming a UID not asked for.
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
#include "mailferry/migrate.h"
#include "mailferry/profile.h"
#include "mailferry/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAPS_PLUS                                                              \
    "C: $0 CAPABILITY\n"                                                       \
    "S: * CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS MULTIAPPEND SPECIAL-USE "      \
    "APPENDLIMIT=35882577 NAMESPACE\n"                                         \
    "S: $0 OK Capability completed.\n"                                         \
    "C: $1 NAMESPACE\n"                                                        \
    "S: * NAMESPACE ((\"\" \"/\")) NIL NIL\n"                                  \
    "S: $1 OK done\n"
/* No LITERAL+, no MULTIAPPEND, no NAMESPACE: LIST "" "" gives the
 * delimiter. */
#define CAPS_SYNC                                                              \
    "C: $0 CAPABILITY\n"                                                       \
    "S: * CAPABILITY IMAP4rev1 UIDPLUS\n"                                      \
    "S: $0 OK done\n"                                                          \
    "C: $1 LIST \"\" \"\"\n"                                                   \
    "S: * LIST (\\Noselect) \".\" \"\"\n"                                      \
    "S: $1 OK done\n"
/* Exchange Online's capabilities after login: no MULTIAPPEND. */
#define CAPS_EXCHANGE                                                          \
    "C: $0 CAPABILITY\n"                                                       \
    "S: * CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS " \
    "MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+\n"                      \
    "S: $0 OK CAPABILITY completed.\n"                                         \
    "C: $1 NAMESPACE\n"                                                        \
    "S: * NAMESPACE ((\"\" \"/\")) NIL NIL\n"                                  \
    "S: $1 OK done\n"
#define LOGOUT                                                                 \
    "C: $90 LOGOUT\n"                                                          \
    "S: * BYE logging out\n"                                                   \
    "S: $90 OK done\n"
#define EXAMINE                                                                \
    "C: $2 EXAMINE INBOX\n"                                                    \
    "S: * 4 EXISTS\n"                                                          \
    "S: * OK [UIDVALIDITY 38505] ok\n"                                         \
    "S: * OK [UIDNEXT 14] ok\n"                                                \
    "S: $2 OK [READ-ONLY] done\n"

struct t {
    struct mf_fakeimap *fake;
    struct mf_store *st;
};

static void
open_store(struct t *t, const char *script, uint64_t stream_threshold) {
    struct mf_imap_parser_limits lim;
    struct mf_imap_session_options so = {.timeout_ms = 2000, .limits = &lim};
    struct mf_store_imap_options sto = {0};
    struct mf_imap_session *s = NULL;
    struct mf_error err = {0};
    mf_err rc;
    int fd;

    mf_imap_parser_limits_init(&lim);
    if (stream_threshold)
        lim.stream_threshold = stream_threshold;
    t->fake = mf_fakeimap_start(script, &fd);
    rc = mf_imap_session_new_on_conn(mf__imap_conn_from_fd(fd, 2000), &so, &s,
                                     &err, NULL);
    if (rc == MF_E_OK)
        rc = mf_store_imap_wrap(s, &sto, &t->st, &err);
    if (rc != MF_E_OK) {
        const char *why = mf_fakeimap_finish(t->fake);
        fail_msg("open: %s %s (fake: %s)", mf_err_name(rc), err.detail,
                 why ? why : "ok");
    }
}

/* Closes the store and checks the fake followed its script. */
static void
finish_store(struct t *t) {
    const char *e;

    mf_store_close(&t->st);
    e = mf_fakeimap_finish(t->fake);
    if (e)
        fail_msg("%s\nclient sent:\n%s", e, mf_fakeimap_received(t->fake));
    mf_fakeimap_free(&t->fake);
}

/* ------------------------------------------------------------------ */
/* Metadata                                                            */
/* ------------------------------------------------------------------ */

struct metas {
    struct mf_buf text; /* one line per message */
    unsigned n;
};

static mf_err
on_meta(void *ud, const struct mf_store_meta *m) {
    struct metas *ms = ud;
    ms->n++;
    if (m->missing) {
        mf_buf_appendf(&ms->text, "%u|missing %u\n", m->uid, m->missing);
        return MF_E_OK;
    }
    mf_buf_appendf(&ms->text, "%u|%llu|%s|%s|%s|%s\n", m->uid,
                   (unsigned long long)m->size, m->date ? m->date : "(nil)",
                   m->flags, m->message_id ? m->message_id : "-",
                   m->subject ? m->subject : "-");
    return MF_E_OK;
}

static void
test_fetch_meta(void **state) {
    struct t t = {0};
    struct metas ms = {0};
    struct mf_store_select sel = {0};
    (void)state;

    open_store(
        &t,
        CAPS_PLUS EXAMINE
        "C: $3 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE "
        "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)])\n"
        "S: * 1 FETCH (UID 4 FLAGS (\\Seen \\Recent $Work) INTERNALDATE "
        "\"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 "
        "BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)] {69}\\r\\n"
        "Message-ID: <a@example.org>\\r\\n"
        "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\\r\\n\\r\\n)\n"
        /* Unsolicited: a flag changed elsewhere; no UID. */
        "S: * 2 FETCH (FLAGS (\\Deleted))\n"
        "S: * 2 FETCH (INTERNALDATE \" 1-Jan-2020 00:00:00 +0000\" UID 9 "
        "RFC822.SIZE 12 FLAGS (\\Recent) BODY[HEADER.FIELDS (MESSAGE-ID "
        "SUBJECT)] {2}\\r\\n\\r\\n)\n"
        "S: $3 OK done\n"
        /* "10:*" answers with the last message even when it is below. */
        "C: $4 UID FETCH 10:* (UID FLAGS INTERNALDATE RFC822.SIZE)\n"
        "S: * 2 FETCH (UID 9 FLAGS () INTERNALDATE \" 1-Jan-2020 00:00:00 "
        "+0000\" RFC822.SIZE 12)\n"
        "S: $4 OK done\n" LOGOUT,
        0);
    assert_int_equal(t.st->caps.delim, '/');
    assert_true(t.st->caps.uidplus && t.st->caps.multiappend);
    assert_int_equal(t.st->caps.appendlimit, 35882577);
    assert_int_equal(t.st->ops->select(t.st, "INBOX", true, &sel), MF_E_OK);
    assert_int_equal(sel.uidvalidity, 38505);
    assert_int_equal(sel.uidnext, 14);
    assert_int_equal(sel.exists, 4);
    assert_int_equal(
        t.st->ops->fetch_meta(t.st, 1, 0,
                              MF_STORE_META_MESSAGE_ID | MF_STORE_META_SUBJECT,
                              on_meta, &ms),
        MF_E_OK);
    mf_buf_append(&ms.text, "", 1);
    assert_string_equal((char *)ms.text.data,
                        "4|4286|17-Jul-1996 02:44:25 -0700|\\Seen $Work|"
                        "<a@example.org>|Grüße\n"
                        "9|12| 1-Jan-2020 00:00:00 +0000||-|-\n");
    mf_buf_reset(&ms.text);
    ms.n = 0;
    assert_int_equal(t.st->ops->fetch_meta(t.st, 10, 0, 0, on_meta, &ms),
                     MF_E_OK);
    assert_int_equal(ms.n, 0);
    mf_buf_free(&ms.text);
    finish_store(&t);
}

/* Issue 11 section 2: nothing the server lists is dropped. The items of
 * UID 4 come in two responses, the second without UID (RFC 3501 7.4.2):
 * merged. INTERNALDATE NIL is no date, not "NIL". A quoted flag that is
 * an atom is kept, one that APPEND cannot carry makes the message
 * unlistable, as does a missing RFC822.SIZE; both are delivered (after
 * the others, in UID order) instead of dropped. 300 keywords (over 2 KB)
 * are kept. A late unsolicited FETCH for a delivered UID changes
 * nothing; a message answered twice is delivered once. */
static void
test_fetch_meta_merged_and_reported(void **state) {
    struct t t = {0};
    struct metas ms = {0};
    struct mf_store_select sel = {0};
    struct mf_buf script = {0}, kw = {0}, want = {0};
    (void)state;

    for (unsigned i = 0; i < 300; i++)
        mf_buf_appendf(&kw, "%sKeyword%04u", i ? " " : "", i);
    mf_buf_append(&kw, "", 1);
    mf_buf_appendf(
        &script,
        CAPS_PLUS EXAMINE
        "C: $3 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)\n"
        "S: * 1 FETCH (UID 4 FLAGS (\\Seen))\n"
        "S: * 2 FETCH (UID 5 RFC822.SIZE 11 INTERNALDATE NIL FLAGS "
        "(\"$Quoted\" \\Flagged))\n"
        "S: * 1 FETCH (RFC822.SIZE 10 INTERNALDATE \"17-Jul-1996 02:44:25 "
        "-0700\")\n"
        "S: * 3 FETCH (UID 6 FLAGS () INTERNALDATE \" 1-Jan-2020 00:00:00 "
        "+0000\")\n"
        "S: * 4 FETCH (UID 7 RFC822.SIZE 12 INTERNALDATE \" 1-Jan-2020 "
        "00:00:00 +0000\" FLAGS (\"a b\"))\n"
        "S: * 5 FETCH (UID 8 RFC822.SIZE 13 INTERNALDATE \" 1-Jan-2020 "
        "00:00:00 +0000\" FLAGS (%s))\n"
        "S: * 1 FETCH (FLAGS (\\Seen \\Deleted))\n"
        "S: * 2 FETCH (UID 5 RFC822.SIZE 11 INTERNALDATE NIL FLAGS ())\n"
        "S: $3 OK done\n" LOGOUT,
        (const char *)kw.data);
    mf_buf_append(&script, "", 1);
    open_store(&t, (const char *)script.data, 0);
    assert_int_equal(t.st->ops->select(t.st, "INBOX", true, &sel), MF_E_OK);
    assert_int_equal(t.st->ops->fetch_meta(t.st, 1, 0, 0, on_meta, &ms),
                     MF_E_OK);
    mf_buf_append(&ms.text, "", 1);
    mf_buf_appendf(&want,
                   "5|11|(nil)|$Quoted \\Flagged|-|-\n"
                   "4|10|17-Jul-1996 02:44:25 -0700|\\Seen|-|-\n"
                   "8|13| 1-Jan-2020 00:00:00 +0000|%s|-|-\n"
                   "6|missing %u\n"
                   "7|missing %u\n",
                   (const char *)kw.data, MF_STORE_MISSING_SIZE,
                   MF_STORE_MISSING_FLAGS);
    mf_buf_append(&want, "", 1);
    assert_string_equal((char *)ms.text.data, (char *)want.data);
    mf_buf_free(&ms.text);
    mf_buf_free(&script);
    mf_buf_free(&kw);
    mf_buf_free(&want);
    finish_store(&t);
}

/* count(): EXISTS (kept up to date by untagged EXISTS and EXPUNGE) for
 * the whole folder, a UID-only FETCH from a UID up (without the message
 * below it that "n:*" always includes). */
static void
test_count(void **state) {
    struct t t = {0};
    struct mf_store_select sel = {0};
    uint32_t n = 0;
    (void)state;

    open_store(&t,
               CAPS_PLUS EXAMINE "C: $3 UID FETCH 12:* (UID)\n"
                                 "S: * 3 FETCH (UID 12)\n"
                                 "S: * 4 FETCH (UID 13)\n"
                                 "S: * 5 EXISTS\n"
                                 "S: * 5 FETCH (UID 14)\n"
                                 "S: $3 OK done\n"
                                 "C: $4 UID FETCH 20:* (UID)\n"
                                 "S: * 1 EXPUNGE\n"
                                 "S: * 4 FETCH (UID 14)\n"
                                 "S: $4 OK done\n"
                                 "C: $5 UID FETCH 12:13 (UID)\n"
                                 "S: * 2 FETCH (UID 12)\n"
                                 "S: * 3 FETCH (UID 13)\n"
                                 "S: * 4 FETCH (UID 14)\n"
                                 "S: $5 OK done\n" LOGOUT,
               0);
    assert_int_equal(t.st->ops->select(t.st, "INBOX", true, &sel), MF_E_OK);
    assert_int_equal(t.st->ops->count(t.st, 1, 0, &n), MF_E_OK);
    assert_int_equal(n, 4);
    assert_int_equal(t.st->ops->count(t.st, 12, 0, &n), MF_E_OK);
    assert_int_equal(n, 3);
    assert_int_equal(t.st->ops->count(t.st, 0, 0, &n), MF_E_OK);
    assert_int_equal(n, 5);
    assert_int_equal(t.st->ops->count(t.st, 20, 0, &n), MF_E_OK);
    assert_int_equal(n, 0);
    assert_int_equal(t.st->ops->count(t.st, 1, 0, &n), MF_E_OK);
    assert_int_equal(n, 4);
    /* A window: what the server sends outside it is not counted. */
    assert_int_equal(t.st->ops->count(t.st, 12, 13, &n), MF_E_OK);
    assert_int_equal(n, 2);
    finish_store(&t);
}

/* ------------------------------------------------------------------ */
/* Bodies                                                              */
/* ------------------------------------------------------------------ */

struct bodies {
    struct mf_buf log; /* "begin uid size|data...|end;" and "gone uid;" */
    unsigned data_calls;
};

static mf_err
b_begin(void *ud, uint32_t uid, uint64_t size) {
    mf_buf_appendf(&((struct bodies *)ud)->log, "%u:%llu:", uid,
                   (unsigned long long)size);
    return MF_E_OK;
}

static mf_err
b_data(void *ud, const uint8_t *p, size_t n) {
    struct bodies *b = ud;
    b->data_calls++;
    mf_buf_append(&b->log, p, n);
    return MF_E_OK;
}

static mf_err
b_end(void *ud) {
    mf_buf_append_str(&((struct bodies *)ud)->log, ";");
    return MF_E_OK;
}

static mf_err
b_vanished(void *ud, uint32_t uid) {
    mf_buf_appendf(&((struct bodies *)ud)->log, "gone %u;", uid);
    return MF_E_OK;
}

static const struct mf_store_body_cb body_cb = {
    .begin = b_begin, .data = b_data, .end = b_end, .vanished = b_vanished};

#define META4                                                                  \
    "C: $3 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)\n"               \
    "S: * 1 FETCH (UID 10 FLAGS () INTERNALDATE \" 1-Jan-2020 00:00:00 "       \
    "+0000\" RFC822.SIZE 20)\n"                                                \
    "S: * 2 FETCH (UID 11 FLAGS () INTERNALDATE \" 1-Jan-2020 00:00:00 "       \
    "+0000\" RFC822.SIZE 20)\n"                                                \
    "S: * 3 FETCH (UID 12 FLAGS () INTERNALDATE \" 1-Jan-2020 00:00:00 "       \
    "+0000\" RFC822.SIZE 24)\n"                                                \
    "S: * 4 FETCH (UID 13 FLAGS () INTERNALDATE \" 1-Jan-2020 00:00:00 "       \
    "+0000\" RFC822.SIZE 5)\n"                                                 \
    "S: $3 OK done\n"

/* Opens a store on the login, EXAMINE INBOX and META4, bodies over 8
 * bytes streamed; selects INBOX, lists its four messages and fetches the
 * bodies of the first n (UIDs 10 to 9 + n) into b, the server answering
 * with answers (the script after the UID FETCH). Returns what
 * fetch_bodies returned; b->log is NUL-terminated. */
static mf_err
fetch_first(struct t *t, unsigned n, const char *answers, struct bodies *b) {
    static const uint32_t uids[] = {10, 11, 12, 13};
    char *script = mf_xasprintf("%sC: $4 UID FETCH 10:%u (UID BODY.PEEK[])\n%s",
                                CAPS_PLUS EXAMINE META4, 9 + n, answers);
    struct metas ms = {0};
    struct mf_store_select sel;
    mf_err rc;

    assert_true(n <= MF_ARRAY_LEN(uids));
    open_store(t, script, 8);
    free(script);
    assert_int_equal(t->st->ops->select(t->st, "INBOX", true, &sel), MF_E_OK);
    assert_int_equal(t->st->ops->fetch_meta(t->st, 1, 0, 0, on_meta, &ms),
                     MF_E_OK);
    assert_int_equal(ms.n, 4);
    mf_buf_free(&ms.text);
    rc = t->st->ops->fetch_bodies(t->st, uids, n, &body_cb, b);
    mf_buf_append(&b->log, "", 1);
    return rc;
}

static void
test_fetch_bodies_streamed_expunge(void **state) {
    struct t t = {0};
    struct bodies b = {0};
    (void)state;

    /* Bodies over 8 bytes stream; the UID comes after the body, so the
     * store must know the UID from the sequence number. Message 1 (UID
     * 10) is expunged after its body came: UID 12 is then number 2. UID
     * 11 never comes. UID 13 is small: buffered, not streamed. */
    assert_int_equal(
        fetch_first(&t, 4,
                    "S: * 1 FETCH (BODY[] {20}\\r\\nfirst message body.. "
                    "UID 10)\n"
                    "S: * 1 EXPUNGE\n"
                    "S: * 2 FETCH (BODY[] {24}\\r\\nthird message, streamed! "
                    "UID 12)\n"
                    "S: * 3 FETCH (UID 13 BODY[] {5}\\r\\nsmall)\n"
                    "S: $4 OK done\n" LOGOUT,
                    &b),
        MF_E_OK);
    assert_string_equal((char *)b.log.data, "10:20:first message body..;"
                                            "12:24:third message, streamed!;"
                                            "13:5:small;"
                                            "gone 11;");
    mf_buf_free(&b.log);
    finish_store(&t);
}

/* Issue 11 section 4: a streamed body is filed under the UID its
 * sequence number had; the FETCH response's own UID (after the body)
 * must agree, or the body never ends (so the engine never lets the target
 * commit it) and the fetch fails. */
static void
test_streamed_body_uid_checked(void **state) {
    struct t t = {0};
    struct bodies b = {0};
    mf_err rc;
    (void)state;

    rc = fetch_first(&t, 2,
                     "S: * 1 FETCH (BODY[] {20}\\r\\nfirst message body.. UID "
                     "10)\n"
                     "S: * 2 FETCH (BODY[] {20}\\r\\nthird message body.. UID "
                     "12)\n"
                     "S: $4 OK done\n" LOGOUT,
                     &b);
    assert_int_equal(rc, MF_E_IMAP_UNEXPECTED);
    assert_non_null(strstr(t.st->error.detail, "UID 12"));
    assert_string_equal((char *)b.log.data, "10:20:first message body..;"
                                            "11:20:third message body..");
    mf_buf_free(&b.log);
    mf_store_close(&t.st);
    (void)mf_fakeimap_finish(t.fake);
    mf_fakeimap_free(&t.fake);
}

/* The connection drops in the middle of a streamed body literal: a clean
 * RECONNECT-class error, and the literal sink can be cleared on the broken
 * session (it once asserted there). */
static void
test_fetch_bodies_disconnect_mid_literal(void **state) {
    struct t t = {0};
    struct metas ms = {0};
    struct bodies b = {0};
    mf_err rc;
    (void)state;

    rc = fetch_first(&t, 2,
                     "S+: * 1 FETCH (UID 10 BODY[] {20}\\r\\nfirst mes\n"
                     "SLEEP 50\n"
                     "CLOSE\n",
                     &b);
    assert_int_not_equal(rc, MF_E_OK);
    assert_int_equal(mf_err_class_of(rc), MF_ERRCLASS_RECONNECT);
    assert_int_equal(t.st->error.code, rc);
    /* Begun, never ended, nothing reported vanished. */
    assert_null(strchr((char *)b.log.data, ';'));
    assert_int_equal(strncmp((char *)b.log.data, "10:20:", 6), 0);
    /* A broken store fails at once, and closes without LOGOUT. */
    assert_int_not_equal(t.st->ops->fetch_meta(t.st, 1, 0, 0, on_meta, &ms),
                         MF_E_OK);
    mf_buf_free(&b.log);
    mf_buf_free(&ms.text);
    finish_store(&t);
}

static void
test_fetch_bodies_bye(void **state) {
    struct t t = {0};
    struct bodies b = {0};
    mf_err rc;
    (void)state;

    rc = fetch_first(&t, 2,
                     "S: * 1 FETCH (UID 10 BODY[] {20}\\r\\nfirst message "
                     "body..)\n"
                     "S: * BYE server shutting down\n"
                     "CLOSE\n",
                     &b);
    assert_int_equal(rc, MF_E_IMAP_BYE);
    assert_int_equal(mf_err_class_of(rc), MF_ERRCLASS_RECONNECT);
    assert_non_null(strstr(t.st->error.detail, "shutting down"));
    assert_string_equal((char *)b.log.data, "10:20:first message body..;");
    mf_buf_free(&b.log);
    finish_store(&t);
}

/* ------------------------------------------------------------------ */
/* Appends                                                             */
/* ------------------------------------------------------------------ */

struct src {
    const char *data;
    size_t off;
};

static mf_err
src_read(void *ud, uint8_t *buf, size_t cap, size_t *n_r) {
    struct src *s = ud;
    size_t left = strlen(s->data) - s->off, n = left < cap ? left : cap;
    memcpy(buf, s->data + s->off, n);
    s->off += n;
    *n_r = n;
    return MF_E_OK;
}

static void
msg(struct mf_store_append_msg *m, struct src *s, const char *flags,
    const char *date, const char *body) {
    s->data = body;
    s->off = 0;
    m->flags = flags;
    m->date = date;
    m->body.size = strlen(body);
    m->body.read = src_read;
    m->body.release = NULL;
    m->body.ud = s;
}

struct done {
    int calls;
    mf_err code;
    uint32_t retry_after_ms, uidvalidity;
    uint32_t uids[8];
    size_t n;
    char detail[256];
    /* Single APPENDs: each message's own answer. */
    bool per_message;
    mf_err codes[8];
    uint32_t uidvalidities[8];
};

static void
on_done(void *ud, const struct mf_store_done *d) {
    struct done *r = ud;
    r->calls++;
    r->code = d->error.code;
    r->retry_after_ms = d->retry_after_ms;
    r->uidvalidity = d->uidvalidity;
    r->n = d->n;
    r->per_message = d->msgs != NULL;
    for (size_t i = 0; i < d->n && i < 8; i++) {
        if (d->msgs) {
            r->codes[i] = d->msgs[i].error.code;
            r->uids[i] = d->msgs[i].uid;
            r->uidvalidities[i] = d->msgs[i].uidvalidity;
        } else {
            r->uids[i] = d->uids[i];
        }
    }
    snprintf(r->detail, sizeof(r->detail), "%s", d->error.detail);
}

/* Queues an APPEND to folder of one message, body, with no flags or
 * date; its answer goes to d. s reads the body. */
static void
append_plain(struct t *t, const char *folder, struct src *s, const char *body,
             struct done *d) {
    struct mf_store_append_msg m = {0};

    msg(&m, s, "", NULL, body);
    assert_int_equal(t->st->ops->append(t->st, folder, &m, 1, on_done, d),
                     MF_E_OK);
}

static void
test_multiappend_text_and_appenduid(void **state) {
    struct t t = {0};
    struct mf_store_append_msg m[3] = {{0}};
    struct src s[3];
    struct done d = {0};
    (void)state;

    open_store(&t,
               CAPS_PLUS
               "C: $2 APPEND INBOX (\\Seen $Work) \"17-Jul-1996 02:44:25 "
               "-0700\" {5+}\n"
               "C: hello () {3+}\n"
               "C: abc (\\Flagged) \" 1-Jan-2020 00:00:00 +0000\" {4+}\n"
               "C: x\n"
               "C: y\n"
               "S: $2 OK [APPENDUID 38505 3955:3957] APPEND completed\n"
               "C: $3 APPEND \"Sent Items\" () {2+}\n"
               "C: hi\n"
               "S: $3 OK [APPENDUID 38505 3958] done\n" LOGOUT,
               0);
    msg(&m[0], &s[0], "\\Seen $Work", "17-Jul-1996 02:44:25 -0700", "hello");
    msg(&m[1], &s[1], "", NULL, "abc");
    msg(&m[2], &s[2], "\\Flagged", " 1-Jan-2020 00:00:00 +0000", "x\r\ny");
    assert_int_equal(t.st->ops->append(t.st, "INBOX", m, 3, on_done, &d),
                     MF_E_OK);
    assert_int_equal(d.calls, 0); /* queued, not waited for */
    assert_int_equal(t.st->ops->flush(t.st, 0), MF_E_OK);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.code, MF_E_OK);
    assert_int_equal(d.uidvalidity, 38505);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.uids[0], 3955);
    assert_int_equal(d.uids[1], 3956);
    assert_int_equal(d.uids[2], 3957);

    memset(&d, 0, sizeof(d));
    msg(&m[0], &s[0], "", NULL, "hi");
    assert_int_equal(t.st->ops->append(t.st, "Sent Items", m, 1, on_done, &d),
                     MF_E_OK);
    assert_int_equal(t.st->ops->flush(t.st, 0), MF_E_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.uids[0], 3958);
    finish_store(&t);
}

static void
test_append_sync_literal(void **state) {
    struct t t = {0};
    struct mf_store_append_msg m = {0};
    struct src s;
    struct done d = {0};
    (void)state;

    /* Without LITERAL+ the literal waits for the server's "+". */
    open_store(&t,
               CAPS_SYNC "C: $2 APPEND INBOX (\\Seen) {5}\n"
                         "QUIET 100\n"
                         "S: + go ahead\n"
                         "C+: hello\\r\\n\n"
                         "S: $2 OK [APPENDUID 7 1] done\n" LOGOUT,
               0);
    assert_int_equal(t.st->caps.delim, '.');
    assert_false(t.st->caps.multiappend);
    msg(&m, &s, "\\Seen", NULL, "hello");
    assert_int_equal(t.st->ops->append(t.st, "INBOX", &m, 1, on_done, &d),
                     MF_E_OK);
    assert_int_equal(t.st->ops->flush(t.st, 0), MF_E_OK);
    assert_int_equal(d.code, MF_E_OK);
    assert_int_equal(d.uidvalidity, 7);
    assert_int_equal(d.uids[0], 1);
    finish_store(&t);
}

static void
test_append_errors(void **state) {
    struct t t = {0};
    struct src s[3];
    struct done d[3] = {{0}};
    (void)state;

    open_store(&t,
               CAPS_PLUS "C: $2 APPEND INBOX () {1+}\n"
                         "C: a\n"
                         "C: $3 APPEND Gone () {1+}\n"
                         "C: b\n"
                         "C: $4 APPEND INBOX () {1+}\n"
                         "C: c\n"
                         "S: $2 NO [OVERQUOTA] Quota exceeded\n"
                         "S: $3 NO [TRYCREATE] Mailbox does not exist\n"
                         "S: $4 NO [UNAVAILABLE] Busy, try again in 30 "
                         "seconds\n" LOGOUT,
               0);
    append_plain(&t, "INBOX", &s[0], "a", &d[0]);
    append_plain(&t, "Gone", &s[1], "b", &d[1]);
    append_plain(&t, "INBOX", &s[2], "c", &d[2]);
    /* Refusals fail their command only; the store goes on. */
    assert_int_equal(t.st->ops->flush(t.st, 0), MF_E_OK);
    assert_int_equal(d[0].calls, 1);
    assert_int_equal(d[0].code, MF_E_OVERQUOTA);
    assert_non_null(strstr(d[0].detail, "OVERQUOTA"));
    assert_int_equal(d[0].n, 0);
    assert_int_equal(d[1].code, MF_E_MAILBOX_MISSING);
    assert_int_equal(d[2].code, MF_E_THROTTLED);
    assert_int_equal(d[2].retry_after_ms, 30000);
    finish_store(&t);
}

static void
test_append_disconnect_runs_callbacks(void **state) {
    struct t t = {0};
    struct src s[2];
    struct done d[2] = {{0}};
    mf_err rc;
    (void)state;

    open_store(&t,
               CAPS_PLUS "C: $2 APPEND INBOX () {1+}\n"
                         "C: a\n"
                         "C: $3 APPEND INBOX () {1+}\n"
                         "C: b\n"
                         "S: $2 OK [APPENDUID 1 5] done\n"
                         "CLOSE\n",
               0);
    append_plain(&t, "INBOX", &s[0], "a", &d[0]);
    append_plain(&t, "INBOX", &s[1], "b", &d[1]);
    rc = t.st->ops->flush(t.st, 0);
    assert_int_equal(mf_err_class_of(rc), MF_ERRCLASS_RECONNECT);
    /* Each callback ran exactly once: the first confirmed, the second
     * with the error. */
    assert_int_equal(d[0].calls, 1);
    assert_int_equal(d[0].code, MF_E_OK);
    assert_int_equal(d[0].uids[0], 5);
    assert_int_equal(d[1].calls, 1);
    assert_int_equal(mf_err_class_of(d[1].code), MF_ERRCLASS_RECONNECT);
    finish_store(&t);
    assert_int_equal(d[0].calls + d[1].calls, 2);
}

/* ------------------------------------------------------------------ */
/* Single APPENDs in flight (no MULTIAPPEND)                           */
/* ------------------------------------------------------------------ */

/* Four single APPENDs: all four are on the wire before the first answer
 * (the fake reads them all before it answers any). */
#define FOUR_APPENDS                                                           \
    "C: $2 APPEND INBOX (\\Seen) \" 1-Jan-2020 00:00:00 +0000\" {1+}\n"        \
    "C: a\n"                                                                   \
    "C: $3 APPEND INBOX () {1+}\n"                                             \
    "C: b\n"                                                                   \
    "C: $4 APPEND INBOX () {1+}\n"                                             \
    "C: c\n"                                                                   \
    "C: $5 APPEND INBOX () {1+}\n"                                             \
    "C: d\n"

/* Queues the four messages of FOUR_APPENDS to INBOX in one call (m and
 * s hold them); the answer goes to d. */
static void
append_four(struct t *t, struct mf_store_append_msg *m, struct src *s,
            struct done *d) {
    msg(&m[0], &s[0], "\\Seen", " 1-Jan-2020 00:00:00 +0000", "a");
    msg(&m[1], &s[1], "", NULL, "b");
    msg(&m[2], &s[2], "", NULL, "c");
    msg(&m[3], &s[3], "", NULL, "d");
    assert_int_equal(t->st->ops->append(t->st, "INBOX", m, 4, on_done, d),
                     MF_E_OK);
}

static void
test_singles_out_of_order(void **state) {
    struct t t = {0};
    struct mf_store_append_msg m[4] = {{0}};
    struct src s[4];
    struct done d = {0};
    (void)state;

    open_store(&t,
               CAPS_EXCHANGE FOUR_APPENDS
               "S: $4 OK [APPENDUID 9 103] APPEND completed.\n"
               "S: $2 OK [APPENDUID 9 101] APPEND completed.\n"
               "S: $5 OK [APPENDUID 9 104] APPEND completed.\n"
               "S: $3 OK [APPENDUID 9 102] APPEND completed.\n" LOGOUT,
               0);
    assert_false(t.st->caps.multiappend);
    append_four(&t, m, s, &d);
    assert_int_equal(d.calls, 0);
    assert_int_equal(t.st->ops->flush(t.st, 0), MF_E_OK);
    /* One callback for the batch, each UID with its own message. */
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.code, MF_E_OK);
    assert_true(d.per_message);
    assert_int_equal(d.n, 4);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(d.codes[i], MF_E_OK);
        assert_int_equal(d.uids[i], 101 + i);
        assert_int_equal(d.uidvalidities[i], 9);
    }
    finish_store(&t);
}

static void
test_singles_no_in_the_middle(void **state) {
    struct t t = {0};
    struct mf_store_append_msg m[4] = {{0}};
    struct src s[5];
    struct done d = {0}, d2 = {0};
    (void)state;

    open_store(&t,
               CAPS_EXCHANGE FOUR_APPENDS
               "S: $2 OK [APPENDUID 9 101] done\n"
               "S: $3 NO [CANNOT] Message refused\n"
               "S: $4 OK [APPENDUID 9 102] done\n"
               "S: $5 OK [APPENDUID 9 103] done\n"
               "C: $6 APPEND INBOX () {1+}\n"
               "C: e\n"
               "S: $6 OK [APPENDUID 9 104] done\n" LOGOUT,
               0);
    append_four(&t, m, s, &d);
    assert_int_equal(t.st->ops->flush(t.st, 0), MF_E_OK);
    assert_int_equal(d.calls, 1);
    /* The batch's error is the refusal; the others are confirmed. */
    assert_int_equal(d.code, MF_E_IMAP_NO);
    assert_non_null(strstr(d.detail, "Message refused"));
    assert_int_equal(d.codes[0], MF_E_OK);
    assert_int_equal(d.uids[0], 101);
    assert_int_equal(d.codes[1], MF_E_IMAP_NO);
    assert_int_equal(d.uids[1], 0);
    assert_int_equal(d.codes[2], MF_E_OK);
    assert_int_equal(d.uids[2], 102);
    assert_int_equal(d.codes[3], MF_E_OK);
    assert_int_equal(d.uids[3], 103);
    /* The store goes on. */
    msg(&m[0], &s[4], "", NULL, "e");
    assert_int_equal(t.st->ops->append(t.st, "INBOX", m, 1, on_done, &d2),
                     MF_E_OK);
    assert_int_equal(t.st->ops->flush(t.st, 0), MF_E_OK);
    assert_int_equal(d2.code, MF_E_OK);
    assert_false(d2.per_message);
    assert_int_equal(d2.uids[0], 104);
    finish_store(&t);
}

static void
test_singles_drop_in_flight(void **state) {
    struct t t = {0};
    struct mf_store_append_msg m[4] = {{0}};
    struct src s[4];
    struct done d = {0};
    mf_err rc;
    (void)state;

    open_store(&t,
               CAPS_EXCHANGE FOUR_APPENDS "S: $3 OK [APPENDUID 9 102] done\n"
                                          "CLOSE\n",
               0);
    append_four(&t, m, s, &d);
    rc = t.st->ops->flush(t.st, 0);
    assert_int_equal(mf_err_class_of(rc), MF_ERRCLASS_RECONNECT);
    /* Exactly once, with the one confirmed message and three failures
     * that say the connection went (so none is taken as refused). */
    assert_int_equal(d.calls, 1);
    assert_true(d.per_message);
    assert_int_equal(mf_err_class_of(d.code), MF_ERRCLASS_RECONNECT);
    assert_int_equal(d.codes[1], MF_E_OK);
    assert_int_equal(d.uids[1], 102);
    for (unsigned i = 0; i < 4; i++) {
        if (i == 1)
            continue;
        assert_int_equal(mf_err_class_of(d.codes[i]), MF_ERRCLASS_RECONNECT);
        assert_int_equal(d.uids[i], 0);
    }
    /* A broken store queues nothing more, and runs no callback for it. */
    assert_int_not_equal(t.st->ops->append(t.st, "INBOX", m, 4, on_done, &d),
                         MF_E_OK);
    finish_store(&t);
    assert_int_equal(d.calls, 1);
}

/* LITERAL- (RFC 7888 section 5): non-synchronising only up to 4096
 * bytes; a bigger literal waits for "+", and nothing is sent after it
 * until then. */
static void
test_singles_literal_minus(void **state) {
    struct t t = {0};
    struct mf_store_append_msg m[3] = {{0}};
    struct src s[3];
    struct done d = {0};
    char *big = mf_xmalloc(5001);
    (void)state;

    memset(big, 'x', 5000);
    big[5000] = '\0';
    open_store(&t,
               "C: $0 CAPABILITY\n"
               "S: * CAPABILITY IMAP4rev1 LITERAL- UIDPLUS NAMESPACE\n"
               "S: $0 OK done\n"
               "C: $1 NAMESPACE\n"
               "S: * NAMESPACE ((\"\" \"/\")) NIL NIL\n"
               "S: $1 OK done\n"
               "C: $2 APPEND INBOX () {2+}\n"
               "C: ab\n"
               "C: $3 APPEND INBOX () {5000}\n"
               "QUIET 100\n"
               "S: + go ahead\n"
               "C*: 5000 x\n"
               "C:\n"
               "C: $4 APPEND INBOX () {2+}\n"
               "C: cd\n"
               "S: $2 OK [APPENDUID 9 1] done\n"
               "S: $3 OK [APPENDUID 9 2] done\n"
               "S: $4 OK [APPENDUID 9 3] done\n" LOGOUT,
               0);
    msg(&m[0], &s[0], "", NULL, "ab");
    msg(&m[1], &s[1], "", NULL, big);
    msg(&m[2], &s[2], "", NULL, "cd");
    assert_int_equal(t.st->ops->append(t.st, "INBOX", m, 3, on_done, &d),
                     MF_E_OK);
    assert_int_equal(t.st->ops->flush(t.st, 0), MF_E_OK);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.code, MF_E_OK);
    assert_int_equal(d.uids[0], 1);
    assert_int_equal(d.uids[1], 2);
    assert_int_equal(d.uids[2], 3);
    finish_store(&t);
    free(big);
}

/* ------------------------------------------------------------------ */
/* Folders                                                             */
/* ------------------------------------------------------------------ */

static void
test_create_and_select_errors(void **state) {
    struct t t = {0};
    struct mf_store_select sel;
    (void)state;

    open_store(&t,
               CAPS_PLUS "C: $2 CREATE Archive\n"
                         "S: $2 NO [ALREADYEXISTS] Mailbox already exists\n"
                         "C: $3 CREATE \"Bad Name\"\n"
                         "S: $3 NO [CANNOT] Invalid name\n"
                         "C: $4 SELECT Nope\n"
                         "S: $4 NO [NONEXISTENT] Unknown mailbox\n"
                         "C: $5 SUBSCRIBE Archive\n"
                         "S: $5 OK done\n" LOGOUT,
               0);
    assert_int_equal(t.st->ops->create(t.st, "Archive"), MF_E_OK);
    assert_int_equal(t.st->ops->create(t.st, "Bad Name"), MF_E_IMAP_NO);
    assert_non_null(strstr(t.st->error.detail, "Invalid name"));
    assert_int_equal(t.st->ops->select(t.st, "Nope", false, &sel),
                     MF_E_MAILBOX_MISSING);
    assert_int_equal(t.st->ops->subscribe(t.st, "Archive"), MF_E_OK);
    finish_store(&t);
}

/* folders(): every CREATE on the wire before the first answer, each
 * answer to its own name; then the SUBSCRIBEs the same way. */
static void
test_folders_pipelined(void **state) {
    struct t t = {0};
    const char *names[3] = {"Archive", "Sent Items", "Bad*Name"};
    struct mf_error errs[3];
    (void)state;

    open_store(&t,
               CAPS_EXCHANGE
               "C: $2 CREATE Archive\n"
               "C: $3 CREATE \"Sent Items\"\n"
               "C: $4 CREATE \"Bad*Name\"\n"
               "S: $3 NO [ALREADYEXISTS] Mailbox already exists\n"
               "S: $2 OK CREATE completed.\n"
               "S: $4 NO [CANNOT] Invalid mailbox name\n"
               "C: $5 SUBSCRIBE Archive\n"
               "C: $6 SUBSCRIBE \"Sent Items\"\n"
               "S: $5 OK done\n"
               "S: $6 NO [UNAVAILABLE] try again in 5 seconds\n" LOGOUT,
               0);
    assert_int_equal(mf_store_folders(t.st, false, names, 3, errs), MF_E_OK);
    assert_int_equal(errs[0].code, MF_E_OK);
    assert_int_equal(errs[1].code, MF_E_OK); /* exists: done */
    assert_int_equal(errs[2].code, MF_E_IMAP_NO);
    assert_non_null(strstr(errs[2].detail, "Invalid mailbox name"));
    assert_int_equal(mf_store_folders(t.st, true, names, 2, errs), MF_E_OK);
    assert_int_equal(errs[0].code, MF_E_OK);
    assert_int_equal(errs[1].code, MF_E_THROTTLED);
    assert_int_equal(t.st->retry_after_ms, 5000);
    finish_store(&t);
}

/* select_ahead(): the SELECT is on the wire at once (the fake waits only
 * 300 ms for it while the test does not drive the session for 500 ms);
 * select() of that name takes its answer; one of another name is waited
 * out first; a NO comes back from select() with its code. */
static void
test_select_ahead(void **state) {
    struct t t = {0};
    struct mf_store_select sel = {0};
    struct timespec pause = {0, 500 * 1000000L};
    (void)state;

    open_store(&t,
               CAPS_EXCHANGE "TIMEOUT 300\n"
                             "C: $2 SELECT Archive\n"
                             "TIMEOUT 3000\n"
                             "S: * 3 EXISTS\n"
                             "S: * OK [UIDVALIDITY 77] ok\n"
                             "S: * OK [UIDNEXT 9] ok\n"
                             "S: $2 OK [READ-WRITE] done\n"
                             "C: $3 SELECT Drafts\n"
                             "S: * 0 EXISTS\n"
                             "S: * OK [UIDVALIDITY 78] ok\n"
                             "S: $3 OK [READ-WRITE] done\n"
                             "C: $4 SELECT INBOX\n"
                             "S: * 5 EXISTS\n"
                             "S: * OK [UIDVALIDITY 79] ok\n"
                             "S: $4 OK [READ-WRITE] done\n"
                             "C: $5 SELECT Gone\n"
                             "S: $5 NO [NONEXISTENT] Unknown mailbox\n" LOGOUT,
               0);
    t.st->ops->select_ahead(t.st, "Archive");
    nanosleep(&pause, NULL);
    assert_int_equal(t.st->ops->select(t.st, "Archive", false, &sel), MF_E_OK);
    assert_int_equal(sel.uidvalidity, 77);
    assert_int_equal(sel.uidnext, 9);
    assert_int_equal(sel.exists, 3);
    /* Sent ahead for Drafts, but INBOX is selected: Drafts is answered
     * first, then INBOX is selected as usual. */
    t.st->ops->select_ahead(t.st, "Drafts");
    assert_int_equal(t.st->ops->select(t.st, "INBOX", false, &sel), MF_E_OK);
    assert_int_equal(sel.uidvalidity, 79);
    assert_int_equal(sel.exists, 5);
    t.st->ops->select_ahead(t.st, "Gone");
    assert_int_equal(t.st->ops->select(t.st, "Gone", false, &sel),
                     MF_E_MAILBOX_MISSING);
    assert_non_null(strstr(t.st->error.detail, "Unknown mailbox"));
    finish_store(&t);
}

/* UID MOVE (RFC 6851): COPYUID untagged before the EXPUNGEs, in parts
 * (section 3.3), or in the tagged OK (Gmail, UIDPLUS alone); none at
 * all; one naming a UID not asked for (ignored, never trusted); a NO. */
static void
test_move_copyuid(void **state) {
    struct t t = {0};
    struct mf_store_select sel = {0};
    uint32_t uids[3] = {4, 5, 9}, got[3], uv, one;
    (void)state;

    open_store(&t,
               CAPS_EXCHANGE "C: $2 SELECT INBOX\n"
                             "S: * 9 EXISTS\n"
                             "S: * OK [UIDVALIDITY 38505] ok\n"
                             "S: $2 OK [READ-WRITE] done\n"
                             "C: $3 UID MOVE 4:5,9 \"Sent Items\"\n"
                             "S: * OK [COPYUID 432432 5:4 1203:1202] part\n"
                             "S: * 2 EXPUNGE\n"
                             "S: * 2 EXPUNGE\n"
                             "S: * OK [COPYUID 432432 9 1210] part\n"
                             "S: * 5 EXPUNGE\n"
                             "S: $3 OK Move completed\n"
                             "C: $4 UID MOVE 7 Archive\n"
                             "S: * 3 EXPUNGE\n"
                             "S: $4 OK [COPYUID 432432 7 55] done\n"
                             "C: $5 UID MOVE 8 Archive\n"
                             "S: $5 OK done\n"
                             "C: $6 UID MOVE 10 Archive\n"
                             "S: * OK [COPYUID 432432 11 56] wrong\n"
                             "S: $6 OK done\n"
                             "C: $7 UID MOVE 12 Gone\n"
                             "S: $7 NO [TRYCREATE] no such mailbox\n" LOGOUT,
               0);
    assert_true(t.st->caps.move);
    assert_int_equal(t.st->ops->select(t.st, "INBOX", false, &sel), MF_E_OK);
    assert_int_equal(
        t.st->ops->move_uids(t.st, uids, 3, "Sent Items", &uv, got), MF_E_OK);
    assert_int_equal(uv, 432432);
    assert_int_equal(got[0], 1202); /* paired in the order written */
    assert_int_equal(got[1], 1203);
    assert_int_equal(got[2], 1210);
    uids[0] = 7;
    assert_int_equal(t.st->ops->move_uids(t.st, uids, 1, "Archive", &uv, &one),
                     MF_E_OK);
    assert_int_equal(uv, 432432);
    assert_int_equal(one, 55);
    uids[0] = 8;
    assert_int_equal(t.st->ops->move_uids(t.st, uids, 1, "Archive", &uv, &one),
                     MF_E_OK);
    assert_int_equal(uv, 0);
    assert_int_equal(one, 0);
    uids[0] = 10;
    assert_int_equal(t.st->ops->move_uids(t.st, uids, 1, "Archive", &uv, &one),
                     MF_E_OK);
    assert_int_equal(one, 0);
    uids[0] = 12;
    assert_int_not_equal(t.st->ops->move_uids(t.st, uids, 1, "Gone", &uv, &one),
                         MF_E_OK);
    assert_non_null(strstr(t.st->error.detail, "no such mailbox"));
    finish_store(&t);
}

struct flist {
    struct mf_buf text;
};

static mf_err
on_folder(void *ud, const struct mf_store_folder *f) {
    struct flist *l = ud;
    mf_buf_appendf(&l->text, "%.*s|%c|%s|%s%s\n", (int)f->len,
                   (const char *)f->name, f->delim ? f->delim : '0',
                   f->subscribed ? "sub" : "-",
                   f->attrs & MF_FOLDER_ATTR_SENT ? "sent" : "",
                   f->attrs & MF_FOLDER_ATTR_NOSELECT ? "noselect" : "");
    return MF_E_OK;
}

static void
test_list_and_lsub(void **state) {
    struct t t = {0};
    struct flist l = {0};
    (void)state;

    open_store(&t,
               CAPS_PLUS "C: $2 LIST \"\" *\n"
                         "S: * LIST (\\HasNoChildren) \"/\" INBOX\n"
                         "S: * LIST (\\HasNoChildren \\Sent) \"/\" Sent\n"
                         "S: * LIST (\\Noselect \\HasChildren) \"/\" A\n"
                         "S: * LIST () \"/\" \"A/b c\"\n"
                         "S: $2 OK done\n"
                         "C: $3 LSUB \"\" *\n"
                         "S: * LSUB () \"/\" INBOX\n"
                         "S: * LSUB () \"/\" \"A/b c\"\n"
                         "S: * LSUB () \"/\" Deleted\n"
                         "S: $3 OK done\n" LOGOUT,
               0);
    assert_int_equal(t.st->ops->list(t.st, on_folder, &l), MF_E_OK);
    mf_buf_append(&l.text, "", 1);
    assert_string_equal((char *)l.text.data, "INBOX|/|sub|\n"
                                             "Sent|/|-|sent\n"
                                             "A|/|-|noselect\n"
                                             "A/b c|/|sub|\n");
    mf_buf_free(&l.text);
    finish_store(&t);
}

/* How a side is reached (mf_store_imap_side()): the engine and the plan
 * both take every field from here. */
static void
test_side_options(void **state) {
    struct mf_migrate_server srv = {.ca_file = "ca.pem",
                                    .insecure = true,
                                    .bind_address = "192.0.2.1",
                                    .connect_timeout_ms = 1000,
                                    .io_timeout_ms = 2000,
                                    .command_timeout_ms = 3000};
    struct mf_migrate_login lg = {.user = "admin",
                                  .password = "pw",
                                  .authzid = "ann",
                                  .oauth_token = "tok",
                                  .user_root = "Ann",
                                  .oauth_mailbox = "ann@x.test"};
    struct mf_imap_conn_options co;
    struct mf_imap_login il;

    (void)state;
    snprintf(srv.endpoint.host, sizeof(srv.endpoint.host), "imap.x.test");
    srv.endpoint.port = 993;
    memset(&il, 0x5a, sizeof(il));
    mf_store_imap_side(&srv, &lg, NULL, &co, &il);
    assert_string_equal(co.endpoint.host, "imap.x.test");
    assert_int_equal(co.endpoint.port, 993);
    assert_ptr_equal(co.ca_file, srv.ca_file);
    assert_true(co.insecure);
    assert_ptr_equal(co.bind_address, srv.bind_address);
    assert_int_equal(co.connect_timeout_ms, 1000);
    assert_int_equal(co.io_timeout_ms, 2000);
    assert_ptr_equal(il.user, lg.user);
    assert_ptr_equal(il.password, lg.password);
    assert_ptr_equal(il.authzid, lg.authzid);
    assert_ptr_equal(il.oauth_token, lg.oauth_token);
    assert_null(il.oauth);
    assert_ptr_equal(il.oauth_mailbox, lg.oauth_mailbox);
    assert_false(il.sasl_plain); /* generic: curl picks the mechanism */
    /* Exchange Server lists NTLM first: its profile insists on PLAIN, for
     * the copy and the plan alike. */
    mf_store_imap_side(&srv, &lg, mf_profile_or_generic("exchange-onprem"), &co,
                       &il);
    assert_true(il.sasl_plain);
    mf_store_imap_side(&srv, &lg, mf_profile_generic(), &co, &il);
    assert_false(il.sasl_plain);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_side_options),
        cmocka_unit_test(test_fetch_meta),
        cmocka_unit_test(test_fetch_meta_merged_and_reported),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_streamed_body_uid_checked),
        cmocka_unit_test(test_fetch_bodies_streamed_expunge),
        cmocka_unit_test(test_fetch_bodies_bye),
        cmocka_unit_test(test_multiappend_text_and_appenduid),
        cmocka_unit_test(test_append_sync_literal),
        cmocka_unit_test(test_append_errors),
        cmocka_unit_test(test_append_disconnect_runs_callbacks),
        cmocka_unit_test(test_singles_out_of_order),
        cmocka_unit_test(test_singles_no_in_the_middle),
        cmocka_unit_test(test_singles_drop_in_flight),
        cmocka_unit_test(test_singles_literal_minus),
        cmocka_unit_test(test_create_and_select_errors),
        cmocka_unit_test(test_folders_pipelined),
        cmocka_unit_test(test_move_copyuid),
        cmocka_unit_test(test_select_ahead),
        cmocka_unit_test(test_list_and_lsub),
        /* Last: it aborts the program until the bug it shows is fixed. */
        cmocka_unit_test(test_fetch_bodies_disconnect_mid_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
