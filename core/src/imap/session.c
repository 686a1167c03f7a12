/*
 * The IMAP session: lifecycle, state machine, capabilities and response
 * dispatch (see mailferry/imap_session.h; session_int.h says which file does
 * what).
 *
 * Data structures (session_int.h). Commands live in one FIFO list
 * (head..tail) in submit order, which is also send order. send_cur points
 * at the first command not completely sent; the ones before it are in
 * flight. While `waiting` is set nothing more is sent at all (RFC 3501
 * section 7.5: the continuation belongs to the oldest command that asked,
 * and a byte of a later command would be read as literal data). Rendering
 * a command is session_submit.c's job, sending and reading session_io.c's.
 *
 * Dispatch. The parser calls back here for every response: a "+" releases
 * the waiting command, untagged responses update the capabilities and the
 * selected mailbox's numbers and go to the handler registered for their
 * keyword, a tagged answer moves the state machine (SELECT, CLOSE) and
 * completes its command.
 *
 * Completion. A tagged answer completes its command at once (callback),
 * even if the command is still being sent (a NO to a synchronizing
 * literal: the rest of it is then skipped; anything else: it is finished
 * first, because a literal cannot be cut short). Breaking the session
 * fails every queued command, in order, exactly once.
 */
#include "imap/session_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define DEFAULT_WINDOW 32
#define DEFAULT_TIMEOUT_MS 120000L

/* ================================================================== */
/* Queue bookkeeping, breaking the session                             */
/* ================================================================== */

const char *
mf_imap_state_name(enum mf_imap_state st) {
    switch (st) {
    case MF_IMAP_STATE_NOT_AUTHENTICATED:
        return "not authenticated";
    case MF_IMAP_STATE_AUTHENTICATED:
        return "authenticated";
    case MF_IMAP_STATE_SELECTED:
        return "selected";
    case MF_IMAP_STATE_LOGOUT:
        return "logout";
    case MF_IMAP_STATE_BROKEN:
        return "broken";
    }
    return "?";
}

void
mf__imap_session_trace(struct mf_imap_session *s, bool sent, const char *p,
                       size_t n) {
    if (s->trace)
        s->trace(s->trace_ud, sent, p, n);
}

/* Releases c's body sources (once: the pointers are cleared) and makes
 * sure they are never read again. */
static void
release_sources(struct mf__imap_cmd *c) {
    for (size_t i = 0; i < c->nparts; i++) {
        struct mf_imap_body_source *src = &c->parts[i].src;
        if (c->parts[i].kind != MF__IMAP_PART_SOURCE)
            continue;
        if (src->release)
            src->release(src->ud);
        src->release = NULL;
        src->read = NULL;
        src->ud = NULL;
    }
}

void
mf__imap_session_cmd_free(struct mf__imap_cmd *c) {
    release_sources(c);
    mf_buf_free(&c->out);
    mf_buf_free(&c->trace);
    free(c->parts);
    free(c);
}

void
mf__imap_session_cmd_unlink(struct mf_imap_session *s, struct mf__imap_cmd *c) {
    struct mf__imap_cmd **pp = &s->head, *prev = NULL;

    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    MF_ASSERT(*pp == c);
    *pp = c->next;
    if (s->tail == c)
        s->tail = prev;
    MF_ASSERT(s->send_cur != c && s->waiting != c);
}

void
mf__imap_session_window(struct mf_imap_session *s) {
    uint64_t exists = s->mbox.exists;

    /* A folder of more than ten million messages is not real; a server
     * that says so does not get an endless budget. */
    if (exists > 10000000)
        exists = 10000000;
    s->head_since = mf__imap_now_ms();
    s->head_bytes = 0;
    s->head_untagged = 0;
    s->head_budget = s->untagged_base + 2 * exists;
}

/* Runs c's callback once and updates the counters; frees c when nothing
 * of it remains to be sent. */
