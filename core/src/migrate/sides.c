/*
 * Both sides of one mailbox opened as an attempt of the engine opens them
 * (mailferry/migrate.h, struct mf_migrate_sides), for `mailferry verify`
 * (core/src/verify/verify.c), which reads both servers the way the
 * migration mapped them and reaches the engine through this public API
 * only: the caps' mailbox slot and each side's connection lease
 * (leases.c), the fence and the throttling pauses (mailbox.c's
 * open_side), the folder plan (mailbox.c's make_plan), the fallback name
 * of a refused target folder (folder_create.c), store errors as a run
 * words them (run.c).
 *
 * Ownership: the sides own one struct mf__run with its leases and both
 * stores; the stores are closed before the leases are given back.
 */
#include "mailferry/migrate.h"
#include "migrate/leases.h"
#include "migrate/migrate_int.h"

#include "mailferry/util.h"

#include <stdlib.h>

struct mf_migrate_sides {
    struct mf__run run;
    struct mf_migrate_result res; /* the run's own, for its helpers */
};

mf_err
mf_migrate_sides_open(const struct mf_migrate_options *o, const char *mailbox,
                      const struct mf_migrate_login *src,
                      const struct mf_migrate_login *dst,
                      mf_migrate_open_fn open, void *open_ud,
                      struct mf_migrate_sides **sd_r, struct mf_error *err) {
    struct mf_migrate_sides *sd = mf_xcalloc(1, sizeof(*sd));
    struct mf__run *run = &sd->run;
    mf_err rc;

    run->o = o;
    run->mailbox = mailbox;
    run->res = &sd->res;
    run->open = open;
    run->open_ud = open_ud;
    run->stream_threshold = 256 * 1024;
    run->max_size = mf__run_max_message_size(o);
    if ((rc = mf__leases_new(o, &run->leases, &run->err)) ||
        (rc = mf__leases_mailbox(run->leases, &run->err)) ||
        (rc = mf__run_open(run, false, src, &run->src)) ||
        (rc = mf__run_open(run, true, dst, &run->dst))) {
        *err = run->err;
        mf_migrate_sides_close(&sd);
        return rc;
    }
    *sd_r = sd;
    return MF_E_OK;
}

mf_err
mf_migrate_sides_plan(struct mf_migrate_sides *sd,
                      struct mf_folder_plan **plan_r, struct mf_error *err) {
    mf_err rc = mf__run_plan(&sd->run, plan_r);

    if (rc != MF_E_OK)
        *err = sd->run.err;
    return rc;
}

struct mf_store *
mf_migrate_sides_store(struct mf_migrate_sides *sd, bool target) {
    return target ? sd->run.dst : sd->run.src;
}

uint64_t
mf_migrate_sides_max_message_size(const struct mf_migrate_sides *sd) {
    return sd->run.max_size;
}

bool
mf_migrate_sides_fallback(struct mf_migrate_sides *sd,
                          struct mf_folder_plan *plan, size_t i) {
    return mf__run_name_fallback(&sd->run, plan, i);
}

void
mf_migrate_sides_bandwidth(struct mf_migrate_sides *sd, bool target,
                           uint64_t bytes) {
    mf__leases_bandwidth(sd->run.leases, target, bytes);
}

mf_err
mf_migrate_sides_store_error(struct mf_migrate_sides *sd, bool target,
                             const char *what, struct mf_error *err) {
    mf_err rc =
        mf__run_store_error(&sd->run, mf_migrate_sides_store(sd, target), what);

    *err = sd->run.err;
    return rc;
}

void
mf_migrate_sides_close(struct mf_migrate_sides **p) {
    struct mf_migrate_sides *sd = *p;

    if (!sd)
        return;
    mf__leases_attach(sd->run.leases, false, NULL);
    mf__leases_attach(sd->run.leases, true, NULL);
    mf_store_close(&sd->run.src);
    mf_store_close(&sd->run.dst);
    mf__leases_release_connections(sd->run.leases, true, true);
    mf__leases_free(&sd->run.leases);
    mf_migrate_result_clear(&sd->res);
    free(sd);
    *p = NULL;
}
