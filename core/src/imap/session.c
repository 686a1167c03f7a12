/*
 * The IMAP session: command queue, pipelined sending, response dispatch,
 * state machine, and the synchronous helpers (see session.h).
 *
 * Data structures. Commands live in one FIFO list (head..tail) in submit
 * order, which is also send order. send_cur points at the first command
 * not completely sent; the ones before it are in flight. A command is
 * rendered once at submit into `out` (tag, text, literal headers, inline
 * literal bytes, CRLF) and cut into parts: bytes to send, a WAIT for the
 * server's "+" after a synchronizing literal header, or a body source.
 * While `waiting` is set nothing more is sent at all (RFC 3501 section
 * 7.5: the continuation belongs to the oldest command that asked, and a
 * byte of a later command would be read as literal data).
 *
 * I/O never blocks in one direction (conn.h's non-blocking loop). Parts
 * of several commands are staged into `out`, at most about OUT_CHUNK bytes
 * (body sources are read a piece at a time, only as the socket takes what
 * came before), and sent as far as the socket takes them; whatever has
 * arrived is read and parsed first, and the wait is for input and, while
 * bytes are staged, for room to write. So a server that writes big FETCH
 * answers and reads our APPEND literal only once it is done writing cannot
 * deadlock with us. Memory: `out`, `inbuf` and `srcbuf`, bounded, plus
 * what the commands themselves hold.
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

#define DEFAULT_WINDOW 32
#define DEFAULT_TIMEOUT_MS 120000L
/* Staged output: at most about this much waits for the socket. */
#define OUT_CHUNK ((size_t)64 * 1024)
#define IOBUF_SIZE ((size_t)64 * 1024)
/* Reads of IOBUF_SIZE in a row before sending gets a turn. */
#define READS_PER_TURN 16
/* LITERAL- (RFC 7888 section 4): non-synchronizing literals up to 4096. */
#define LITERAL_MINUS_MAX 4096

enum part_kind { PART_BYTES = 1, PART_WAIT, PART_SOURCE };

struct part {
    enum part_kind kind;
    size_t off, len;                /* PART_BYTES: range in cmd->out */
    struct mf_imap_body_source src; /* PART_SOURCE */
};

enum verb { VERB_OTHER = 0, VERB_SELECT, VERB_CLOSE, VERB_LOGOUT, VERB_SECRET };

struct cmd {
    struct cmd *next;
    uint32_t id;
    char tag[16];
    enum verb verb;
    mf_imap_done_cb cb;
    void *ud;
    struct mf_buf out;   /* owned: rendered command */
    struct mf_buf trace; /* owned: the line shown in traces */
    struct part *parts;  /* owned */
    size_t nparts;
    size_t part;  /* the part being sent */
    uint64_t off; /* bytes of that part sent */
    bool started; /* first byte staged: counts as in flight */
    bool sent;    /* every part sent */
    bool done;    /* callback ran */
};

struct handler {
    char *keyword; /* owned, upper case */
    mf_imap_untagged_cb cb;
    void *ud;
};

struct mf_imap_session {
    struct mf_imap_conn *conn;     /* owned */
    struct mf_imap_parser *parser; /* owned */
    struct mf_imap_parser_limits limits;
    enum mf_imap_state state;
    uint32_t caps;
    uint64_t appendlimit;
    unsigned window;
    long timeout_ms;

    struct cmd *head, *tail; /* owned, submit order */
    struct cmd *send_cur;    /* first command not completely sent */
    struct cmd *waiting;     /* waiting for "+" */
    size_t inflight, pending;
    uint32_t next_id;

    struct handler *handlers; /* owned */
    size_t nhandlers;
    mf_imap_literal_begin_cb lit_begin;
    mf_imap_literal_data_cb lit_data;
    mf_imap_literal_end_cb lit_end;
    void *lit_ud;
    mf_imap_trace_cb trace;
    void *trace_ud;

    struct mf_error err; /* what broke the session */
    uint32_t retry_after_ms;
    bool got_bye;
    struct mf_error bye; /* the BYE's words, reported on disconnect */
    uint32_t bye_retry_ms;
    struct mf_error fatal; /* set inside parser callbacks to stop feeding */
    bool dispatching;      /* inside a parser callback */

