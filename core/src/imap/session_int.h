/*
 * Internal accessors of the session, for session_ops.c (the synchronous
 * helpers) and tests. Not for use outside core/src/imap.
 */
#ifndef MF_IMAP_SESSION_INT_H
#define MF_IMAP_SESSION_INT_H

#include "imap/session.h"

/* The result slot the helpers fill (see mf_imap_session_last()). */
struct mf_imap_result *mf__imap_session_last_mut(struct mf_imap_session *s);
/* What the last SELECT/EXAMINE reported, kept up to date by untagged
 * responses. */
const struct mf_imap_mailbox_info *
mf__imap_session_mbox(const struct mf_imap_session *s);
/* The handler registered for keyword, if any. */
bool mf__imap_session_untagged_get(struct mf_imap_session *s,
                                   const char *keyword,
                                   mf_imap_untagged_cb *cb_r, void **ud_r);
void mf__imap_session_set_state(struct mf_imap_session *s,
                                enum mf_imap_state st);
/* The session's connection (borrowed), for tests: socket options. */
struct mf_imap_conn *mf__imap_session_conn(struct mf_imap_session *s);

#endif
