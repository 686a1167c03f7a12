/*
 * Step 3 of a folder's copy, the writer (folder.c): takes bodies from the
 * pipe the reader thread fills (folder_read.c) and appends them to the
 * target in batches, several in flight, or streams a big one as a single
 * APPEND while its bytes still arrive. A batch is one MULTIAPPEND, or, on
 * a target without MULTIAPPEND, single APPENDs the store pipelines
 * (store_imap_append.c), each message settled by its own answer with the
 * same rules (settle()). A MULTIAPPEND the target refuses as a whole is
 * retried one message at a time, so that a bad message fails alone;
 * [OVERQUOTA] fails the batch and stops the folder.
 *
 * appends_in_flight bounds every command the target has queued, resends
 * included (Exchange Online and Gmail throttle sessions with many queued),
 * so an answer's callback sends nothing: what goes again (each message of
 * a refused MULTIAPPEND; one --repair changed) joins fr->resend, a command
 * of one message each, in the order refused; the writer loop sends them
 * first, one at a time while fewer than appends_in_flight are in flight,
 * and does not end before they are sent and answered.
 *
 * Ownership: a struct mf__batch owns its outmsgs, and each outmsg its
 * body; fr->cur and the batches on fr->resend belong to the folder; a
 * submitted batch belongs to the store until its done callback
 * (batch_done) ran. Whatever is on fr->resend when the writer ends (an
 * error, a stop) is freed unsent, and its messages go back to M_LISTED:
 * they are not on the target, so the checkpoint stays before them and a
 * folder stopped for good lists them as not copied, as it does the
 * messages the reader had not handed over yet.
 */
#include "migrate/folder_int.h"
#include "migrate/leases.h"

#include "mailferry/fingerprint.h"
#include "mailferry/repair.h"
#include "mailferry/fence.h"
#include "mailferry/util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct outmsg {
    struct mf__folder *fr;
    size_t idx;    /* into fr->list.m */
    uint8_t *data; /* owned, whole messages */
    size_t len, off;
    bool streamed;
    struct mf_pipe_item *cur; /* streamed: the piece being sent */
    /* --repair changed data (what: how), once per message. */
    bool repaired;
    char what[200];
    /* --gmail-labels-as-keywords: its flags and its other labels; after
     * keywords_dropped, its system flags alone. */
    struct mf_buf flags;
    bool keywords_dropped;
    /* What finds it in the source mailbox, from its header as the source
     * has it (before --repair changes it): header_of(). */
    bool header_read;
    char *subject;    /* owned: decoded, or NULL */
    char *message_id; /* owned, or NULL */
};

struct mf__batch {
    struct mf__folder *fr;
    struct outmsg **msgs; /* owned */
    size_t n, cap, bytes;
    struct mf__batch *next; /* on fr->resend */
};

static struct mf__msg *
find_msg(struct mf__folder *fr, uint32_t uid, size_t *idx_r) {
    size_t lo =
        mf_u32_lower_bound_by(fr->list.m, fr->list.n, sizeof(*fr->list.m),
                              offsetof(struct mf__msg, uid), uid);

    if (lo < fr->list.n && fr->list.m[lo].uid == uid) {
        if (idx_r)
            *idx_r = lo;
        return &fr->list.m[lo];
    }
    return NULL;
}

static void
outmsg_free(struct outmsg *om) {
    if (om) {
        free(om->data);
        free(om->subject);
        free(om->message_id);
        mf__pipe_item_free(&om->cur);
        mf_buf_free(&om->flags);
        free(om);
    }
}

static void
batch_free(struct mf__batch *b) {
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        outmsg_free(b->msgs[i]);
    free(b->msgs);
    free(b);
}

static mf_err
read_whole(void *ud, uint8_t *buf, size_t cap, size_t *n_r) {
    struct outmsg *om = ud;
    size_t n = om->len - om->off < cap ? om->len - om->off : cap;

    memcpy(buf, om->data + om->off, n);
    om->off += n;
    *n_r = n;
    return MF_E_OK;
}

