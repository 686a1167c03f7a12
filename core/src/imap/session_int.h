/*
 * Internals of the IMAP session, shared by the files that implement it.
 * Not for use outside core/src/imap (tests excepted).
 *
 * The session is split by job:
 *   session.c         lifecycle, state machine, capabilities, response
 *                     dispatch (tagged, untagged, continuation), getters;
 *   session_submit.c  a command spec rendered into a queued command;
 *   session_io.c      the I/O loop: staging parts into the output buffer,
 *                     sending and reading without blocking, run/wait;
 *   session_ops.c     the synchronous helpers (SELECT, LIST, ...), which
 *                     use only session.h and the accessors at the end.
 *
 * The first part of this header (the struct and the mf__imap_session_*
 * functions up to the accessors) is for the first three only.
 */
#ifndef MF_IMAP_SESSION_INT_H
#define MF_IMAP_SESSION_INT_H

#include "imap/conn.h"
#include "mailferry/imap_session.h"

/* ================================================================== */
/* For session.c, session_submit.c and session_io.c                    */
/* ================================================================== */

/* Staged output: at most about this much waits for the socket. */
#define MF_IMAP_SESSION_OUT_CHUNK ((size_t)64 * 1024)
/* One read from the connection. */
#define MF_IMAP_SESSION_IOBUF_SIZE ((size_t)64 * 1024)

/* A rendered command is cut into parts, sent in order. */
enum mf__imap_part_kind {
    MF__IMAP_PART_BYTES = 1, /* bytes of cmd->out */
    MF__IMAP_PART_WAIT,      /* wait for "+" (synchronizing literal) */
    MF__IMAP_PART_SOURCE,    /* a body source's bytes */
};

struct mf__imap_part {
    enum mf__imap_part_kind kind;
    size_t off, len;                /* MF__IMAP_PART_BYTES: range in out */
    struct mf_imap_body_source src; /* MF__IMAP_PART_SOURCE */
};

/* The commands whose tagged answer changes the session's state. */
enum mf__imap_verb {
    MF__IMAP_VERB_OTHER = 0,
    MF__IMAP_VERB_SELECT, /* SELECT, EXAMINE */
    MF__IMAP_VERB_CLOSE,  /* CLOSE, UNSELECT */
    MF__IMAP_VERB_LOGOUT,
    MF__IMAP_VERB_SECRET, /* LOGIN, AUTHENTICATE: masked in traces */
};

struct mf__imap_cmd {
    struct mf__imap_cmd *next;
    uint32_t id;
    char tag[16];
    enum mf__imap_verb verb;
    mf_imap_done_cb cb;
    void *ud;
    struct mf_buf out;           /* owned: rendered command */
    struct mf_buf trace;         /* owned: the line shown in traces */
    struct mf__imap_part *parts; /* owned */
    size_t nparts;
    size_t part;            /* the part being sent */
    uint64_t off;           /* bytes of that part sent */
    uint64_t literal_bytes; /* sizes of its literals: deadline credit */
    bool started;           /* first byte staged: counts as in flight */
    bool sent;              /* every part sent */
    bool done;              /* callback ran */
    /* Answered while still being sent: the answer (tagged NULL) waits in
     * early until the last byte is out (session.h, body sources). */
    bool answered;
    struct mf_imap_result early;
};

struct mf__imap_handler {
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
    /* Deadlines (session.h): the oldest command in flight has been the
     * oldest since head_since (ms), head_bytes moved and head_untagged
     * untagged responses came since; budget is what may come. */
    long cmd_timeout_ms;
    uint64_t min_rate, untagged_base;
    long head_since;
    uint64_t head_bytes, head_untagged, head_budget;

    struct mf__imap_cmd *head, *tail; /* owned, submit order */
    struct mf__imap_cmd *send_cur;    /* first command not completely sent */
    struct mf__imap_cmd *waiting;     /* waiting for "+" */
    size_t inflight, pending;
    uint32_t next_id;

    struct mf__imap_handler *handlers; /* owned */
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
    uint8_t *inbuf;  /* owned, MF_IMAP_SESSION_IOBUF_SIZE */
    uint8_t *srcbuf; /* owned, MF_IMAP_SESSION_OUT_CHUNK: body source reads */
};

/* Passes a line to the trace callback, if one is set. */
void mf__imap_session_trace(struct mf_imap_session *s, bool sent, const char *p,
                            size_t n);
/* Frees c and releases its body sources. */
void mf__imap_session_cmd_free(struct mf__imap_cmd *c);
/* Takes c out of the queue (c is neither send_cur nor waiting). */
void mf__imap_session_cmd_unlink(struct mf_imap_session *s,
                                 struct mf__imap_cmd *c);
/* Runs c's callback with res (exactly once) and updates the counters;
 * frees c when nothing of it remains to be sent. */
void mf__imap_session_complete(struct mf_imap_session *s,
                               struct mf__imap_cmd *c,
                               const struct mf_imap_result *res);
/* Starts a new deadline window (session.h "Deadlines"): a command got
 * its answer, or one was sent while none was in flight. */
void mf__imap_session_window(struct mf_imap_session *s);
/* Breaks the session: state BROKEN, nothing more is sent, every queued
 * command fails with err, in submit order, exactly once. Returns the
 * code (the first break's, if it was broken already). */
mf_err mf__imap_session_break(struct mf_imap_session *s,
                              const struct mf_error *err,
                              uint32_t retry_after_ms);
/* mf__imap_session_break() with a formatted detail. */
mf_err mf__imap_session_break_with(struct mf_imap_session *s, mf_err code,
                                   const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ================================================================== */
/* Accessors, for session_ops.c and tests                              */
/* ================================================================== */

/* The result slot the helpers fill (see mf_imap_session_last()). */
struct mf_imap_result *mf__imap_session_last_mut(struct mf_imap_session *s);
void mf__imap_session_set_state(struct mf_imap_session *s,
                                enum mf_imap_state st);
/* The session's connection (borrowed), for tests: socket options. */
struct mf_imap_conn *mf__imap_session_conn(struct mf_imap_session *s);
/* Submits spec, waits for it, returns its code; the whole result is in
 * mf_imap_session_last(). Clears spec (session_ops.c). */
MF_WARN_UNUSED mf_err mf__imap_session_sync(struct mf_imap_session *s,
                                            struct mf_imap_cmd_spec *spec);

#endif