void
mf__imap_session_complete(struct mf_imap_session *s, struct mf__imap_cmd *c,
                          const struct mf_imap_result *res) {
    MF_ASSERT(!c->done);
    c->done = true;
    s->pending--;
    if (c->started)
        s->inflight--;
    if (s->waiting == c) {
        /* NO/BAD instead of "+": the literal is never sent. */
        s->waiting = NULL;
        c->sent = true;
        MF_ASSERT(s->send_cur == c);
        s->send_cur = c->next;
    }
    /* Its sources are not read after the callback (mailferry/imap_session.h).
     */
    release_sources(c);
    if (c->cb)
        c->cb(c->ud, res);
    if (c->sent) {
        mf__imap_session_cmd_unlink(s, c);
        mf__imap_session_cmd_free(c);
    }
}

/* Fails every queued command with err (in submit order), frees them all. */
static void
fail_all(struct mf_imap_session *s, const struct mf_error *err,
         uint32_t retry_after_ms) {
    struct mf__imap_cmd *c = s->head;
    struct mf_imap_result res;

    memset(&res, 0, sizeof(res));
    res.error = *err;
    res.retry_after_ms = retry_after_ms;
    s->head = s->tail = s->send_cur = s->waiting = NULL;
    while (c) {
        struct mf__imap_cmd *next = c->next;
        if (!c->done) {
            c->done = true;
            s->pending--;
            release_sources(c);
            /* A command the server answered keeps its answer. */
            if (c->cb)
                c->cb(c->ud, c->answered ? &c->early : &res);
        }
        mf__imap_session_cmd_free(c);
        c = next;
    }
    s->inflight = 0;
    MF_ASSERT(s->pending == 0 && s->head == NULL);
}

/* Breaks the session: state BROKEN, every command fails with this error.
 * Returns the code. */
mf_err
mf__imap_session_break(struct mf_imap_session *s, const struct mf_error *err,
                       uint32_t retry_after_ms) {
    if (s->state == MF_IMAP_STATE_BROKEN)
        return s->err.code;
    s->state = MF_IMAP_STATE_BROKEN;
    s->err = *err;
    /* Nothing is sent any more. */
    mf_buf_reset(&s->out);
    s->out_off = 0;
    s->retry_after_ms = retry_after_ms;
    fail_all(s, &s->err, retry_after_ms);
    return s->err.code;
}

mf_err
mf__imap_session_break_with(struct mf_imap_session *s, mf_err code,
                            const char *fmt, ...) {
    struct mf_error e = {.code = code};
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
    va_end(ap);
    return mf__imap_session_break(s, &e, 0);
}

