/*
 * Fencing a job to its claim (issue 11 section 4, docs/design.md §6 "claim,
 * then commit"): a worker whose claim is gone (it expired while the
 * process was stopped or cut off from Redis, and another worker took the
 * mailbox over) must neither append more to the target nor move a
 * checkpoint, whatever it was doing when it lost the claim.
 *
 * A struct mf_fence is shared by the claim's keeper (a thread that renews
 * the claim) and the engine running the job:
 *   - the keeper extends it after every renewal to the monotonic time
 *     until which the claim is certainly ours, and breaks it when the
 *     claim is lost; breaking aborts the connections attached to it
 *     (store abort: shutdown(2) of the socket), so a FETCH or APPEND in
 *     progress fails at once;
 *   - the engine attaches its stores, asks mf_fence_holds() before it
 *     sends anything (the IMAP connection's send gate) or writes a
 *     checkpoint, and writes checkpoints as a compare-and-set on the
 *     claim (mf_checkpoint_put() with the fence's claim), which Redis
 *     refuses once the claim is someone else's.
 * The time test is what protects a process that was stopped (SIGSTOP, a
 * VM paused) past its claim: when it runs again every thread finds the
 * deadline passed before it sends a byte, before its keeper even wakes.
 *
 * Threads: every function may be called from any thread. The fence is
 * owned by whoever runs the job and must outlive the engine's run.
 */
#ifndef MAILFERRY_FENCE_H
#define MAILFERRY_FENCE_H

#include "mailferry/checkpoint.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct mf_store;

#define MF_FENCE_STORES 2

struct mf_fence {
    /* The claim checkpoint writes are fenced by (borrowed strings). */
    struct mf_checkpoint_claim claim;
    _Atomic uint64_t valid_until_ms; /* monotonic (mf_fence_now_ms) */
    atomic_bool broken;
    pthread_mutex_t mu;
    struct mf_store *stores[MF_FENCE_STORES]; /* borrowed, under mu */
};

/* The clock of valid_until_ms: CLOCK_MONOTONIC in ms. */
uint64_t mf_fence_now_ms(void);

/* Starts a fence for claim (strings borrowed for the fence's life), valid
 * until valid_until_ms. */
void mf_fence_init(struct mf_fence *f, const struct mf_checkpoint_claim *claim,
                   uint64_t valid_until_ms);
void mf_fence_destroy(struct mf_fence *f);

/* The claim was renewed: it is ours until valid_until_ms (never moves the
 * deadline back, and does nothing on a broken fence). */
void mf_fence_extend(struct mf_fence *f, uint64_t valid_until_ms);
/* The claim is lost: from now on the fence does not hold, and the
 * attached stores are aborted. */
void mf_fence_break(struct mf_fence *f);
/* Whether the claim is still certainly ours (not broken, deadline not
 * passed). A passed deadline breaks the fence. f NULL: true. */
bool mf_fence_holds(struct mf_fence *f);

/* Attaches a store (slot 0 source, 1 target) to be aborted if the fence
 * breaks, and gives it the fence (its sends are gated on it); st NULL
 * detaches the slot before its store is closed. f NULL: does nothing. An
 * attach to a broken fence aborts the store at once. */
void mf_fence_attach(struct mf_fence *f, int slot, struct mf_store *st);

#endif