/* Body source of a streamed message: the pieces the reader pushes. */
static mf_err
read_streamed(void *ud, uint8_t *buf, size_t cap, size_t *n_r) {
    struct outmsg *om = ud;
    size_t n;

    while (!om->cur || om->off == om->cur->len) {
        mf__pipe_item_free(&om->cur);
        om->off = 0;
        om->cur = mf__pipe_pop(om->fr->pipe, true);
        if (!om->cur)
            return MF_E_CANCELLED;
        if (om->cur->kind == MF_PIPE_ERROR) {
            mf__folder_set_werr_source(om->fr, &om->cur->error,
                                       om->cur->retry_after_ms);
            return om->cur->error.code;
        }
        if (om->cur->kind != MF_PIPE_DATA)
            return MF_E_IMAP_UNEXPECTED; /* the source sent too few bytes */
    }
    n = om->cur->len - om->off < cap ? om->cur->len - om->off : cap;
    mf__leases_bandwidth(om->fr->run->leases, true, n);
    memcpy(buf, om->cur->data + om->off, n);
    om->off += n;
    *n_r = n;
    return MF_E_OK;
}

static void batch_done(void *ud, const struct mf_store_done *d);

/* The flags om goes with: the source's; --gmail-labels-as-keywords: with
 * its other labels as keywords; after keywords_dropped, its system flags
 * alone. */
static const char *
out_flags(struct mf__folder *fr, struct outmsg *om) {
    const struct mf__msg *m = &fr->list.m[om->idx];

    if (!om->keywords_dropped &&
        !(fr->run->gmail && fr->run->o->gmail_labels_as_keywords))
        return m->flags;
    if (!om->flags.len) {
        struct mf_fingerprint k;
        mf__gmail_key(m, &k);
        mf__gmail_keywords(fr->run->gmail, fr->run->gmail_folder, &k, m->flags,
                           &om->flags);
    }
    return (const char *)om->flags.data;
}

static mf_err
submit(struct mf__folder *fr, struct mf__batch *b) {
    struct mf_store *dst = fr->run->dst;
    struct mf_store_append_msg stack[64] = {{0}}, *am;
    mf_err rc;

    /* A job that lost its claim appends nothing more (fence.h). */
    if (!mf_fence_holds(fr->run->o->fence)) {
        mf__folder_set_werr_code(fr, MF_E_FENCED,
                                 "the claim on this job is gone");
        batch_free(b);
        return MF_E_FENCED;
    }
    if (!b->msgs[0]->streamed)
        mf__leases_bandwidth(fr->run->leases, true, b->bytes);
    am = b->n <= MF_ARRAY_LEN(stack) ? stack : mf_xcalloc(b->n, sizeof(*am));
    for (size_t i = 0; i < b->n; i++) {
        struct outmsg *om = b->msgs[i];
        const struct mf__msg *m = &fr->list.m[om->idx];
        am[i].flags = out_flags(fr, om);
        am[i].date = m->date[0] ? m->date : NULL;
        am[i].body.size = om->streamed ? m->size : om->len;
        am[i].body.read = om->streamed ? read_streamed : read_whole;
        am[i].body.release = NULL;
        am[i].body.ud = om;
        om->off = om->streamed ? om->off : 0; /* a resubmit starts over */
        fr->list.m[om->idx].state = M_QUEUED;
    }
    rc = dst->ops->append(dst, fr->dst_name, am, b->n, batch_done, b);
    if (am != stack)
        free(am);
    if (rc != MF_E_OK) {
        mf__folder_set_werr(fr, &dst->error, dst->retry_after_ms);
        batch_free(b);
        return rc;
    }
    fr->inflight++;
    return MF_E_OK;
}

static mf_err
submit_current(struct mf__folder *fr) {
    struct mf__batch *b = fr->cur;

    fr->cur = NULL;
    if (!b || b->n == 0) {
        batch_free(b);
        return MF_E_OK;
    }
    return submit(fr, b);
}

static struct mf__batch *
batch_new(struct mf__folder *fr) {
    struct mf__batch *b = mf_xcalloc(1, sizeof(*b));
    b->fr = fr;
    return b;
}

static void
batch_add(struct mf__batch *b, struct outmsg *om) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->msgs = mf_xreallocarray(b->msgs, b->cap, sizeof(*b->msgs));
    }
    b->msgs[b->n++] = om;
    b->bytes += om->len;
}

/* Queues om to go again as a command of its own (taken over): the writer
 * loop sends it when a place in flight is free (resend_next()). */
static void
resend_later(struct mf__folder *fr, struct outmsg *om) {
    struct mf__batch *one = batch_new(fr);

    batch_add(one, om);
    if (fr->resend_tail)
        fr->resend_tail->next = one;
    else
        fr->resend = one;
    fr->resend_tail = one;
}

