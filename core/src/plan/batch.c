/*
 * A batch's plan (mf_plan_batch(), mailferry/plan.h): the mailboxes are
 * planned by a few threads, each taking the next mailbox in CSV order,
 * each with its own connections; results land in request order. One
 * mailbox failing (a wrong password, a server that drops us) is recorded
 * on that mailbox and the others go on. Also the totals, which only add
 * up what the per-mailbox plans measured.
 */
#include "plan/plan_int.h"

#include "mailferry/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_CONCURRENCY 4
#define MAX_CONCURRENCY 256

const char *
mf_plan_size_method_name(enum mf_plan_size_method m) {
    switch (m) {
    case MF_PLAN_SIZE_AUTO:
        return "auto";
    case MF_PLAN_SIZE_STATUS:
        return "status";
    case MF_PLAN_SIZE_FETCH:
        return "fetch";
    }
    return "?";
}

bool
mf_plan_size_method_parse(const char *s, enum mf_plan_size_method *m_r) {
    static const enum mf_plan_size_method all[] = {
        MF_PLAN_SIZE_AUTO, MF_PLAN_SIZE_STATUS, MF_PLAN_SIZE_FETCH};

    for (size_t i = 0; i < MF_ARRAY_LEN(all); i++)
        if (strcasecmp(s, mf_plan_size_method_name(all[i])) == 0) {
            *m_r = all[i];
            return true;
        }
    return false;
}

/* ------------------------------------------------------------------ */
/* Totals                                                              */
/* ------------------------------------------------------------------ */

static void
counts_add(struct mf_plan_counts *a, const struct mf_plan_counts *b) {
    a->messages += b->messages;
    a->bytes += b->bytes;
}

void
mf__plan_totals(struct mf_plan_mailbox *res) {
    struct mf_plan_totals *t = &res->totals;

    memset(t, 0, sizeof(*t));
    if (!res->plan)
        return;
    for (size_t i = 0; i < mf_folder_plan_count(res->plan); i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(res->plan, i);
        const struct mf_plan_folder *f = res->folders ? &res->folders[i] : NULL;

        switch (e->action) {
        case MF_FOLDER_COPY:
            t->folders_copy++;
            break;
        case MF_FOLDER_CONTAINER:
            t->folders_container++;
            break;
        case MF_FOLDER_EXCLUDED:
            if (e->src_raw)
                t->folders_excluded++;
            break;
        }
        if (e->flags & MF_FOLDER_F_TARGET_RENAMED)
            t->folders_renamed++;
        if (e->flags & MF_FOLDER_F_SPECIAL_USE)
            t->folders_special_use++;
        if (!f || !f->measured)
            continue;
        counts_add(&t->source, &f->total);
        if (e->action == MF_FOLDER_COPY) {
            t->copy.messages +=
                f->total.messages - f->oversize.messages - f->outside.messages;
            t->copy.bytes +=
                f->total.bytes - f->oversize.bytes - f->outside.bytes;
            counts_add(&t->oversize, &f->oversize);
            counts_add(&t->outside, &f->outside);
        } else {
            counts_add(&t->excluded, &f->total);
        }
    }
}

void
mf_plan_totals_add(struct mf_plan_totals *sum, const struct mf_plan_totals *t) {
    sum->mailboxes += t->mailboxes ? t->mailboxes : 1;
    sum->folders_copy += t->folders_copy;
    sum->folders_container += t->folders_container;
    sum->folders_excluded += t->folders_excluded;
    sum->folders_renamed += t->folders_renamed;
    sum->folders_special_use += t->folders_special_use;
    sum->over_quota += t->over_quota;
    counts_add(&sum->source, &t->source);
    counts_add(&sum->copy, &t->copy);
    counts_add(&sum->oversize, &t->oversize);
    counts_add(&sum->outside, &t->outside);
    counts_add(&sum->excluded, &t->excluded);
}

void
mf_plan_mailbox_clear(struct mf_plan_mailbox *res) {
    if (!res)
        return;
    for (size_t i = 0; i < res->n_oversize; i++)
        free(res->oversize[i].folder);
    free(res->oversize);
    free(res->folders);
    mf_folder_plan_free(&res->plan);
    free(res->email);
    memset(res, 0, sizeof(*res));
}

/* The admin's rename rules that no planned mailbox's plan matched (none
 * when no mailbox was planned: nothing is known then). */
