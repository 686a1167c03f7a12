/*
 * The session's I/O loop (mailferry/imap_session.h: mf_imap_session_run() and
 * mf_imap_session_wait()): staging queued commands into the output
 * buffer, sending, reading and feeding the parser.
 *
 * I/O never blocks in one direction (conn.h's non-blocking loop). Parts
 * of several commands (session_submit.c cut them) are staged into the
 * session's `out`, at most about MF_IMAP_SESSION_OUT_CHUNK bytes (body
 * sources are read a piece at a time, only as the socket takes what came
 * before), and sent as far as the socket takes them; whatever has arrived
 * is read and parsed first (the parser calls back into session.c), and
 * the wait is for input and, while bytes are staged, for room to write.
 * So a server that writes big FETCH answers and reads our APPEND literal
 * only once it is done writing cannot deadlock with us. Memory: `out`,
 * `inbuf` and `srcbuf`, bounded, plus what the commands themselves hold.
 *
 * Staging obeys the pipelining window and stops at a synchronizing
 * literal's WAIT part until the server's "+" (session.c clears
 * `waiting`). Any I/O failure breaks the session.
 */
#include "imap/session_int.h"

#include <stdio.h>
#include <string.h>

/* Reads of MF_IMAP_SESSION_IOBUF_SIZE in a row before sending gets a
 * turn. */
#define READS_PER_TURN 16

/* The connection closed: report the BYE if there was one (its words say
 * why), else a plain disconnect. */
static mf_err
on_disconnect(struct mf_imap_session *s, const struct mf_error *e) {
    if (s->got_bye)
        return mf__imap_session_break(s, &s->bye, s->bye_retry_ms);
    if (mf_imap_parser_in_response(s->parser))
        return mf__imap_session_break_with(
            s, MF_E_DISCONNECTED,
            "connection closed in the middle of a response (%s)", e->detail);
    return mf__imap_session_break(s, e, 0);
}

static bool
busy(struct mf_imap_session *s, uint32_t id) {
    if (!id)
        return s->pending > 0;
    for (struct mf__imap_cmd *c = s->head; c; c = c->next)
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

        rc = mf__imap_conn_recv_some(s->conn, s->inbuf,
                                     MF_IMAP_SESSION_IOBUF_SIZE, &n, &e);
        if (rc == MF_E_DISCONNECTED)
            return on_disconnect(s, &e);
        if (rc != MF_E_OK)
            return mf__imap_session_break(s, &e, 0);
        if (n == 0)
            break;
        s->head_bytes += n;
        s->dispatching = true;
        rc = mf_imap_parser_feed(s->parser, s->inbuf, n, &consumed);
        s->dispatching = false;
        if (rc == MF_E_OK)
            continue;
        if (s->fatal.code != MF_E_OK)
            return mf__imap_session_break(s, &s->fatal, 0);
        return mf__imap_session_break(s, mf_imap_parser_error(s->parser), 0);
    }
    return s->state == MF_IMAP_STATE_BROKEN ? s->err.code : MF_E_OK;
}

static size_t
out_left(const struct mf_imap_session *s) {
    return s->out.len - s->out_off;
}

static bool
can_send(const struct mf_imap_session *s) {
    const struct mf__imap_cmd *c = s->send_cur;

    /* After BYE the server reads no more. */
    return s->state != MF_IMAP_STATE_BROKEN && c && !s->waiting &&
           !s->got_bye && (c->started || s->inflight < s->window);
}

/* Copies what the window and the continuation rule allow into `out`,
 * until MF_IMAP_SESSION_OUT_CHUNK bytes wait there. Body sources are read here,
 * a piece at a time, only as the socket takes what came before. */