/* Sends the first queued resend. */
static void
resend_next(struct mf__folder *fr) {
    struct mf__batch *b = fr->resend;

    fr->resend = b->next;
    if (!fr->resend)
        fr->resend_tail = NULL;
    b->next = NULL;
    (void)submit(fr, b); /* a failure is in werr: the attempt ends */
}

/* Frees the resends not sent (the writer ended): their messages are not
 * on the target. */
static void
resend_drop(struct mf__folder *fr) {
    while (fr->resend) {
        struct mf__batch *b = fr->resend;
        fr->resend = b->next;
        for (size_t i = 0; i < b->n; i++)
            fr->list.m[b->msgs[i]->idx].state = M_LISTED;
        batch_free(b);
    }
    fr->resend_tail = NULL;
}

/* Reads once what finds a message held whole in the source mailbox, for
 * the failed and repaired lists: its Subject (decoded) and Message-ID,
 * each left NULL when there is none or the message was streamed. Called
 * before --repair changes the bytes, so they are the source's. */
static void
header_of(struct outmsg *om) {
    struct mf_header_scan *s;
    const char *v;

    if (om->header_read || om->streamed || !om->data)
        return;
    om->header_read = true;
    s = mf_header_scan_new(0);
    (void)mf_header_scan_feed(s, om->data, om->len);
    mf_header_scan_finish(s);
    if ((v = mf_header_scan_subject(s)) != NULL) {
        struct mf_buf b = {0};
        mf_header_decode_2047(v, &b);
        mf_buf_append(&b, "", 1);
        om->subject = (char *)b.data; /* taken over from b */
    }
    if ((v = mf_header_scan_message_id(s)) != NULL && v[0])
        om->message_id = mf_xstrdup(v);
    mf_header_scan_free(&s);
}

/* Whether an answered APPEND's error means the target refused it (so the
 * message is not there): a NO, as opposed to a dropped connection or a
 * cancel, after which the message may or may not be on the target. */
static bool
refused(mf_err code) {
    mf_err_class cls = mf_err_class_of(code);
    return code != MF_E_MAILBOX_MISSING &&
           (cls == MF_ERRCLASS_FAIL_MESSAGE || cls == MF_ERRCLASS_FAIL_MAILBOX);
}

/* Marks a message the target refused (or that was never tried because of
 * error e) as failed, and lists it. */
void
mf__folder_fail_message(struct mf__folder *fr, struct mf__msg *m,
                        const char *subject, const char *message_id,
                        const struct mf_error *e) {
    struct mf__run *run = fr->run;
    struct mf_migrate_result *res = run->res;

    m->state = M_FAILED;
    res->stats.failed++;
    res->stats.bytes_failed += m->size;
    mf__run_item(run, true, fr->label, m->uid, m->size, m->date, subject, e);
    if (message_id)
        res->failed[res->n_failed - 1].message_id = mf_xstrdup(message_id);
    mf__folder_progress(fr, 0);
}

/* Whether the target's answer to one message may be about its form:
 * Exchange's "BAD Command Argument Error. 11", a plain NO. */
static bool
form_refusal(mf_err code) {
    return code == MF_E_IMAP_BAD || code == MF_E_IMAP_NO ||
           code == MF_E_MESSAGE_REJECTED;
}

/* One message the target refused (answer d): when it has defects strict
 * servers refuse (mailferry/repair.h) and --repair is on, they are fixed
 * and the message goes again, once (queued: resend_later()). True when
 * it was handed on so. */
static bool
repair_resubmit(struct mf__folder *fr, struct outmsg *om,
                const struct mf_store_done *d) {
    struct mf_repair r;
    struct mf_buf out = {0};

    if (!fr->run->o->repair || om->streamed || om->repaired ||
        !form_refusal(d->error.code) || !mf_repair_check(om->data, om->len, &r))
        return false;
    header_of(om); /* as the source has it, for the lists */
    mf_repair_fix(om->data, om->len, &r, &out);
    mf_repair_describe(&r, true, om->what, sizeof(om->what));
    free(om->data);
    om->data = out.data; /* taken over from out */
    om->len = out.len;
    om->off = 0;
    om->repaired = true;
    resend_later(fr, om);
    return true;
}

/* Whether the target refused a message for the keywords its folder
 * cannot take: Cyrus's "NO Too many user flags in mailbox" (a folder
 * holds 100 keywords in 3.6). */
