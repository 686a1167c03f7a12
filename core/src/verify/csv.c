/*
 * `verify FILE` (mf_verify_csv_run(), mailferry/verify.h): the rows of a
 * CSV as the mailboxes of a verification run, each logged in as a
 * process that connects itself (mf_jobs_direct_logins()); the login
 * strings live until the mailbox is released.
 */
#include "verify/verify_int.h"

#include "mailferry/csv.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

static mf_err
csv_login(void *ud, size_t i, struct mf_migrate_login *src,
          struct mf_migrate_login *dst, void **hold, struct mf_error *err) {
    const struct mf_verify_csv *c = ud;
    char **owned = mf_xcalloc(4, sizeof(*owned));
    struct mf_jobs_direct_mailbox mb;

    (void)err;
    mf_jobs_direct_mailbox_csv(&c->rows[i], &mb);
    mf_jobs_direct_logins(c->sides, &mb, src, dst, owned);
    *hold = owned;
    return MF_E_OK;
}

static void
csv_release(void *ud, void *hold) {
    char **owned = hold;

    (void)ud;
    for (int k = 0; k < 4; k++)
        free(owned[k]);
    free(owned);
}

void
mf_verify_csv_run(struct mf_verify_csv *c, struct mf_verify_run *r) {
    free(c->emails);
    c->emails = mf_xcalloc(c->n ? c->n : 1, sizeof(*c->emails));
    for (size_t i = 0; i < c->n; i++)
        c->emails[i] = c->rows[i].email;
    r->email = c->emails;
    r->n = c->n;
    r->login = csv_login;
    r->release = csv_release;
    r->ud = c;
}

void
mf_verify_csv_free(struct mf_verify_csv *c) {
    free(c->emails);
    c->emails = NULL;
}
