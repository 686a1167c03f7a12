/*
 * Internals of the plan module shared by mailbox.c (connect, list, folder
 * plan), measure.c (sizes over IMAP), batch.c (threads and totals),
 * output.c and history.c.
 */
#ifndef MF_PLAN_INT_H
#define MF_PLAN_INT_H

#include "mailferry/imap_session.h"
#include "mailferry/plan.h"

#include <stdbool.h>

/* UIDs per UID FETCH of messages found by SEARCH LARGER. */
#define MF__PLAN_FETCH_CHUNK 500

/* Whether entry e's folder is measured: it exists on the source, can be
 * opened, and belongs to the user (not another namespace). */
bool mf__plan_measurable(const struct mf_folder_entry *e);

/* Measures every measurable folder of res->plan over s (the source,
 * logged in, nothing selected) with res->method, against the cap
 * res->max_message_size: fills res->folders (allocated here, one per
 * entry) and res->oversize. Folder failures are kept per folder, the
 * first also in res->error; the return value is that code, or the error
 * that broke the session. */
MF_WARN_UNUSED mf_err mf__plan_measure(struct mf_imap_session *s,
                                       struct mf_plan_mailbox *res);

/* Reads the target's quota on INBOX into res->quota over s (the target,
 * logged in) when it advertises QUOTA; a refusal is kept in
 * res->quota.error and never fails the plan. */
void mf__plan_quota_read(struct mf_imap_session *s,
                         struct mf_plan_mailbox *res);
/* Takes one "* QUOTA root (resource usage limit ...)" response into q
 * (keeping the tightest root). Returns false if r is not one. */
bool mf__plan_quota_parse(const struct mf_imap_response *r,
                          struct mf_plan_quota *q);
/* Sets q->bytes_short and q->messages_short for copying `copy`. */
void mf__plan_quota_fit(struct mf_plan_quota *q,
                        const struct mf_plan_counts *copy);

/* Fills res->totals from res->plan and res->folders. */
void mf__plan_totals(struct mf_plan_mailbox *res);

/* Appends s to out padded with spaces to width display columns (code
 * points), truncating longer text with "…". */
void mf__plan_pad(FILE *out, const char *s, size_t width);

#endif
