/*
 * STATUS and checkpoints of a mailbox's folders asked ahead
 * (migrate_int.h): before the
 * first folder of an attempt, every folder still to visit is asked on
 * both sides at once, pipelined (mailferry/store.h statuses()), so that a pass
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
 *
 * The folders' checkpoints are read ahead too, in one round trip to
 * Redis (mf_checkpoint_get_many()), and taken by mf__ckpt_get() (run.c).
 * Only this job writes them (its claim fences every write), and each
 * folder's once, at its own turn, after it took the one read ahead.
 */
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

struct mf__status_ahead {
    const struct mf_folder_entry *e; /* borrowed from the attempt's plan */
    char *src_name;                  /* owned: e's raw source name */
    struct mf_store_status st[2];    /* [0] source, [1] target */
    bool ok[2];                      /* answered, not taken yet */
    struct mf_checkpoint ck;         /* its pending UIDs owned */
    bool ck_read, ck_found;          /* read, not taken yet */
};

/* The checkpoints of every folder of run->ahead, with a Redis. */
static mf_err
read_checkpoints(struct mf__run *run) {
    size_t n = run->n_ahead;
    const char **names = mf_xcalloc(n, sizeof(*names));
    struct mf_checkpoint *ck = mf_xcalloc(n, sizeof(*ck));
    bool *found = mf_xcalloc(n, sizeof(*found));
    mf_err rc;

    for (size_t i = 0; i < n; i++)
        names[i] = run->ahead[i].src_name;
    rc = mf_checkpoint_get_many(run->o->redis,
                                run->o->batch ? run->o->batch : "",
                                run->mailbox, names, n, ck, found, &run->err);
    for (size_t i = 0; rc == MF_E_OK && i < n; i++) {
        run->ahead[i].ck = ck[i];
        run->ahead[i].ck_found = found[i];
        run->ahead[i].ck_read = true;
    }
    free(names);
    free(ck);
    free(found);
    return rc;
}

/* One side's STATUS of every folder of run->ahead. */
static mf_err
ask(struct mf__run *run, bool target) {
    struct mf_store *st = target ? run->dst : run->src;
    size_t n = run->n_ahead;
    const char **names = mf_xcalloc(n, sizeof(*names));
    struct mf_store_status *got = mf_xcalloc(n, sizeof(*got));
    bool *ok = mf_xcalloc(n, sizeof(*ok));
    mf_err rc;

    for (size_t i = 0; i < n; i++)
        names[i] = target ? run->ahead[i].e->tgt_wire : run->ahead[i].src_name;
    rc = st->ops->statuses(st, names, n, got, ok);
    if (rc != MF_E_OK)
        rc = mf__run_store_error(run, st,
                                 target ? "target STATUS" : "source STATUS");
    for (size_t i = 0; rc == MF_E_OK && i < n; i++) {
        run->ahead[i].st[target] = got[i];
        run->ahead[i].ok[target] = ok[i];
    }
    free(names);
    free(got);
    free(ok);
    return rc;
}

mf_err
mf__run_statuses_ask(struct mf__run *run, const struct mf_folder_entry **v,
                     size_t n) {
    mf_err rc;

    bool status = run->src->ops->statuses && run->dst->ops->statuses;

    mf__run_statuses_free(run);
    if (n == 0 || (!status && !run->o->redis))
        return MF_E_OK;
    run->ahead = mf_xcalloc(n, sizeof(*run->ahead));
    run->n_ahead = n;
    for (size_t i = 0; i < n; i++) {
        run->ahead[i].e = v[i];
        run->ahead[i].src_name =
            mf_xstrndup((const char *)v[i]->src_raw, v[i]->src_raw_len);
    }
    rc = run->o->redis ? read_checkpoints(run) : MF_E_OK;
    /* Not a command to a server the fleet paused (throttle.c). */
    if (rc == MF_E_OK && status) {
        mf__run_throttle_wait(run, false, false);
        if ((rc = ask(run, false)) == MF_E_OK) {
            mf__run_throttle_wait(run, true, false);
            rc = ask(run, true);
        }
    }
    if (rc != MF_E_OK)
        mf__run_statuses_free(run);
    return rc;
}

bool
mf__run_ckpt_take(struct mf__run *run, const char *folder,
                  struct mf_checkpoint *ck_r, bool *found_r) {
    for (size_t i = 0; i < run->n_ahead; i++) {
        struct mf__status_ahead *a = &run->ahead[i];
        if (!a->ck_read || strcmp(a->src_name, folder) != 0)
            continue;
        *ck_r = a->ck; /* its pending UIDs move */
        *found_r = a->ck_found;
        memset(&a->ck, 0, sizeof(a->ck));
        a->ck_read = false;
        return true;
    }
    return false;
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
    for (size_t i = 0; i < run->n_ahead; i++) {
        mf_checkpoint_pending_free(&run->ahead[i].ck);
        free(run->ahead[i].src_name);
    }
    free(run->ahead);
    run->ahead = NULL;
    run->n_ahead = 0;
}
