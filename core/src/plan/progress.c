/*
 * The progress line of a plan (mf_plan_progress_cb(), mailferry/plan.h):
 * how many mailboxes are planned and the last one, redrawn in place with
 * a carriage return, and erased once the last is done.
 */
#include "plan/plan_int.h"

#include <stdio.h>

void
mf_plan_progress_cb(void *ud, size_t index, const struct mf_plan_mailbox *mb) {
    struct mf_plan_progress *p = ud;

    (void)index;
    p->done++;
    if (p->draw)
        fprintf(p->out, "\rplanned %zu/%zu: %-40.40s", p->done, p->n,
                mb->email);
    if (p->draw && p->done == p->n)
        fprintf(p->out, "\r%70s\r", "");
}