/* Sets s->fatal from inside a parser callback; the code stops the feed. */
static mf_err fatal(struct mf_imap_session *s, mf_err code, const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

static mf_err
fatal(struct mf_imap_session *s, mf_err code, const char *fmt, ...) {
    va_list ap;

    if (s->fatal.code != MF_E_OK)
        return s->fatal.code;
    s->fatal.code = code;
    va_start(ap, fmt);
    vsnprintf(s->fatal.detail, sizeof(s->fatal.detail), fmt, ap);
    va_end(ap);
    return code;
}

/* ================================================================== */
/* Response dispatch                                                   */
/* ================================================================== */

static struct mf__imap_handler *
find_handler(struct mf_imap_session *s, const char *kw) {
    for (size_t i = 0; i < s->nhandlers; i++)
        if (strcasecmp(s->handlers[i].keyword, kw) == 0)
            return &s->handlers[i];
    return NULL;
}

/* Renders a list of flags back to text: "(\Seen \Answered)". */
static void
render_flags(char *out, size_t cap, const struct mf_imap_arg *a) {
    const struct mf_imap_arg *items;
    struct mf_buf b = {0};
    size_t n;

    if (!mf_imap_arg_as_list(a, &items, &n)) {
        out[0] = '\0';
        return;
    }
    mf_buf_append_str(&b, "(");
    for (size_t i = 0; i < n; i++) {
        const char *f;
        if (!mf_imap_arg_as_astring(&items[i], &f))
            continue;
        if (b.len > 1)
            mf_buf_append_str(&b, " ");
        mf_buf_append_str(&b, f);
    }
    mf_buf_append_str(&b, ")");
    snprintf(out, cap, "%s", (const char *)b.data);
    mf_buf_free(&b);
}

/* The session's own bookkeeping of status-response codes (RFC 3501
 * section 7.1): capabilities and the selected mailbox's numbers. */
static void
note_resp_code(struct mf_imap_session *s, const struct mf_imap_response *r) {
    const struct mf_imap_resp_code *rc = &r->code;
    uint32_t v32;
    uint64_t v64;

    if (!rc->name)
        return;
    if (strcmp(rc->name, "CAPABILITY") == 0 && rc->args_ok) {
        s->caps = mf_imap_caps_parse(rc->args, rc->nargs, &s->appendlimit);
    } else if (strcmp(rc->name, "UIDVALIDITY") == 0 && rc->nargs == 1 &&
               mf_imap_arg_as_u32(&rc->args[0], &v32)) {
        s->mbox.uidvalidity = v32;
    } else if (strcmp(rc->name, "UIDNEXT") == 0 && rc->nargs == 1 &&
               mf_imap_arg_as_u32(&rc->args[0], &v32)) {
        s->mbox.uidnext = v32;
    } else if (strcmp(rc->name, "HIGHESTMODSEQ") == 0 && rc->nargs == 1 &&
               mf_imap_arg_as_u64(&rc->args[0], &v64)) {
        s->mbox.highestmodseq = v64;
    } else if (strcmp(rc->name, "PERMANENTFLAGS") == 0) {
        snprintf(s->mbox.permanent_flags, sizeof(s->mbox.permanent_flags), "%s",
                 rc->raw ? rc->raw : "");
    } else if (strcmp(rc->name, "READ-ONLY") == 0) {
        s->mbox.read_only = true;
    } else if (strcmp(rc->name, "READ-WRITE") == 0) {
        s->mbox.read_only = false;
    }
}

static mf_err
on_untagged(struct mf_imap_session *s, const struct mf_imap_response *r) {
    const char *kw = r->keyword ? r->keyword : "";
    struct mf__imap_handler *h;

    if (++s->head_untagged > s->head_budget)
        return fatal(s, MF_E_SERVER_FLOOD,
                     "%llu untagged responses without a tagged answer (the "
                     "last: %.40s); the budget is %llu",
                     (unsigned long long)s->head_untagged, kw,
                     (unsigned long long)s->head_budget);
    if (r->status != MF_IMAP_STATUS_NONE)
        note_resp_code(s, r);
    if (r->status == MF_IMAP_STATUS_BYE && !s->got_bye) {
        struct mf_imap_result res;
        s->got_bye = true;
        mf_imap_status_to_error(r, &res);
        s->bye = res.error;
        s->bye_retry_ms = res.retry_after_ms;
    } else if (strcmp(kw, "CAPABILITY") == 0) {
        s->caps = mf_imap_caps_parse(r->args, r->nargs, &s->appendlimit);
    } else if (strcmp(kw, "EXISTS") == 0 && r->has_number) {
        s->mbox.exists = r->number;
    } else if (strcmp(kw, "FLAGS") == 0 && r->nargs >= 1) {
        render_flags(s->mbox.flags, sizeof(s->mbox.flags), &r->args[0]);
    }
    h = find_handler(s, kw);
    if (h) {
        mf_err rc = h->cb(h->ud, r);
        if (rc != MF_E_OK)
            return fatal(s, rc, "untagged %s handler failed: %s", kw,
                         mf_strerror(rc));
    }
    return MF_E_OK;
}

static mf_err
on_tagged(struct mf_imap_session *s, const struct mf_imap_response *r) {
    struct mf_imap_result res;
    struct mf__imap_cmd *c;

    for (c = s->head; c; c = c->next)
        if (c->started && !c->done && !c->answered &&
            strcmp(c->tag, r->tag) == 0)
            break;
    if (!c)
        return fatal(s, MF_E_IMAP_UNEXPECTED,
                     "tagged response for unknown tag \"%.40s\": %s %.100s",
                     r->tag, mf_imap_status_name(r->status), r->text);
    mf_imap_status_to_error(r, &res);
    note_resp_code(s, r);
    switch (c->verb) {
    case MF__IMAP_VERB_SELECT:
        /* RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected. */
        if (s->state != MF_IMAP_STATE_LOGOUT)
            s->state = r->status == MF_IMAP_STATUS_OK
                           ? MF_IMAP_STATE_SELECTED
                           : MF_IMAP_STATE_AUTHENTICATED;
        break;
    case MF__IMAP_VERB_CLOSE:
        if (r->status == MF_IMAP_STATUS_OK && s->state != MF_IMAP_STATE_LOGOUT)
            s->state = MF_IMAP_STATE_AUTHENTICATED;
        break;
    default:
        break;
    }
    mf__imap_session_window(s);
    if (!c->sent && s->waiting != c) {
        /* Answered before the whole command is out: the server reads the
         * rest of a non-synchronizing literal anyway (RFC 7888 section
         * 4), and the body source may be read only until the callback
         * runs, so the callback waits for the last byte (session_io.c). */
        c->answered = true;
        c->early = res;
        c->early.tagged = NULL;
        return MF_E_OK;
    }
    mf__imap_session_complete(s, c, &res);
    return MF_E_OK;
}

static mf_err
on_response(void *ud, const struct mf_imap_response *r) {
    struct mf_imap_session *s = ud;

    if (s->trace) {
        struct mf_buf b = {0};
        mf_imap_response_dump(&b, r, 0);
        mf__imap_session_trace(s, false, (const char *)b.data, b.len);
        mf_buf_free(&b);
    }
    switch (r->kind) {
    case MF_IMAP_RESP_CONTINUATION:
        if (!s->waiting)
            return fatal(s, MF_E_IMAP_UNEXPECTED,
                         "continuation request with no literal pending: "
                         "%.100s",
                         r->text);
        s->waiting->part++;
        s->waiting->off = 0;
        s->waiting = NULL;
        return MF_E_OK;
    case MF_IMAP_RESP_UNTAGGED:
        return on_untagged(s, r);
    case MF_IMAP_RESP_TAGGED:
        return on_tagged(s, r);
    }
    return fatal(s, MF_E_IMAP_UNEXPECTED, "unknown response kind");
}

static mf_err
on_lit_begin(void *ud, const struct mf_imap_literal_info *info) {
    struct mf_imap_session *s = ud;
    return s->lit_begin(s->lit_ud, info);
}

static mf_err
on_lit_data(void *ud, const uint8_t *data, size_t n) {
    struct mf_imap_session *s = ud;
    return s->lit_data(s->lit_ud, data, n);
}

static mf_err
on_lit_end(void *ud) {
    struct mf_imap_session *s = ud;
    return s->lit_end(s->lit_ud);
}

static void
make_parser(struct mf_imap_session *s) {
    struct mf_imap_parser_cb cb = {.on_response = on_response};

    if (s->lit_begin) {
        cb.on_literal_begin = on_lit_begin;
        cb.on_literal_data = on_lit_data;
        cb.on_literal_end = on_lit_end;
    }
    mf_imap_parser_free(&s->parser);
    s->parser = mf_imap_parser_new(&s->limits, &cb, s);
}
/* ================================================================== */
/* Public API                                                          */
/* ================================================================== */

size_t
mf_imap_session_pending(const struct mf_imap_session *s) {
    return s->pending;
}

void
mf_imap_session_on_untagged(struct mf_imap_session *s, const char *keyword,
                            mf_imap_untagged_cb cb, void *ud) {
    struct mf__imap_handler *h = find_handler(s, keyword);

    if (!cb) {
        if (h) {
            free(h->keyword);
            *h = s->handlers[--s->nhandlers];
        }
        return;
    }
    if (!h) {
        s->handlers =
            mf_xrealloc(s->handlers, (s->nhandlers + 1) * sizeof(*s->handlers));
        h = &s->handlers[s->nhandlers++];
        h->keyword = mf_xstrdup(keyword);
    }
    h->cb = cb;
    h->ud = ud;
}

void
mf_imap_session_push_untagged(struct mf_imap_session *s, const char *keyword,
                              mf_imap_untagged_cb cb, void *ud,
                              struct mf_imap_untagged_prev *prev_r) {
    struct mf__imap_handler *h = find_handler(s, keyword);

    prev_r->keyword = keyword;
    prev_r->cb = h ? h->cb : NULL;
    prev_r->ud = h ? h->ud : NULL;
    mf_imap_session_on_untagged(s, keyword, cb, ud);
}

void
mf_imap_session_pop_untagged(struct mf_imap_session *s,
                             const struct mf_imap_untagged_prev *prev) {
    mf_imap_session_on_untagged(s, prev->keyword, prev->cb, prev->ud);
}

void
mf_imap_session_set_literal_sink(struct mf_imap_session *s,
                                 mf_imap_literal_begin_cb begin,
                                 mf_imap_literal_data_cb data,
                                 mf_imap_literal_end_cb end, void *ud) {
    /* The parser takes its callbacks at creation; between responses it
     * holds no state, so it is simply made anew. A broken session reads
     * nothing more, so a response it was in the middle of is dropped. */
    MF_ASSERT(!s->dispatching && (s->state == MF_IMAP_STATE_BROKEN ||
                                  !mf_imap_parser_in_response(s->parser)));
    MF_ASSERT((begin && data && end) || (!begin && !data && !end));
    s->lit_begin = begin;
    s->lit_data = data;
    s->lit_end = end;
    s->lit_ud = ud;
    make_parser(s);
}

void
mf_imap_session_set_trace(struct mf_imap_session *s, mf_imap_trace_cb cb,
                          void *ud) {
    s->trace = cb;
    s->trace_ud = ud;
}

enum mf_imap_state
mf_imap_session_state(const struct mf_imap_session *s) {
    return s->state;
}

uint32_t
mf_imap_session_caps(const struct mf_imap_session *s) {
    return s->caps;
}

bool
mf_imap_session_has(const struct mf_imap_session *s, uint32_t cap) {
    return (s->caps & cap) == cap;
}

uint64_t
mf_imap_session_appendlimit(const struct mf_imap_session *s) {
    return s->appendlimit;
}

const struct mf_error *
mf_imap_session_error(const struct mf_imap_session *s) {
    return &s->err;
}

uint32_t
mf_imap_session_retry_after_ms(const struct mf_imap_session *s) {
    return s->retry_after_ms;
}

const struct mf_imap_result *
mf_imap_session_last(const struct mf_imap_session *s) {
    return &s->last;
}

mf_err
mf_imap_session_new_on_conn(struct mf_imap_conn *conn,
                            const struct mf_imap_session_options *opts,
                            struct mf_imap_session **s_r, struct mf_error *err,
                            uint32_t *retry_after_ms_r) {
    struct mf_imap_session *s = mf_xcalloc(1, sizeof(*s));
    mf_err rc;

    s->conn = conn;
    s->state = MF_IMAP_STATE_AUTHENTICATED;
    s->window = opts && opts->window ? opts->window : DEFAULT_WINDOW;
    s->timeout_ms =
        opts && opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    s->cmd_timeout_ms = opts && opts->command_timeout_ms
                            ? opts->command_timeout_ms
                            : MF_IMAP_COMMAND_TIMEOUT_MS;
    s->min_rate = opts && opts->min_rate ? opts->min_rate : MF_IMAP_MIN_RATE;
    s->untagged_base = opts && opts->untagged_budget ? opts->untagged_budget
                                                     : MF_IMAP_UNTAGGED_BUDGET;
    mf__imap_session_window(s);
    if (opts && opts->limits)
        s->limits = *opts->limits;
    else
        mf_imap_parser_limits_init(&s->limits);
    s->inbuf = mf_xmalloc(MF_IMAP_SESSION_IOBUF_SIZE);
    s->srcbuf = mf_xmalloc(MF_IMAP_SESSION_OUT_CHUNK);
    make_parser(s);
    /* Capabilities change after login (RFC 3501 6.2.3 and RFC 9051): ask
     * again instead of trusting the greeting's. */
    rc = mf_imap_session_capability(s);
    if (rc != MF_E_OK) {
        if (err)
            *err = s->last.error;
        if (retry_after_ms_r)
            *retry_after_ms_r = s->last.retry_after_ms;
        mf_imap_session_free(&s);
        return rc;
    }
    *s_r = s;
    return MF_E_OK;
}

mf_err
mf_imap_session_open(const struct mf_imap_conn_options *conn_opts,
                     const struct mf_imap_login *login,
                     const struct mf_imap_session_options *opts,
                     struct mf_imap_session **s_r, struct mf_error *err,
                     uint32_t *retry_after_ms_r) {
    struct mf_imap_conn *conn = NULL;
    mf_err rc;

    if (retry_after_ms_r)
        *retry_after_ms_r = 0;
    rc = mf__imap_conn_open(conn_opts, login, &conn, err);
    if (rc != MF_E_OK) {
        if (retry_after_ms_r)
            *retry_after_ms_r =
                mf_imap_parse_retry_after(err->detail, strlen(err->detail));
        return rc;
    }
    return mf_imap_session_new_on_conn(conn, opts, s_r, err, retry_after_ms_r);
}

void
mf_imap_session_abort(struct mf_imap_session *s, const char *why) {
    struct mf_imap_result res;
    struct mf__imap_cmd *c, *next, *last;

    MF_ASSERT(!s->dispatching);
    if (s->state == MF_IMAP_STATE_BROKEN)
        return;
    for (c = s->head; c; c = c->next)
        if (c->started && !c->sent) {
            /* Half sent: the rest cannot go without its source, and
             * padding it would store garbage. */
            (void)mf__imap_session_break_with(
                s, MF_E_CANCELLED,
                "%s (%s was half sent: the connection is closed)", why, c->tag);
            return;
        }
    memset(&res, 0, sizeof(res));
    res.error.code = MF_E_CANCELLED;
    snprintf(res.error.detail, sizeof(res.error.detail), "%s", why);
    /* Commands that callbacks submit meanwhile are not cancelled. */
    last = s->tail;
    for (c = s->head; c; c = next) {
        next = c == last ? NULL : c->next;
        if (c->done)
            continue;
        if (!c->started) {
            /* Never sent: gone. */
            if (s->send_cur == c)
                s->send_cur = c->next;
            c->sent = true;
            mf__imap_session_complete(s, c, &res);
            continue;
        }
        /* On the wire: the callback runs now, the answer is ignored. */
        release_sources(c);
        if (c->cb)
            c->cb(c->ud, &res);
        c->cb = NULL;
        c->ud = NULL;
    }
}

void
mf_imap_session_free(struct mf_imap_session **sp) {
    struct mf_imap_session *s = *sp;

    if (!s)
        return;
    MF_ASSERT(!s->dispatching);
    /* Broken first, so that callbacks cannot submit more. */
    (void)mf__imap_session_break_with(s, MF_E_CANCELLED, "session closed");
    mf__imap_conn_free(&s->conn);
    mf_imap_parser_free(&s->parser);
    for (size_t i = 0; i < s->nhandlers; i++)
        free(s->handlers[i].keyword);
    free(s->handlers);
    mf_buf_free(&s->out);
    free(s->inbuf);
    free(s->srcbuf);
    free(s);
    *sp = NULL;
}

/* ================================================================== */
/* For session_ops.c (session_int.h)                                   */
/* ================================================================== */

struct mf_imap_result *
mf__imap_session_last_mut(struct mf_imap_session *s) {
    return &s->last;
}

const struct mf_imap_mailbox_info *
mf_imap_session_mailbox(const struct mf_imap_session *s) {
    return &s->mbox;
}

void
mf__imap_session_set_state(struct mf_imap_session *s, enum mf_imap_state st) {
    s->state = st;
}

struct mf_imap_conn *
mf__imap_session_conn(struct mf_imap_session *s) {
    return s->conn;
}

void
mf_imap_session_interrupt(struct mf_imap_session *s) {
    int fd = mf__imap_conn_fd(s->conn);

    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

void
mf_imap_session_set_send_gate(struct mf_imap_session *s, bool (*gate)(void *ud),
                              void *ud) {
    mf__imap_conn_set_gate(s->conn, gate, ud);
}
