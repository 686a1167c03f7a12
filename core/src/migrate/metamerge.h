/*
 * Metadata of a folder's messages gathered per UID across FETCH
 * responses (used by store_imap.c's fetch_meta()).
 *
 * RFC 3501 section 7.4.2 lets a server send the data items of one message
 * in several FETCH responses ("* 4 FETCH (UID 9 FLAGS ())" then
 * "* 4 FETCH (RFC822.SIZE 12 INTERNALDATE ...)"), and an unsolicited
 * FETCH (a flag changed elsewhere) looks just like the first half of such
 * a pair. So a response that does not carry everything is kept here and
 * merged with later ones about the same UID; a message is delivered as
 * soon as everything needed is known, at most once. What is still
 * incomplete when the command ends is delivered then, in UID order, with
 * its missing items named (the engine reports it instead of losing it);
 * a part about a UID that was delivered already (a late unsolicited
 * FETCH) is dropped.
 *
 * No I/O, no IMAP parsing: the store hands over what it parsed. Parts are
 * few at any time (a split message is completed by the next response),
 * so they live in an array searched from its end; delivered UIDs are kept
 * sorted (they arrive in ascending order) for the at-most-once check.
 * Everything it keeps is owned; what it delivers is borrowed by the
 * callback for the call.
 */
#ifndef MF_MIGRATE_METAMERGE_H
#define MF_MIGRATE_METAMERGE_H

#include "mailferry/store.h"

#include <stdint.h>

/* Items one FETCH response carried (have bits). */
#define MF__META_SIZE (1u << 0)
#define MF__META_DATE (1u << 1)
#define MF__META_FLAGS (1u << 2)
#define MF__META_HEADER (1u << 3)
#define MF__META_GMID (1u << 4)

/* What one FETCH response said about a message: the fields of m that
 * the have bits name (date NULL for NIL; message_id, subject and from
 * with MF__META_HEADER, each may be NULL), m.uid always; m.missing is
 * not used. Strings borrowed. */
struct mf__meta_items {
    unsigned have;
    struct mf_store_meta m;
};

struct mf__meta_merge;

/* A merger for one fetch_meta() call: a message is complete once it has
 * the have bits in need. */
struct mf__meta_merge *mf__meta_merge_new(unsigned need);
void mf__meta_merge_free(struct mf__meta_merge **mm);

/* Adds one response's items; calls cb when the message became complete
 * (never twice for one UID). Returns cb's error. */
MF_WARN_UNUSED mf_err mf__meta_merge_add(struct mf__meta_merge *mm,
                                         const struct mf__meta_items *it,
                                         mf_store_meta_cb cb, void *ud);

/* The command ended: delivers every message not delivered yet, in UID
 * order, with what it lacks in missing (the header is not required then).
 * Returns cb's error. */
MF_WARN_UNUSED mf_err mf__meta_merge_finish(struct mf__meta_merge *mm,
                                            mf_store_meta_cb cb, void *ud);

#endif
