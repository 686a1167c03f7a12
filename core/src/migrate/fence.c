/*
 * A job's fence on its claim (see mailferry/fence.h): a deadline the
 * claim's keeper moves on after every renewal, a broken flag, and the
 * stores to abort when it breaks. The deadline and the flag are atomics
 * (the engine's threads read them before every send); the store slots
 * are under a mutex, so that a store is never aborted while its owner
 * closes it (the owner detaches first).
 */
#include "mailferry/fence.h"

#include "mailferry/store.h"

#include <string.h>
#include <time.h>

uint64_t
mf_fence_now_ms(void) {
    return mf_monotonic_ms();
}

void
mf_fence_init(struct mf_fence *f, const struct mf_checkpoint_claim *claim,
              uint64_t valid_until_ms) {
    memset(f, 0, sizeof(*f));
    f->claim = *claim;
    atomic_store(&f->valid_until_ms, valid_until_ms);
    atomic_store(&f->broken, false);
    pthread_mutex_init(&f->mu, NULL);
}

void
mf_fence_destroy(struct mf_fence *f) {
    pthread_mutex_destroy(&f->mu);
}

void
mf_fence_extend(struct mf_fence *f, uint64_t valid_until_ms) {
    uint64_t cur = atomic_load(&f->valid_until_ms);

    while (cur < valid_until_ms && !atomic_load(&f->broken) &&
           !atomic_compare_exchange_weak(&f->valid_until_ms, &cur,
                                         valid_until_ms)) {
    }
}

void
mf_fence_break(struct mf_fence *f) {
    if (atomic_exchange(&f->broken, true))
        return;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < MF_FENCE_STORES; i++) {
        struct mf_store *st = f->stores[i];
        if (st && st->ops->abort)
            st->ops->abort(st);
    }
    pthread_mutex_unlock(&f->mu);
}

bool
mf_fence_holds(struct mf_fence *f) {
    if (!f)
        return true;
    if (atomic_load(&f->broken))
        return false;
    if (mf_fence_now_ms() < atomic_load(&f->valid_until_ms))
        return true;
    /* Not renewed in time: another worker may hold the mailbox now. */
    mf_fence_break(f);
    return false;
}

void
mf_fence_attach(struct mf_fence *f, int slot, struct mf_store *st) {
    if (!f)
        return;
    MF_ASSERT(slot >= 0 && slot < MF_FENCE_STORES);
    pthread_mutex_lock(&f->mu);
    if (f->stores[slot])
        f->stores[slot]->fence = NULL;
    f->stores[slot] = st;
    if (st) {
        st->fence = f;
        if (atomic_load(&f->broken) && st->ops->abort)
            st->ops->abort(st);
    }
    pthread_mutex_unlock(&f->mu);
}