static bool
keyword_limit(const struct mf_store_done *d) {
    const char *t = d->error.detail;
    return form_refusal(d->error.code) && strcasestr(t, "too many") &&
           (strcasestr(t, "flag") || strcasestr(t, "keyword"));
}

/* With --repair, a message the target refused for its keywords goes
 * again (queued), once, with its system flags alone (the keywords dropped are
 * listed with it in the report's repaired messages). True when it was
 * handed on so. */
static bool
keywords_resubmit(struct mf__folder *fr, struct outmsg *om,
                  const struct mf_store_done *d) {
    const struct mf__msg *m = &fr->list.m[om->idx];
    const char *flags = om->flags.len ? (const char *)om->flags.data
                                      : (m->flags ? m->flags : "");
    struct mf_buf sys = {0}, kw = {0};

    if (!fr->run->o->repair || om->streamed || om->repaired ||
        !keyword_limit(d))
        return false;
    for (const char *p = flags; *p;) {
        size_t n = strcspn(p, " ");
        if (n) {
            struct mf_buf *to = p[0] == '\\' ? &sys : &kw;
            mf_buf_appendf(to, "%s%.*s", to->len ? " " : "", (int)n, p);
        }
        p += n + (p[n] == ' ');
    }
    if (!kw.len) { /* nothing to drop: the refusal is not about it */
        mf_buf_free(&sys);
        mf_buf_free(&kw);
        return false;
    }
    mf_buf_append(&sys, "", 1);
    mf_buf_append(&kw, "", 1);
    snprintf(om->what, sizeof(om->what),
             "keywords dropped (the target's folder takes no more): %.140s",
             (const char *)kw.data);
    mf_buf_free(&om->flags);
    om->flags = sys; /* taken over */
    om->keywords_dropped = true;
    om->repaired = true;
    mf_buf_free(&kw);
    resend_later(fr, om);
    return true;
}

/* Lists a message the target took after --repair changed it. */
static void
repaired(struct mf__folder *fr, struct outmsg *om) {
    const struct mf__msg *m = &fr->list.m[om->idx];

    header_of(om); /* read before the repair; here for the keywords' */
    mf__run_repaired(fr->run, fr->label, m->uid, m->size, m->date, om->subject,
                     om->message_id, om->what);
}

static void
message_failed(struct mf__folder *fr, struct outmsg *om,
               const struct mf_store_done *d) {
    struct mf__run *run = fr->run;
    struct mf_error e = d->error;
    struct mf_repair r;

    /* A plain NO to one APPEND is about this message. */
    if (mf_err_class_of(e.code) == MF_ERRCLASS_FAIL_MAILBOX)
        e.code = MF_E_MESSAGE_REJECTED;
    /* Refused, and it has what strict servers refuse: that is why. */
    if (form_refusal(d->error.code) && !om->streamed && !om->repaired &&
        mf_repair_check(om->data, om->len, &r)) {
        char what[160];
        mf_repair_describe(&r, false, what, sizeof(what));
        e.code = MF_E_MESSAGE_MALFORMED;
        snprintf(e.detail, sizeof(e.detail), "%.90s; the message has %.140s",
                 d->error.detail, what);
    } else if (om->repaired) {
        snprintf(e.detail, sizeof(e.detail), "%.120s (after --repair: %.100s)",
                 d->error.detail, om->what);
    }
    header_of(om);
    mf__folder_fail_message(fr, &fr->list.m[om->idx], om->subject,
                            om->message_id, &e);
    if (++run->consecutive_rejects >= MF__MAX_CONSECUTIVE_REJECTS) {
        struct mf_error stop = d->error;
        snprintf(stop.detail, sizeof(stop.detail),
                 "the target refused %u messages in a row, the last: %.180s",
                 run->consecutive_rejects, d->error.detail);
        mf__folder_set_werr(fr, &stop, d->retry_after_ms);
    }
}

/* Fails the n messages msgs with the answer d (a refusal). */
static void
refuse_all(struct mf__folder *fr, struct outmsg **msgs, size_t n,
           const struct mf_store_done *d) {
    for (size_t i = 0; i < n; i++)
        mf__folder_fail_message(fr, &fr->list.m[msgs[i]->idx], NULL, NULL,
                                &d->error);
}

