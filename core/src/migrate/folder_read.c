/*
 * Step 3 of a folder's copy, the reader (folder.c): a thread of its own
 * fetches the bodies of fr->todo from the source (mailferry/store.h
 * fetch_bodies) and pushes them into the bounded pipe (pipe.h) that the writer
 * (folder_write.c) drains: a small body whole, a big one in pieces as
 * they arrive, its last bytes held back until the source confirmed its
 * UID. A body whose length is not the listed size is fetched once more,
 * then failed alone.
 */
#include "migrate/folder_int.h"
#include "migrate/leases.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* UIDs per FETCH batch: one UID FETCH command of the IMAP store
 * (store_imap_fetch.c sends 50 per command), so a pause is honoured
 * within one command's bodies. */
#define READ_BATCH 50

static mf_err
push(struct mf__folder *fr, enum mf_pipe_kind kind, uint32_t uid, uint64_t size,
     uint8_t *data, size_t len) {
    struct mf_pipe_item *it = mf__pipe_item_new(kind);
    it->uid = uid;
    it->size = size;
    it->data = data;
    it->len = len;
    return mf__pipe_push(fr->pipe, it);
}

/* The size fr->todo listed for uid (0 when not asked for). */
static uint64_t
listed_size(const struct mf__folder *fr, uint32_t uid) {
    size_t lo = mf_u32_lower_bound(fr->todo, fr->ntodo, uid);
    return lo < fr->ntodo && fr->todo[lo] == uid ? fr->todo_size[lo] : 0;
}

/* A body whose length is not the RFC822.SIZE the listing gave (a server
 * that cut it, or sent BODY[] NIL) is not copied: it is fetched once more
 * after the others, and if it is still different it fails on its own
 * (MESSAGE_SIZE_MISMATCH), pending for the next pass. */
static mf_err
size_differs(struct mf__folder *fr, uint32_t uid, uint64_t size,
             uint64_t want) {
    struct mf_pipe_item *it;

    fr->rd_skip = true;
    if (!fr->rd_last_try) {
        fr->refetch = mf_xreallocarray(fr->refetch, fr->nrefetch + 1,
                                       sizeof(*fr->refetch));
        fr->refetch[fr->nrefetch++] = uid;
        return MF_E_OK;
    }
    it = mf__pipe_item_new(MF_PIPE_FAILED);
    it->uid = uid;
    it->error.code = MF_E_MESSAGE_SIZE_MISMATCH;
    snprintf(it->error.detail, sizeof(it->error.detail),
             "the source sent a body of %llu bytes where its listing said "
             "%llu (RFC822.SIZE), twice",
             (unsigned long long)size, (unsigned long long)want);
    return mf__pipe_push(fr->pipe, it);
}

static mf_err
rd_begin(void *ud, uint32_t uid, uint64_t size) {
    struct mf__folder *fr = ud;
    uint64_t want = listed_size(fr, uid);

    fr->rd_skip = false;
    if (size != want)
        return size_differs(fr, uid, size, want);
    fr->rd_uid = uid;
    fr->rd_size = size;
    fr->rd_len = 0;
    fr->rd_whole = size <= fr->run->stream_threshold;
    if (fr->rd_whole) {
        fr->rd_buf = mf_xmalloc(size ? size : 1);
        return MF_E_OK;
    }
    return push(fr, MF_PIPE_BEGIN, uid, size, NULL, 0);
}

static mf_err
rd_data(void *ud, const uint8_t *p, size_t n) {
    struct mf__folder *fr = ud;

    if (fr->rd_skip)
        return MF_E_OK;
    if (fr->rd_len + n > fr->rd_size)
        return MF_E_IMAP_UNEXPECTED;
    mf__leases_bandwidth(fr->run->leases, false, n);
    if (fr->rd_whole) {
        memcpy(fr->rd_buf + fr->rd_len, p, n);
        fr->rd_len += n;
        return MF_E_OK;
    }
    fr->rd_len += n;
    if (fr->rd_len == fr->rd_size) {
        /* The last bytes wait for end(): the store has not confirmed yet
         * that the body is this UID's, and once they are sent the target
         * commits the message. */
        fr->rd_tail = mf_xmemdup(p, n);
        fr->rd_tail_len = n;
        return MF_E_OK;
    }
    return push(fr, MF_PIPE_DATA, fr->rd_uid, 0, mf_xmemdup(p, n), n);
}

