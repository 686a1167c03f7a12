/*
 * The worker's metrics counters (struct mf_worker_stats) and its clocks.
 * Error codes are counted in a small table whose entries are taken by
 * compare-and-swap, so that any thread can count without a lock; codes
 * beyond the table are summed in errors_other.
 */
#include "worker/worker_int.h"

#include <string.h>
#include <time.h>

void
mf_worker_stats_init(struct mf_worker_stats *s) {
    memset(s, 0, sizeof(*s));
}

void
mf_worker_stats_count_error(struct mf_worker_stats *s, mf_err code) {
    if (!s || code == MF_E_OK)
        return;
    for (size_t i = 0; i < MF_WORKER_ERROR_CODES; i++) {
        int cur = atomic_load(&s->errors[i].code);
        if (cur == 0) {
            int expected = 0;
            if (atomic_compare_exchange_strong(&s->errors[i].code, &expected,
                                               (int)code))
                cur = (int)code;
            else
                cur = expected;
        }
        if (cur == (int)code) {
            atomic_fetch_add(&s->errors[i].count, 1);
            return;
        }
    }
    atomic_fetch_add(&s->errors_other, 1);
}

void
mf__worker_count_error(struct mf__worker *w, mf_err code) {
    mf_worker_stats_count_error(w->stats, code);
}

static void
count_up(_Atomic uint64_t *stat, uint64_t *counted, uint64_t total) {
    if (total > *counted) {
        atomic_fetch_add(stat, total - *counted);
        *counted = total;
    }
}

void
mf__worker_count_progress(struct mf__worker_job *j, const uint64_t *messages,
                          const uint64_t *bytes) {
    struct mf_worker_stats *s = j->w->stats;

    count_up(&s->messages_copied, &j->counted_messages,
             messages ? *messages : atomic_load(&j->progress.messages_copied));
    count_up(&s->bytes_copied, &j->counted_bytes,
             bytes ? *bytes : atomic_load(&j->progress.bytes_done));
}

uint64_t
mf__worker_now_ms(void) {
    return mf_monotonic_ms();
}

uint64_t
mf__worker_wall_ms(void) {
    return (uint64_t)mf_wall_ms();
}