/* Settles the n messages msgs that went out in one command by its answer
 * d. A message is DONE (recorded) only on its command's own OK; one handed
 * on to a resend of its own (queued, sent by the writer loop) is set to
 * NULL in msgs. */
static void
settle(struct mf__folder *fr, struct outmsg **msgs, size_t n,
       const struct mf_store_done *d) {
    struct mf__run *run = fr->run;
    mf_err code = d->error.code;
    mf_err_class cls = mf_err_class_of(code);

    if (code == MF_E_OK) {
        if (d->uidvalidity && d->uidvalidity == fr->ck.tgt_uidvalidity &&
            d->n == n)
            for (size_t i = 0; i < n; i++)
                fr->list.m[msgs[i]->idx].tgt_uid = d->uids[i];
        for (size_t i = 0; i < n; i++) {
            struct mf__msg *m = &fr->list.m[msgs[i]->idx];
            uint64_t len = msgs[i]->streamed ? m->size : msgs[i]->len;
            m->state = M_DONE;
            (void)mf__folder_kw_fresh(fr, out_flags(fr, msgs[i]), true);
            if (msgs[i]->repaired)
                repaired(fr, msgs[i]);
            run->res->stats.messages_copied++;
            run->res->stats.bytes_copied += len;
            mf__folder_progress(fr, len);
        }
        run->consecutive_rejects = 0;
    } else if (code == MF_E_OVERQUOTA) {
        /* RFC 5530 OVERQUOTA: nothing more fits, whichever message it is.
         * Not retried one by one: the folder stops, the rest is listed. */
        refuse_all(fr, msgs, n, d);
        mf__folder_set_werr(fr, &d->error, d->retry_after_ms);
    } else if (fr->werr.code != MF_E_OK && refused(code)) {
        /* Answered after the folder already stopped: not on the target. */
        refuse_all(fr, msgs, n, d);
    } else if (code == MF_E_CANCELLED || code == MF_E_FENCED ||
               cls == MF_ERRCLASS_RETRY || cls == MF_ERRCLASS_RECONNECT ||
               code == MF_E_MAILBOX_MISSING || fr->werr.code != MF_E_OK) {
        /* The session or the folder is in trouble: these messages stay
         * unconfirmed and the next attempt resumes before them. */
        mf__folder_set_werr(fr, &d->error, d->retry_after_ms);
    } else if (n > 1) {
        /* MULTIAPPEND is all or nothing (RFC 3502): find the bad one,
         * each message a command of its own, queued: sent from here, n
         * (up to a batch's 50 and more) would go on top of those in
         * flight. */
        for (size_t i = 0; i < n; i++) {
            resend_later(fr, msgs[i]);
            msgs[i] = NULL;
        }
    } else if (repair_resubmit(fr, msgs[0], d) ||
               keywords_resubmit(fr, msgs[0], d)) {
        msgs[0] = NULL; /* handed on */
    } else {
        message_failed(fr, msgs[0], d);
    }
}

static void
batch_done(void *ud, const struct mf_store_done *d) {
    struct mf__batch *b = ud;
    struct mf__folder *fr = b->fr;

    fr->inflight--;
    if (d->msgs) {
        /* Sent as single APPENDs (a target without MULTIAPPEND): each
         * message settles by its own answer, as a command of one. */
        for (size_t i = 0; i < b->n; i++) {
            const struct mf_store_msg_done *md = &d->msgs[i];
            struct mf_store_done one = {.error = md->error,
                                        .retry_after_ms = md->retry_after_ms,
                                        .uidvalidity = md->uidvalidity,
                                        .uids = &md->uid,
                                        .n = md->uid ? 1 : 0};
            settle(fr, &b->msgs[i], 1, &one);
        }
    } else {
        settle(fr, b->msgs, b->n, d);
    }
    {
        /* Free what was not handed on to single batches. */
        size_t k = 0;
        for (size_t i = 0; i < b->n; i++)
            if (b->msgs[i])
                b->msgs[k++] = b->msgs[i];
        b->n = k;
    }
    batch_free(b);
    mf__folder_advance(fr, false);
}

/* Sends the batch being filled ahead of a message that goes as a command
 * of its own (a keyword the folder has not taken, a streamed body), and
 * makes room for that command: the writer took the message because one
 * more command fitted in flight, and the batch may have taken that place
 * (appends_in_flight bounds what the target has queued). false when the
 * folder stopped, sending or by an answer read while waiting (a full
 * target: OVERQUOTA): then nothing more goes out, and the message stays
 * listed as not copied, like the rest. */