static mf_err
rd_end(void *ud) {
    struct mf__folder *fr = ud;
    uint8_t *buf = fr->rd_buf;
    mf_err rc;

    if (fr->rd_skip)
        return MF_E_OK;
    if (fr->rd_len != fr->rd_size)
        return MF_E_IMAP_UNEXPECTED;
    if (!fr->rd_whole) {
        uint8_t *tail = fr->rd_tail;
        fr->rd_tail = NULL;
        if (tail && (rc = push(fr, MF_PIPE_DATA, fr->rd_uid, 0, tail,
                               fr->rd_tail_len)) != MF_E_OK)
            return rc;
        return push(fr, MF_PIPE_END, fr->rd_uid, 0, NULL, 0);
    }
    fr->rd_buf = NULL;
    return push(fr, MF_PIPE_WHOLE, fr->rd_uid, fr->rd_size, buf, fr->rd_len);
}

static mf_err
rd_vanished(void *ud, uint32_t uid) {
    struct mf__folder *fr = ud;
    return push(fr, MF_PIPE_VANISHED, uid, 0, NULL, 0);
}

static const struct mf_store_body_cb reader_cb = {
    .begin = rd_begin,
    .data = rd_data,
    .end = rd_end,
    .vanished = rd_vanished,
};

/* Waits while the source's endpoint is paused (the writer keeps
 * src_pause_until), returning early when the copy stops. */
static void
honour_pause(struct mf__folder *fr) {
    const atomic_bool *stop = fr->run->o->stop;

    for (;;) {
        uint64_t t = mf_monotonic_ms(),
                 until = atomic_load(&fr->src_pause_until);
        if (until <= t || mf__pipe_cancelled(fr->pipe) ||
            (stop && atomic_load(stop)))
            return;
        mf_sleep_ms(until - t < 50 ? until - t : 50);
    }
}

/* The bodies of todo in batches of READ_BATCH UIDs, each sent only when
 * the source is not paused: a fleet-wide throttle of the source stops
 * this FETCH between batches, on the same connection, instead of at the
 * next folder or reconnection. */
static mf_err
fetch_all(struct mf__folder *fr, const uint32_t *todo, size_t n) {
    struct mf_store *src = fr->run->src;
    mf_err rc = MF_E_OK;

    for (size_t i = 0; i < n && rc == MF_E_OK; i += READ_BATCH) {
        size_t k = n - i < READ_BATCH ? n - i : READ_BATCH;
        honour_pause(fr);
        /* The writer stopped: nothing is half-read, nothing to say. */
        if (mf__pipe_cancelled(fr->pipe))
            return MF_E_OK;
        rc = src->ops->fetch_bodies(src, todo + i, k, &reader_cb, fr);
    }
    return rc;
}

void *
mf__folder_reader_main(void *arg) {
    struct mf__folder *fr = arg;
    struct mf_store *src = fr->run->src;
    struct mf_pipe_item *it;
    mf_err rc;

    rc = fetch_all(fr, fr->todo, fr->ntodo);
    if (rc == MF_E_OK && fr->nrefetch) {
        uint32_t *again = fr->refetch;
        size_t n = fr->nrefetch;
        fr->refetch = NULL;
        fr->nrefetch = 0;
        fr->rd_last_try = true;
        rc = fetch_all(fr, again, n);
        free(again);
    }
    fr->reader_rc = rc;
    free(fr->rd_buf);
    fr->rd_buf = NULL;
    free(fr->rd_tail);
    fr->rd_tail = NULL;
    it = mf__pipe_item_new(rc == MF_E_OK ? MF_PIPE_DONE : MF_PIPE_ERROR);
    if (rc != MF_E_OK) {
        it->error = src->error;
        it->retry_after_ms = src->retry_after_ms;
    }
    if (mf__pipe_push(fr->pipe, it) != MF_E_OK) {
        /* Cancelled: the writer has stopped and does not need to know. */
    }
    return NULL;
}
