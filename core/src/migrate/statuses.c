/*
 * STATUS of a mailbox's folders asked ahead (migrate_int.h): before the
 * first folder of an attempt, every folder still to visit is asked on
 * both sides at once, pipelined (store.h statuses()), so that a pass
 * over unchanged or empty folders costs one round trip per side, not
 * two per folder. folder.c step 0 takes each folder's answers when its
 * turn comes (mf__run_status_take()).
 *
 * An answer asked ahead is older than one asked at the folder's turn,
 * and every use of it is safe with an older one: a folder skipped as
 * unchanged was provably unchanged then, and what changed since is a
 * change for the next pass (a skipped folder's checkpoint is not
 * rewritten); a STATUS recorded in a checkpoint that is older than the
 * folder's state makes the next pass visit it, never skip it. Where the
 * target's answer stands for "now" (folder.c's flags_unchanged()), the
 * folder asks again at its turn.
 */
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

struct mf__status_ahead {
    const struct mf_folder_entry *e; /* borrowed from the attempt's plan */
    struct mf_store_status st[2];    /* [0] source, [1] target */
    bool ok[2];                      /* answered, not taken yet */
};

/* One side's STATUS of every folder of run->ahead. */
static mf_err
ask(struct mf__run *run, bool target) {
    struct mf_store *st = target ? run->dst : run->src;
    size_t n = run->n_ahead;
    const char **names = mf_xcalloc(n, sizeof(*names));
    char **owned = mf_xcalloc(n, sizeof(*owned));
    struct mf_store_status *got = mf_xcalloc(n, sizeof(*got));
    bool *ok = mf_xcalloc(n, sizeof(*ok));
    mf_err rc;

    for (size_t i = 0; i < n; i++) {
        const struct mf_folder_entry *e = run->ahead[i].e;
        if (target) {
            names[i] = e->tgt_wire;
        } else {
            owned[i] = mf_xstrndup((const char *)e->src_raw, e->src_raw_len);
            names[i] = owned[i];
        }
    }
    rc = st->ops->statuses(st, names, n, got, ok);
    if (rc != MF_E_OK)
        rc = mf__run_store_error(run, st,
                                 target ? "target STATUS" : "source STATUS");
    for (size_t i = 0; rc == MF_E_OK && i < n; i++) {
        run->ahead[i].st[target] = got[i];
        run->ahead[i].ok[target] = ok[i];
    }
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
    free(names);
    free(got);
    free(ok);
    return rc;
}

mf_err
mf__run_statuses_ask(struct mf__run *run, const struct mf_folder_entry **v,
                     size_t n) {
    mf_err rc;

    mf__run_statuses_free(run);
    if (n == 0 || !run->src->ops->statuses || !run->dst->ops->statuses)
        return MF_E_OK;
    run->ahead = mf_xcalloc(n, sizeof(*run->ahead));
    run->n_ahead = n;
    for (size_t i = 0; i < n; i++)
        run->ahead[i].e = v[i];
    /* Not a command to a server the fleet paused (throttle.c). */
    mf__run_throttle_wait(run, false, false);
    if ((rc = ask(run, false)) == MF_E_OK) {
        mf__run_throttle_wait(run, true, false);
        rc = ask(run, true);
    }
    if (rc != MF_E_OK)
        mf__run_statuses_free(run);
    return rc;
}

bool
mf__run_status_take(struct mf__run *run, const struct mf_folder_entry *e,
                    bool target, struct mf_store_status *st_r) {
    for (size_t i = 0; i < run->n_ahead; i++) {
        struct mf__status_ahead *a = &run->ahead[i];
        if (a->e != e || !a->ok[target])
            continue;
        *st_r = a->st[target];
        a->ok[target] = false;
        return true;
    }
    return false;
}

void
mf__run_statuses_free(struct mf__run *run) {
    free(run->ahead);
    run->ahead = NULL;
    run->n_ahead = 0;
}
