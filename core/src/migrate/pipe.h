/*
 * A bounded queue of message bytes between the thread that reads a folder
 * from the source and the thread that appends it to the target: the part
 * that lets source reads overlap target writes with bounded memory.
 *
 * Items are small messages whole (WHOLE), or big ones in pieces (BEGIN,
 * DATA..., END) that the target streams into an APPEND literal while the
 * source is still sending them. push() blocks while the queue holds more
 * than max_bytes of data (one item is always let in, so a piece bigger
 * than the bound cannot deadlock); pop() blocks while it is empty unless
 * asked not to. cancel() wakes both sides for good: later pushes fail
 * with MF_E_CANCELLED and pops return what is left, then NULL.
 *
 * Ownership: push() takes the item (also on failure); pop() hands it to
 * the caller, who frees it with mf__pipe_item_free().
 */
#ifndef MF_MIGRATE_PIPE_H
#define MF_MIGRATE_PIPE_H

#include "mailferry/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mf_pipe_kind {
    MF_PIPE_WHOLE = 1, /* uid, data/len: a complete message */
    MF_PIPE_BEGIN,     /* uid, size: a streamed message starts */
    MF_PIPE_DATA,      /* data/len: the next piece of it */
    MF_PIPE_END,       /* it is complete */
    MF_PIPE_VANISHED,  /* uid: expunged on the source meanwhile */
    MF_PIPE_DONE,      /* the reader finished: nothing follows */
    MF_PIPE_ERROR,     /* the reader failed: error says why */
    MF_PIPE_FAILED,    /* uid: cannot be read as listed; error says why */
};

struct mf_pipe_item {
    enum mf_pipe_kind kind;
    uint32_t uid;
    uint64_t size;
    uint8_t *data; /* owned */
    size_t len;
    struct mf_error error;
    uint32_t retry_after_ms;
    struct mf_pipe_item *next;
};

struct mf_pipe;

struct mf_pipe *mf__pipe_new(size_t max_bytes);
void mf__pipe_free(struct mf_pipe **p);
struct mf_pipe_item *mf__pipe_item_new(enum mf_pipe_kind kind);
void mf__pipe_item_free(struct mf_pipe_item **it);
MF_WARN_UNUSED mf_err mf__pipe_push(struct mf_pipe *p, struct mf_pipe_item *it);
/* The oldest item, or NULL when there is none (wait false) or the pipe
 * was cancelled and is empty. */
struct mf_pipe_item *mf__pipe_pop(struct mf_pipe *p, bool wait);
void mf__pipe_cancel(struct mf_pipe *p);
/* Whether cancel() was called (the reader's pause stops waiting). */
bool mf__pipe_cancelled(struct mf_pipe *p);
/* Bytes queued now, and the most ever queued (for tests of the bound). */
size_t mf__pipe_bytes(struct mf_pipe *p);
size_t mf__pipe_peak(struct mf_pipe *p);

#endif