static void
rename_warnings(struct mf_plan_batch *b, const struct mf_folder_rules *rules) {
    char why[2 * MF_FOLDER_RULE_LEN_MAX + 128];

    for (size_t r = 0; rules && b->n_planned && r < rules->n_rename; r++) {
        bool unmatched = true;
        for (size_t i = 0; unmatched && i < b->n; i++)
            if (b->mailboxes[i].plan)
                unmatched =
                    mf_folder_plan_rename_unmatched(b->mailboxes[i].plan, r);
        if (!unmatched)
            continue;
        mf_folder_rename_unmatched_why(&rules->rename[r], why, sizeof(why));
        b->rename_warnings =
            mf_xreallocarray(b->rename_warnings, b->n_rename_warnings + 1,
                             sizeof(*b->rename_warnings));
        b->rename_warnings[b->n_rename_warnings++] = mf_xstrdup(why);
    }
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

struct run {
    const struct mf_plan_options *o;
    const struct mf_plan_request *reqs;
    struct mf_plan_batch *b;
    size_t next;
    pthread_mutex_t mu;
};

static void *
worker(void *arg) {
    struct run *r = arg;

    for (;;) {
        size_t i;
        mf_err rc;

        pthread_mutex_lock(&r->mu);
        i = r->next++;
        pthread_mutex_unlock(&r->mu);
        if (i >= r->b->n)
            break;
        rc = mf_plan_mailbox(r->o, &r->reqs[i], &r->b->mailboxes[i]);
        (void)rc; /* the result holds the outcome */
        if (r->o->on_mailbox) {
            pthread_mutex_lock(&r->mu);
            r->o->on_mailbox(r->o->ud, i, &r->b->mailboxes[i]);
            pthread_mutex_unlock(&r->mu);
        }
    }
    return NULL;
}

mf_err
mf_plan_batch(const struct mf_plan_options *o,
              const struct mf_plan_request *reqs, size_t n,
              struct mf_plan_batch **batch_r, struct mf_error *err) {
    struct run r = {.o = o, .reqs = reqs};
    struct mf_plan_batch *b;
    pthread_t *th;
    size_t nth, started = 0;
    uint64_t largest = 0;
    double t0 = mf_monotonic_s();

    if (!o || !o->source || (n && !reqs))
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "a plan needs a source server");
    b = mf_xcalloc(1, sizeof(*b));
    b->mailboxes = mf_xcalloc(n ? n : 1, sizeof(*b->mailboxes));
    b->n = n;
    b->has_target = o->target != NULL;
    b->max_message_size = o->max_message_size
                              ? o->max_message_size
                              : MF_MIGRATE_DEFAULT_MAX_MESSAGE_SIZE;
    b->size_method = o->size_method;
    b->window = o->window;
    r.b = b;
    pthread_mutex_init(&r.mu, NULL);
    nth = o->concurrency ? o->concurrency : DEFAULT_CONCURRENCY;
    if (nth > MAX_CONCURRENCY)
        nth = MAX_CONCURRENCY;
    if (nth > n)
        nth = n;
    th = mf_xcalloc(nth ? nth : 1, sizeof(*th));
    for (size_t i = 0; i < nth; i++, started++)
        if (pthread_create(&th[i], NULL, worker, &r) != 0)
            break;
    if (started == 0 && n > 0)
        worker(&r); /* no thread to be had: plan them here */
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    pthread_mutex_destroy(&r.mu);

    for (size_t i = 0; i < n; i++) {
        const struct mf_plan_mailbox *mb = &b->mailboxes[i];
        if (mb->error.code != MF_E_OK) {
            b->n_failed++;
            continue;
        }
        b->n_planned++;
        mf_plan_totals_add(&b->totals, &mb->totals);
        if (b->n_planned == 1 || mb->totals.copy.bytes > largest) {
            largest = mb->totals.copy.bytes;
            b->largest = i;
        }
    }
    rename_warnings(b, o->rules);
    b->seconds = mf_monotonic_s() - t0;
    *batch_r = b;
    return MF_E_OK;
}

void
mf_plan_batch_free(struct mf_plan_batch **bp) {
    struct mf_plan_batch *b = *bp;

    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        mf_plan_mailbox_clear(&b->mailboxes[i]);
    free(b->mailboxes);
    for (size_t i = 0; i < b->n_rename_warnings; i++)
        free(b->rename_warnings[i]);
    free(b->rename_warnings);
    free(b);
    *bp = NULL;
}