    struct mf_imap_result last; /* helpers: last result, tagged NULL */
    struct mf_imap_mailbox_info mbox;

    struct mf_buf out; /* owned: staged bytes, sent from out_off on */
    size_t out_off;
    uint8_t *inbuf;  /* owned, IOBUF_SIZE */
    uint8_t *srcbuf; /* owned, OUT_CHUNK: body source reads */
};

/* ================================================================== */
/* Small helpers                                                       */
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

static void
trace_line(struct mf_imap_session *s, bool sent, const char *p, size_t n) {
    if (s->trace)
        s->trace(s->trace_ud, sent, p, n);
}

static void
free_cmd(struct cmd *c) {
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].kind == PART_SOURCE && c->parts[i].src.release)
            c->parts[i].src.release(c->parts[i].src.ud);
    mf_buf_free(&c->out);
    mf_buf_free(&c->trace);
    free(c->parts);
    free(c);
}

static void
unlink_cmd(struct mf_imap_session *s, struct cmd *c) {
    struct cmd **pp = &s->head, *prev = NULL;

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

/* Runs c's callback once and updates the counters; frees c when nothing
 * of it remains to be sent. */
static void
complete(struct mf_imap_session *s, struct cmd *c,
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
    if (c->cb)
        c->cb(c->ud, res);
    if (c->sent) {
        unlink_cmd(s, c);
        free_cmd(c);
    }
}

/* Fails every queued command with err (in submit order), frees them all. */
static void
fail_all(struct mf_imap_session *s, const struct mf_error *err,
         uint32_t retry_after_ms) {
    struct cmd *c = s->head;
    struct mf_imap_result res;

    memset(&res, 0, sizeof(res));
    res.error = *err;
    res.retry_after_ms = retry_after_ms;
    s->head = s->tail = s->send_cur = s->waiting = NULL;
    while (c) {
        struct cmd *next = c->next;
        if (!c->done) {
            c->done = true;
            s->pending--;
            if (c->cb)
                c->cb(c->ud, &res);
        }
        free_cmd(c);
        c = next;
    }
    s->inflight = 0;
    MF_ASSERT(s->pending == 0 && s->head == NULL);
}

/* Breaks the session: state BROKEN, every command fails with this error.
 * Returns the code. */
static mf_err
session_break(struct mf_imap_session *s, const struct mf_error *err,
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

static mf_err break_with(struct mf_imap_session *s, mf_err code,
                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static mf_err
break_with(struct mf_imap_session *s, mf_err code, const char *fmt, ...) {
    struct mf_error e = {.code = code};
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
    va_end(ap);
    return session_break(s, &e, 0);
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

static struct handler *
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
    struct handler *h;

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
    struct cmd *c;

    for (c = s->head; c; c = c->next)
        if (c->started && !c->done && strcmp(c->tag, r->tag) == 0)
            break;
    if (!c)
        return fatal(s, MF_E_IMAP_UNEXPECTED,
                     "tagged response for unknown tag \"%.40s\": %s %.100s",
                     r->tag, mf_imap_status_name(r->status), r->text);
    mf_imap_status_to_error(r, &res);
    note_resp_code(s, r);
    switch (c->verb) {
    case VERB_SELECT:
        /* RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected. */
        if (s->state != MF_IMAP_STATE_LOGOUT)
            s->state = r->status == MF_IMAP_STATUS_OK
                           ? MF_IMAP_STATE_SELECTED
                           : MF_IMAP_STATE_AUTHENTICATED;
        break;
    case VERB_CLOSE:
        if (r->status == MF_IMAP_STATUS_OK && s->state != MF_IMAP_STATE_LOGOUT)
            s->state = MF_IMAP_STATE_AUTHENTICATED;
        break;
    default:
        break;
    }
    complete(s, c, &res);
    return MF_E_OK;
}

static mf_err
on_response(void *ud, const struct mf_imap_response *r) {
    struct mf_imap_session *s = ud;

    if (s->trace) {
        struct mf_buf b = {0};
        mf_imap_response_dump(&b, r, 0);
        trace_line(s, false, (const char *)b.data, b.len);
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
/* I/O                                                                 */
/* ================================================================== */

/* The connection closed: report the BYE if there was one (its words say
 * why), else a plain disconnect. */
static mf_err
on_disconnect(struct mf_imap_session *s, const struct mf_error *e) {
    if (s->got_bye)
        return session_break(s, &s->bye, s->bye_retry_ms);
    if (mf_imap_parser_in_response(s->parser))
        return break_with(s, MF_E_DISCONNECTED,
                          "connection closed in the middle of a response (%s)",
                          e->detail);
    return session_break(s, e, 0);
}

static bool
busy(struct mf_imap_session *s, uint32_t id) {
    if (!id)
        return s->pending > 0;
    for (struct cmd *c = s->head; c; c = c->next)
        if (c->id == id)
            return !c->done;
    return false;
}

/* Reads and parses what has arrived, without waiting, until the
 * connection has nothing more (then it may be polled), command id (0:
 * all) is done, or READS_PER_TURN reads went by (sending gets a turn; the
 * connection remembers it was not drained, so the next wait does not
 * block). */
static mf_err
read_some(struct mf_imap_session *s, uint32_t id) {
    for (int i = 0; i < READS_PER_TURN && busy(s, id); i++) {
        struct mf_error e = {0};
        size_t n = 0, consumed = 0;
        mf_err rc;

        rc = mf__imap_conn_recv_some(s->conn, s->inbuf, IOBUF_SIZE, &n, &e);
        if (rc == MF_E_DISCONNECTED)
            return on_disconnect(s, &e);
        if (rc != MF_E_OK)
            return session_break(s, &e, 0);
        if (n == 0)
            break;
        s->dispatching = true;
        rc = mf_imap_parser_feed(s->parser, s->inbuf, n, &consumed);
        s->dispatching = false;
        if (rc == MF_E_OK)
            continue;
        if (s->fatal.code != MF_E_OK)
            return session_break(s, &s->fatal, 0);
        return session_break(s, mf_imap_parser_error(s->parser), 0);
    }
    return s->state == MF_IMAP_STATE_BROKEN ? s->err.code : MF_E_OK;
}

static size_t
out_left(const struct mf_imap_session *s) {
    return s->out.len - s->out_off;
}

static bool
can_send(const struct mf_imap_session *s) {
    const struct cmd *c = s->send_cur;

    /* After BYE the server reads no more. */
    return s->state != MF_IMAP_STATE_BROKEN && c && !s->waiting &&
           !s->got_bye && (c->started || s->inflight < s->window);
}

/* Copies what the window and the continuation rule allow into `out`,
 * until OUT_CHUNK bytes wait there. Body sources are read here, a piece
 * at a time, only as the socket takes what came before. */
static mf_err
stage(struct mf_imap_session *s) {
    mf_err rc;

    /* Keep the unsent bytes at the front: `out` never grows past about
     * OUT_CHUNK. (The connection copes with the bytes moving, conn.h.) */
    if (s->out_off > 0) {
        size_t left = out_left(s);
        memmove(s->out.data, s->out.data + s->out_off, left);
        s->out.len = left;
        s->out.data[left] = '\0';
        s->out_off = 0;
    }
    while (out_left(s) < OUT_CHUNK && can_send(s)) {
        struct cmd *c = s->send_cur;
        size_t room = OUT_CHUNK - out_left(s);
        struct part *p;

        if (!c->started) {
            c->started = true;
            s->inflight++;
            if (c->verb == VERB_SELECT)
                memset(&s->mbox, 0, sizeof(s->mbox));
            trace_line(s, true, (const char *)c->trace.data, c->trace.len);
        }
        if (c->part == c->nparts) {
            c->sent = true;
            s->send_cur = c->next;
            if (c->done) {
                unlink_cmd(s, c);
                free_cmd(c);
            }
            continue;
        }
        p = &c->parts[c->part];
        switch (p->kind) {
        case PART_WAIT:
            /* The header before it is staged; nothing more until "+". */
            s->waiting = c;
            break;
        case PART_BYTES: {
            size_t n = p->len - (size_t)c->off;
            if (n > room)
                n = room;
            mf_buf_append(&s->out, c->out.data + p->off + c->off, n);
            c->off += n;
            break;
        }
        case PART_SOURCE: {
            uint64_t want = p->src.size - c->off;
            size_t n = 0;
            struct mf_error e = {0};
            if (want > room)
                want = room;
            if (want == 0)
                break;
            rc = p->src.read(p->src.ud, s->srcbuf, (size_t)want, &n);
            if (rc == MF_E_OK && (n == 0 || n > want)) {
                rc = MF_E_INTERNAL;
                snprintf(e.detail, sizeof(e.detail),
                         "body source of %s gave %zu bytes, %llu expected",
                         c->tag, n, (unsigned long long)want);
            } else if (rc != MF_E_OK) {
                snprintf(e.detail, sizeof(e.detail),
                         "body source of %s failed: %s", c->tag,
                         mf_strerror(rc));
            }
            if (rc != MF_E_OK) {
                /* A literal cannot be cut short: the connection is lost. */
                e.code = rc;
                return session_break(s, &e, 0);
            }
            mf_buf_append(&s->out, s->srcbuf, n);
            c->off += n;
            break;
        }
        }
        if (s->waiting)
            break;
        if ((p->kind == PART_BYTES && c->off == p->len) ||
            (p->kind == PART_SOURCE && c->off == p->src.size)) {
            c->part++;
            c->off = 0;
        }
    }
    return MF_E_OK;
}

/* Sending failed: the server may have said why (BYE, or closed after a
 * tagged NO), so take in what it sent before giving up. */
static mf_err
send_failed(struct mf_imap_session *s, const struct mf_error *e) {
    struct mf_error copy = *e;

    if (copy.code != MF_E_DISCONNECTED)
        return session_break(s, &copy, 0);
    (void)read_some(s, 0);
    if (s->state == MF_IMAP_STATE_BROKEN)
        return s->err.code;
    return on_disconnect(s, &copy);
}

/* Stages and sends until the socket would block or nothing more may go
 * (the window is full, a "+" is awaited, or nothing is queued). */
static mf_err
write_some(struct mf_imap_session *s) {
    for (;;) {
        struct mf_error e = {0};
        size_t sent = 0;
        mf_err rc;

        if (out_left(s) < OUT_CHUNK / 2 && (rc = stage(s)) != MF_E_OK)
            return rc;
        if (out_left(s) == 0)
            return MF_E_OK;
        rc = mf__imap_conn_send_some(s->conn, s->out.data + s->out_off,
                                     out_left(s), &sent, &e);
        if (rc != MF_E_OK)
            return send_failed(s, &e);
        if (sent == 0)
            return MF_E_OK;
        s->out_off += sent;
    }
}

/* The I/O loop: read what is there, send what may go, then wait for
 * either direction. Reading never waits for a send to finish and sending
 * never waits for the server to read, so a server that writes a lot (FETCH
 * answers) while it does not read (our APPEND literal) cannot deadlock us.
 * The timeout is for the connection making no progress at all. */
static mf_err
drive(struct mf_imap_session *s, uint32_t id, long timeout_ms) {
    mf_err rc;

    MF_ASSERT(!s->dispatching);
    if (timeout_ms < 0)
        timeout_ms = s->timeout_ms;
    for (;;) {
        struct mf_error e = {0};

        if (s->state == MF_IMAP_STATE_BROKEN)
            return s->err.code;
        if (!busy(s, id))
            return MF_E_OK;
        if ((rc = read_some(s, id)) != MF_E_OK)
            return rc;
        if (!busy(s, id))
            continue;
        if ((rc = write_some(s)) != MF_E_OK)
            return rc;
        rc = mf__imap_conn_wait(s->conn, true, out_left(s) > 0, timeout_ms,
                                NULL, NULL, &e);
        if (rc == MF_E_TIMEOUT && s->got_bye)
            return session_break(s, &s->bye, s->bye_retry_ms);
        if (rc == MF_E_TIMEOUT)
            return break_with(s, MF_E_TIMEOUT,
                              "no answer from the server for %ld ms "
                              "(%zu commands pending%s, %zu bytes unsent)",
                              timeout_ms, s->pending,
                              s->waiting ? ", waiting for \"+\"" : "",
                              out_left(s));
        if (rc != MF_E_OK)
            return session_break(s, &e, 0);
    }
}

/* ================================================================== */
/* Public API                                                          */
/* ================================================================== */

mf_err
mf_imap_session_run(struct mf_imap_session *s, long timeout_ms) {
    return drive(s, 0, timeout_ms);
}

mf_err
mf_imap_session_wait(struct mf_imap_session *s, uint32_t id, long timeout_ms) {
    MF_ASSERT(id != 0);
    return drive(s, id, timeout_ms);
}

size_t
mf_imap_session_pending(const struct mf_imap_session *s) {
    return s->pending;
}

static enum verb
verb_of(const struct mf_imap_cmd_spec *spec) {
    static const struct {
        const char *word;
        enum verb verb;
    } verbs[] = {
        {"SELECT", VERB_SELECT},       {"EXAMINE", VERB_SELECT},
        {"CLOSE", VERB_CLOSE},         {"UNSELECT", VERB_CLOSE},
        {"LOGOUT", VERB_LOGOUT},       {"LOGIN", VERB_SECRET},
        {"AUTHENTICATE", VERB_SECRET},
    };
    const struct mf_imap_seg *sg = &spec->segs[0];
    const char *t = (const char *)spec->bytes.data + sg->off;
    size_t n = 0;

    if (sg->kind != MF_IMAP_SEG_TEXT)
        return VERB_OTHER;
    while (n < sg->len && t[n] != ' ')
        n++;
    for (size_t i = 0; i < MF_ARRAY_LEN(verbs); i++)
        if (strlen(verbs[i].word) == n && strncasecmp(t, verbs[i].word, n) == 0)
            return verbs[i].verb;
    return VERB_OTHER;
}

static struct part *
add_part(struct cmd *c, enum part_kind kind, size_t *cap) {
    if (c->nparts == *cap) {
        *cap = *cap ? 2 * *cap : 4;
        c->parts = mf_xrealloc(c->parts, *cap * sizeof(*c->parts));
    }
    struct part *p = &c->parts[c->nparts++];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->off = c->out.len;
    return p;
}

/* Keeps "mf3 LOGIN" or "mf3 AUTHENTICATE PLAIN" of a trace line and
 * masks the rest: credentials never reach a log. */
static void
mask_trace(struct cmd *c) {
    const char *t = (const char *)c->trace.data;
    size_t words = strncasecmp(t + strlen(c->tag) + 1, "AUTH", 4) == 0 ? 3 : 2;
    size_t n = 0, seen = 0;

    while (n < c->trace.len && seen < words) {
        if (t[n] == ' ')
            seen++;
        if (seen < words)
            n++;
    }
    c->trace.len = n;
    mf_buf_append_str(&c->trace, " <masked>");
}

/* Renders spec into c->out and c->parts, and the trace line. */
static void
render(struct mf_imap_session *s, struct cmd *c,
       const struct mf_imap_cmd_spec *spec) {
    size_t cap = 0;
    struct part *bytes = NULL;

    bytes = add_part(c, PART_BYTES, &cap);
    mf_buf_appendf(&c->out, "%s ", c->tag);
    mf_buf_appendf(&c->trace, "%s ", c->tag);
    for (size_t i = 0; i < spec->nsegs; i++) {
        const struct mf_imap_seg *sg = &spec->segs[i];
        const uint8_t *data = spec->bytes.data + sg->off;
        uint64_t size;
        bool plus;

        if (!bytes)
            bytes = add_part(c, PART_BYTES, &cap);
        if (sg->kind == MF_IMAP_SEG_TEXT) {
            mf_buf_append(&c->out, data, sg->len);
            mf_buf_append(&c->trace, data, sg->len);
            bytes->len = c->out.len - bytes->off;
            continue;
        }
        size = sg->kind == MF_IMAP_SEG_SOURCE ? sg->source.size : sg->len;
        plus = (s->caps & MF_IMAP_CAP_LITERAL_PLUS) ||
               ((s->caps & MF_IMAP_CAP_LITERAL_MINUS) &&
                size <= LITERAL_MINUS_MAX);
        mf_buf_appendf(&c->out, "{%llu%s}\r\n", (unsigned long long)size,
                       plus ? "+" : "");
        mf_buf_appendf(&c->trace, "{%llu%s} <%llu bytes>",
                       (unsigned long long)size, plus ? "+" : "",
                       (unsigned long long)size);
        bytes->len = c->out.len - bytes->off;
        if (!plus) {
            add_part(c, PART_WAIT, &cap);
            bytes = NULL;
        }
        if (sg->kind == MF_IMAP_SEG_LITERAL) {
            if (!bytes)
                bytes = add_part(c, PART_BYTES, &cap);
            mf_buf_append(&c->out, data, sg->len);
            bytes->len = c->out.len - bytes->off;
        } else {
            struct part *p = add_part(c, PART_SOURCE, &cap);
            p->src = sg->source;
            bytes = NULL;
        }
    }
    if (!bytes)
        bytes = add_part(c, PART_BYTES, &cap);
    mf_buf_append(&c->out, "\r\n", 2);
    bytes->len = c->out.len - bytes->off;
    if (c->verb == VERB_SECRET)
        mask_trace(c);
    /* Drop empty byte parts (a sync literal at the very start, say). */
    {
        size_t k = 0;
        for (size_t i = 0; i < c->nparts; i++)
            if (c->parts[i].kind != PART_BYTES || c->parts[i].len > 0)
                c->parts[k++] = c->parts[i];
        c->nparts = k;
    }
}

mf_err
mf_imap_session_submit(struct mf_imap_session *s,
                       const struct mf_imap_cmd_spec *spec, mf_imap_done_cb cb,
                       void *ud, uint32_t *id_r) {
    struct cmd *c;

    if (s->state == MF_IMAP_STATE_BROKEN)
        return s->err.code;
    if (s->state == MF_IMAP_STATE_LOGOUT)
        return MF_E_STATE;
    if (!spec || spec->nsegs == 0)
        return MF_E_INVALID_ARGUMENT;
    c = mf_xcalloc(1, sizeof(*c));
    c->id = ++s->next_id;
    if (s->next_id == UINT32_MAX)
        s->next_id = 0; /* ids wrap; 0 stays "none" */
    snprintf(c->tag, sizeof(c->tag), "mf%u", c->id);
    c->cb = cb;
    c->ud = ud;
    c->verb = verb_of(spec);
    render(s, c, spec);
    if (c->verb == VERB_LOGOUT)
        s->state = MF_IMAP_STATE_LOGOUT;
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    if (!s->send_cur)
        s->send_cur = c;
    s->pending++;
    if (id_r)
        *id_r = c->id;
    return MF_E_OK;
}

void
mf_imap_session_on_untagged(struct mf_imap_session *s, const char *keyword,
                            mf_imap_untagged_cb cb, void *ud) {
    struct handler *h = find_handler(s, keyword);

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
mf_imap_session_set_literal_sink(struct mf_imap_session *s,
                                 mf_imap_literal_begin_cb begin,
                                 mf_imap_literal_data_cb data,
                                 mf_imap_literal_end_cb end, void *ud) {
    /* The parser takes its callbacks at creation; between responses it
     * holds no state, so it is simply made anew. */
    MF_ASSERT(!s->dispatching && !mf_imap_parser_in_response(s->parser));
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
    if (opts && opts->limits)
        s->limits = *opts->limits;
    else
        mf_imap_parser_limits_init(&s->limits);
    s->inbuf = mf_xmalloc(IOBUF_SIZE);
    s->srcbuf = mf_xmalloc(OUT_CHUNK);
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
mf_imap_session_free(struct mf_imap_session **sp) {
    struct mf_imap_session *s = *sp;

    if (!s)
        return;
    MF_ASSERT(!s->dispatching);
    /* Broken first, so that callbacks cannot submit more. */
    (void)break_with(s, MF_E_CANCELLED, "session closed");
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
mf__imap_session_mbox(const struct mf_imap_session *s) {
    return &s->mbox;
}

bool
mf__imap_session_untagged_get(struct mf_imap_session *s, const char *keyword,
                              mf_imap_untagged_cb *cb_r, void **ud_r) {
    struct handler *h = find_handler(s, keyword);

    if (!h)
        return false;
    *cb_r = h->cb;
    *ud_r = h->ud;
    return true;
}

void
mf__imap_session_set_state(struct mf_imap_session *s, enum mf_imap_state st) {
    s->state = st;
}

struct mf_imap_conn *
mf__imap_session_conn(struct mf_imap_session *s) {
    return s->conn;
}
