/*
 * Internals of `mailferry verify` for its unit tests.
 */
#ifndef MF_VERIFY_INT_H
#define MF_VERIFY_INT_H

#include "mailferry/migrate.h"
#include "mailferry/verify.h"

/* mf_verify_mailbox() with the stores opened by open (tests: the
 * in-memory store); open NULL: the IMAP store. */
MF_WARN_UNUSED mf_err mf__verify_mailbox_with(
    const struct mf_verify_options *o, const char *mailbox,
    const struct mf_migrate_login *src, const struct mf_migrate_login *dst,
    mf_migrate_open_fn open, void *open_ud, struct mf_verify_result *res);

#endif