static bool
close_batch(struct mf__folder *fr) {
    struct mf_store *dst = fr->run->dst;

    if (submit_current(fr) != MF_E_OK)
        return false;
    if (fr->inflight >= fr->run->appends_in_flight &&
        dst->ops->flush(dst, fr->inflight - 1) != MF_E_OK)
        mf__folder_set_werr(fr, &dst->error, dst->retry_after_ms);
    return fr->werr.code == MF_E_OK;
}

static void
take_whole(struct mf__folder *fr, struct mf_pipe_item *it) {
    struct mf__run *run = fr->run;
    struct outmsg *om;
    size_t idx;

    if (!find_msg(fr, it->uid, &idx) || fr->list.m[idx].state != M_LISTED)
        return; /* not asked for (cannot happen with a sane server) */
    om = mf_xcalloc(1, sizeof(*om));
    om->fr = fr;
    om->idx = idx;
    om->data = it->data;
    om->len = it->len;
    it->data = NULL;
    it->len = 0;
    if (mf__folder_kw_fresh(fr, out_flags(fr, om), false)) {
        /* A keyword the folder has not taken: alone (folder_keywords.c),
         * after the batch before it, in source order. */
        struct mf__batch *one = batch_new(fr);
        batch_add(one, om);
        if (close_batch(fr))
            (void)submit(fr, one);
        else
            batch_free(one);
        return;
    }
    if (!fr->cur)
        fr->cur = batch_new(fr);
    batch_add(fr->cur, om);
    if (fr->cur->n >= mf__run_batch_messages(run) ||
        fr->cur->bytes >= run->batch_bytes)
        (void)submit_current(fr);
}

static void
take_streamed(struct mf__folder *fr, struct mf_pipe_item *it) {
    struct mf_store *dst = fr->run->dst;
    struct outmsg *om;
    struct mf__batch *b;
    size_t idx;
    struct mf__msg *m = find_msg(fr, it->uid, &idx);

    if (!m || m->state != M_LISTED) {
        mf__folder_set_werr_code(
            fr, MF_E_IMAP_UNEXPECTED,
            "the source sent a message body that was not asked for");
        return;
    }
    if (!close_batch(fr))
        return;
    m->size = it->size; /* the literal's real size */
    om = mf_xcalloc(1, sizeof(*om));
    om->fr = fr;
    om->idx = idx;
    om->streamed = true;
    b = batch_new(fr);
    batch_add(b, om);
    if (submit(fr, b) != MF_E_OK)
        return;
    /* The APPEND reads the pieces from the pipe while it is sent. */
    if (dst->ops->flush(dst, 0) != MF_E_OK) {
        mf__folder_set_werr(fr, &dst->error, dst->retry_after_ms);
        return;
    }
    {
        /* The END that closes the streamed body. */
        struct mf_pipe_item *end = mf__pipe_pop(fr->pipe, true);
        if (!end || end->kind != MF_PIPE_END) {
            if (end && end->kind == MF_PIPE_ERROR)
                mf__folder_set_werr(fr, &end->error, end->retry_after_ms);
            else
                mf__folder_set_werr_code(
                    fr, MF_E_IMAP_UNEXPECTED,
                    "the source sent more bytes than it announced");
        }
        mf__pipe_item_free(&end);
    }
}

static void
take_vanished(struct mf__folder *fr, uint32_t uid) {
    struct mf__msg *m = find_msg(fr, uid, NULL);
    struct mf_error e = {.code = MF_E_MESSAGE_GONE};

    if (!m || m->state != M_LISTED)
        return;
    m->state = M_VANISHED;
    fr->run->res->stats.skipped_vanished++;
    snprintf(e.detail, sizeof(e.detail),
             "expunged on the source while the folder was copied");
    mf__run_item(fr->run, false, fr->label, uid, m->size, m->date, NULL, &e);
    mf__folder_progress(fr, 0);
}

static void
take_failed(struct mf__folder *fr, const struct mf_pipe_item *it) {
    struct mf__msg *m = find_msg(fr, it->uid, NULL);

    if (m && m->state == M_LISTED)
        mf__folder_fail_message(fr, m, NULL, NULL, &it->error);
}

/* Counts a message against the users' daily bandwidth quotas before it
 * is appended (quota.c). One that does not fit in this window ends the
 * folder, unsent: the attempt ends and the mailbox waits for the next
 * window. Not mf__folder_set_werr(): that is for the servers' answers,
 * and a server that says the quota is used up fills it. */