static mf_err
stage(struct mf_imap_session *s) {
    mf_err rc;

    /* Keep the unsent bytes at the front: `out` never grows past about
     * MF_IMAP_SESSION_OUT_CHUNK. (The connection copes with the bytes
     * moving, conn.h.) */
    if (s->out_off > 0) {
        size_t left = out_left(s);
        memmove(s->out.data, s->out.data + s->out_off, left);
        s->out.len = left;
        s->out.data[left] = '\0';
        s->out_off = 0;
    }
    while (out_left(s) < MF_IMAP_SESSION_OUT_CHUNK && can_send(s)) {
        struct mf__imap_cmd *c = s->send_cur;
        size_t room = MF_IMAP_SESSION_OUT_CHUNK - out_left(s);
        struct mf__imap_part *p;

        if (!c->started) {
            c->started = true;
            if (s->inflight++ == 0)
                mf__imap_session_window(s);
            if (c->verb == MF__IMAP_VERB_SELECT)
                memset(&s->mbox, 0, sizeof(s->mbox));
            mf__imap_session_trace(s, true, (const char *)c->trace.data,
                                   c->trace.len);
        }
        if (c->part == c->nparts) {
            c->sent = true;
            s->send_cur = c->next;
            if (c->done) {
                mf__imap_session_cmd_unlink(s, c);
                mf__imap_session_cmd_free(c);
            } else if (c->answered) {
                /* Its answer came early; the last byte is out now. */
                mf__imap_session_complete(s, c, &c->early);
                if (s->state == MF_IMAP_STATE_BROKEN)
                    return s->err.code;
            }
            continue;
        }
        p = &c->parts[c->part];
        switch (p->kind) {
        case MF__IMAP_PART_WAIT:
            if (c->answered) {
                /* Answered already: no "+" comes for the rest. */
                c->part = c->nparts;
                c->off = 0;
                continue;
            }
            /* The header before it is staged; nothing more until "+". */
            s->waiting = c;
            break;
        case MF__IMAP_PART_BYTES: {
            size_t n = p->len - (size_t)c->off;
            if (n > room)
                n = room;
            mf_buf_append(&s->out, c->out.data + p->off + c->off, n);
            c->off += n;
            break;
        }
        case MF__IMAP_PART_SOURCE: {
            uint64_t want = p->src.size - c->off;
            size_t n = 0;
            struct mf_error e = {0};
            if (want > room)
                want = room;
            if (want == 0)
                break;
            if (c->done) {
                /* Answered before its literal was all sent: a NO to an
                 * APPEND with a non-synchronizing literal (LITERAL+, RFC
                 * 7888), e.g. Dovecot's [OVERQUOTA]. The literal is part
                 * of the command, so the server still reads it and
                 * discards it; but the callback has run and the source's
                 * owner may have freed it. The rest of the literal is
                 * filler of the announced length. */
                memset(s->srcbuf, ' ', (size_t)want);
                n = (size_t)want;
                rc = MF_E_OK;
            } else {
                rc = p->src.read(p->src.ud, s->srcbuf, (size_t)want, &n);
            }
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
                return mf__imap_session_break(s, &e, 0);
            }
            mf_buf_append(&s->out, s->srcbuf, n);
            c->off += n;
            break;
        }
        }
        if (s->waiting)
            break;
        if ((p->kind == MF__IMAP_PART_BYTES && c->off == p->len) ||
            (p->kind == MF__IMAP_PART_SOURCE && c->off == p->src.size)) {
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
        return mf__imap_session_break(s, &copy, 0);
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

        if (out_left(s) < MF_IMAP_SESSION_OUT_CHUNK / 2 &&
            (rc = stage(s)) != MF_E_OK)
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
        s->head_bytes += sent;
    }
}

/* The oldest command in flight, or NULL. */
static const struct mf__imap_cmd *
oldest(const struct mf_imap_session *s) {
    for (const struct mf__imap_cmd *c = s->head; c; c = c->next)
        if (c->started && !c->done)
            return c;
    return NULL;
}

/* Milliseconds left until the oldest command's deadline
 * (mailferry/imap_session.h "Deadlines"), at most cap; negative when it has
 * passed. */
static long
deadline_left(const struct mf_imap_session *s, long cap) {
    const struct mf__imap_cmd *c = oldest(s);
    uint64_t credit;
    long left;

    if (!c)
        return cap;
    credit = (s->head_bytes + c->literal_bytes) / s->min_rate * 1000;
    if (credit > (uint64_t)30 * 24 * 3600 * 1000)
        credit = (uint64_t)30 * 24 * 3600 * 1000;
    left = s->head_since + s->cmd_timeout_ms + (long)credit - mf__imap_now_ms();
    return left < cap ? left : cap;
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
        long wait_ms;

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
        /* An early answer completes its command once its last byte is
         * staged (session.c). */
        if (!busy(s, id))
            continue;
        wait_ms = deadline_left(s, timeout_ms);
        if (wait_ms < 0) {
            const struct mf__imap_cmd *c = oldest(s);
            return mf__imap_session_break_with(
                s, MF_E_SERVER_TOO_SLOW,
                "no answer to %s in %ld s (%llu bytes moved meanwhile, "
                "%zu commands pending)",
                c ? c->tag : "?", (mf__imap_now_ms() - s->head_since) / 1000,
                (unsigned long long)s->head_bytes, s->pending);
        }
        rc = mf__imap_conn_wait(s->conn, true, out_left(s) > 0, wait_ms, NULL,
                                NULL, &e);
        if (rc == MF_E_TIMEOUT && wait_ms < timeout_ms)
            continue; /* the deadline, checked above */
        if (rc == MF_E_TIMEOUT && s->got_bye)
            return mf__imap_session_break(s, &s->bye, s->bye_retry_ms);
        if (rc == MF_E_TIMEOUT)
            return mf__imap_session_break_with(
                s, MF_E_TIMEOUT,
                "no answer from the server for %ld ms "
                "(%zu commands pending%s, %zu bytes unsent)",
                timeout_ms, s->pending, s->waiting ? ", waiting for \"+\"" : "",
                out_left(s));
        if (rc != MF_E_OK)
            return mf__imap_session_break(s, &e, 0);
    }
}

/* ================================================================== */
/* Public API                                                          */
/* ================================================================== */

mf_err
mf_imap_session_send(struct mf_imap_session *s) {
    MF_ASSERT(!s->dispatching);
    if (s->state == MF_IMAP_STATE_BROKEN)
        return s->err.code;
    return write_some(s);
}

mf_err
mf_imap_session_run(struct mf_imap_session *s, long timeout_ms) {
    return drive(s, 0, timeout_ms);
}

mf_err
mf_imap_session_wait(struct mf_imap_session *s, uint32_t id, long timeout_ms) {
    MF_ASSERT(id != 0);
    return drive(s, id, timeout_ms);
}