static bool
quota_take(struct mf__folder *fr, uint64_t bytes) {
    struct mf_error e;

    if (mf__run_quota_take(fr->run, bytes, &e))
        return true;
    if (fr->werr.code == MF_E_OK) {
        fr->werr = e;
        fr->werr_retry_ms = 0;
    }
    return false;
}

static bool
stop_requested(const struct mf__folder *fr) {
    const atomic_bool *stop = fr->run->o->stop;
    return stop && atomic_load(stop);
}

/* The writer loop: runs until the reader is done and every append is
 * confirmed, or until an error or a stop request. Queued resends go out
 * first, one command each while fewer than appends_in_flight are in
 * flight; the pipe is read only when none waits. Once the reader is done
 * the loop sends what is left and waits for the answers one at a time,
 * as an answer may queue a resend. */
void
mf__folder_write_all(struct mf__folder *fr) {
    struct mf__run *run = fr->run;
    struct mf_store *dst = run->dst;
    bool reader_done = false;

    while (fr->werr.code == MF_E_OK) {
        struct mf_pipe_item *it = NULL;
        bool idle =
            fr->inflight == 0 && (!fr->cur || fr->cur->n == 0) && !fr->resend;
        bool room = fr->inflight < run->appends_in_flight;

        /* A stop or a pause holds back what is still to be sent; the
         * answers to what went out are waited for below, as ever. */
        if (!reader_done || fr->resend) {
            if (stop_requested(fr)) {
                mf__folder_set_werr_code(fr, MF_E_CANCELLED,
                                         "stopped at a message boundary");
                break;
            }
            /* A connection above a lowered limit (throttling, or a cap
             * lowered by the admin) closes, paused or not, on either
             * side; nothing more to a target the fleet paused
             * (throttle.c), and the source's pause handed to the reader. */
            if (mf__run_throttle_yield(run, true, &fr->werr) ||
                mf__run_throttle_yield(run, false, &fr->werr))
                break;
            mf__run_throttle_wait(run, true, false);
            atomic_store(&fr->src_pause_until,
                         mf__run_throttle_until(run, false, false));
        }
        if (room && fr->resend) {
            resend_next(fr);
            continue;
        }
        if (room && !reader_done)
            it = mf__pipe_pop(fr->pipe, idle);
        if (!it) {
            if (room && fr->cur && fr->cur->n)
                (void)submit_current(fr);
            else if (fr->inflight > 0 &&
                     dst->ops->flush(dst, fr->inflight - 1) != MF_E_OK)
                mf__folder_set_werr(fr, &dst->error, dst->retry_after_ms);
            else if (idle)
                break; /* all sent and answered, or a cancelled pipe */
            continue;
        }
        switch (it->kind) {
        case MF_PIPE_WHOLE:
            if (quota_take(fr, it->len))
                take_whole(fr, it);
            break;
        case MF_PIPE_BEGIN:
            if (quota_take(fr, it->size))
                take_streamed(fr, it);
            break;
        case MF_PIPE_VANISHED:
            take_vanished(fr, it->uid);
            mf__folder_advance(fr, false);
            break;
        case MF_PIPE_FAILED:
            take_failed(fr, it);
            mf__folder_advance(fr, false);
            break;
        case MF_PIPE_DONE:
            reader_done = true;
            break;
        case MF_PIPE_ERROR:
            mf__folder_set_werr_source(fr, &it->error, it->retry_after_ms);
            break;
        default:
            mf__folder_set_werr_code(fr, MF_E_INTERNAL,
                                     "unexpected item in the pipe");
            break;
        }
        mf__pipe_item_free(&it);
    }
    /* Whatever ended the loop, every append in flight must finish here:
     * their callbacks use this frame. (An error ended it, or all is sent
     * and answered.) */
    if (dst->ops->flush(dst, 0) != MF_E_OK)
        mf__folder_set_werr(fr, &dst->error, dst->retry_after_ms);
    /* However the folder ended (a refusal, a stop, a lost lease, BYE, a
     * deadline), nothing queued may outlive it: its callbacks and body
     * sources use this frame and the batches. Normally nothing is left. */
    mf_store_cancel(dst);
    batch_free(fr->cur);
    fr->cur = NULL;
    resend_drop(fr);
}
