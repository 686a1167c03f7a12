/*
 * The IMAP store's insides, shared by its files and no one else (tests
 * included: they go through mailferry/store.h):
 *
 *   store_imap.c          the vtable, opening (NAMESPACE, UserRoot),
 *                         closing, the fence gate, one waited command
 *   store_imap_folders.c  LIST (and LSUB), CREATE, SUBSCRIBE (also
 *                         pipelined)
 *   store_imap_select.c   SELECT (also ahead), STATUS, EXISTS, the
 *                         sequence map (EXPUNGE, VANISHED)
 *   store_imap_meta.c     metadata FETCH, counting, CHANGEDSINCE
 *   store_imap_fetch.c    message bodies (streamed or whole)
 *   store_imap_append.c   appends and flag changes: the queue of
 *                         commands in flight and their answers; UID
 *                         EXPUNGE
 *   store_imap_move.c     UID MOVE and its COPYUID
 *
 * struct imap_store owns its session, the sequence map and the queue of
 * pending appends and flag changes; everything a callback gets is
 * borrowed (mailferry/store.h).
 */
#ifndef MF_MIGRATE_STORE_IMAP_INT_H
#define MF_MIGRATE_STORE_IMAP_INT_H

#include "mailferry/store.h"

#include "mailferry/imap_session.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mf_header_scan;
struct mf__meta_merge;
struct mf__store_pending;

struct mf__store_seqent {
    uint32_t seq, uid;
};

struct imap_store {
    struct mf_store base; /* first */
    struct mf_imap_session *s;
    /* Sequence map of the selected folder, sorted by seq. */
    struct mf__store_seqent *map;
    size_t nmap, capmap;
    uint32_t exists; /* the selected folder's message count */
    /* Queued appends and flag changes, oldest first (a ring). */
    struct mf__store_pending **q;
    size_t qhead, qlen, qcap;
    /* fetch_bodies() state. */
    const struct mf_store_body_cb *bcb;
    void *bud;
    uint32_t lit_uid; /* uid of the literal being streamed, 0: none */
    /* The streamed literal that ended in the FETCH response being read:
     * its end() waits until the response's own UID confirms it. */
    uint32_t lit_ended;
    uint8_t *got; /* per asked uid: delivered */
    const uint32_t *asked;
    size_t nasked;
    /* fetch_meta() state. */
    mf_store_meta_cb mcb;
    void *mud;
    uint32_t mfirst, mlast;
    struct mf_header_scan *scan;
    struct mf__meta_merge *merge; /* owned, during fetch_meta() */
    mf_err cb_error; /* a callback's own failure, kept for the caller */
    /* A SELECT sent ahead (select_ahead()), until select() takes it;
     * name NULL: none. Its callback fills the rest. */
    struct {
        char *name; /* owned */
        uint32_t id;
        bool done;
        struct mf_error error;
        uint32_t retry_after_ms;
        struct mf_imap_mailbox_info info;
    } ahead;
    /* LIST pattern: "*", or "<UserRoot><delim>*" (store_imap.c). */
    char *list_pattern;
    bool root_inbox; /* the UserRoot is selectable: it is the INBOX */
    /* vanished() state: where VANISHED (EARLIER) ranges go. */
    void (*vcb)(void *ud, uint32_t lo, uint32_t hi);
    void *vud;
};

static inline struct imap_store *
mf__store_imap(struct mf_store *st) {
    return (struct imap_store *)st;
}

/* store_imap.c */

/* Fills is->base.error from the session (or from a callback's own
 * failure, is->cb_error) after a call returned rc; returns the code. */
mf_err mf__store_imap_fail(struct imap_store *is, mf_err rc);
/* Submits c (cleared afterwards) and waits; fills is->base.error on
 * failure, also for a NO or BAD. */
mf_err mf__store_imap_run(struct imap_store *is, struct mf_imap_cmd_spec *c);

/* store_imap_folders.c */

/* The MF_FOLDER_ATTR_ bits of LIST attributes as sent. */
unsigned mf__store_imap_attrs(const struct mf_imap_arg *raw, size_t n);
mf_err mf__store_imap_list(struct mf_store *st, mf_store_folder_cb cb,
                           void *ud);
mf_err mf__store_imap_create(struct mf_store *st, const char *name);
mf_err mf__store_imap_subscribe(struct mf_store *st, const char *name);
mf_err mf__store_imap_folders(struct mf_store *st, bool subscribe,
                              const char *const *names, size_t n,
                              struct mf_error *errs);

/* store_imap.c */
/* Appends a compact UID set ("3:7,9,12:13") of uids[0..n) to c. */
void mf__store_imap_add_uid_set(struct mf_imap_cmd_spec *c,
                                const uint32_t *uids, size_t n);
/* Expands a uid-set ("7", "7:9", "3,5:6") into out, in the order written,
 * at most max UIDs; false when malformed or longer. */
bool mf__store_imap_uid_set_parse(const char *s, uint32_t *out, size_t max,
                                  size_t *n_r);

/* store_imap_select.c */

mf_err mf__store_imap_select(struct mf_store *st, const char *name,
                             bool readonly, struct mf_store_select *sel_r);
void mf__store_imap_select_ahead(struct mf_store *st, const char *name);
mf_err mf__store_imap_status(struct mf_store *st, const char *name,
                             struct mf_store_status *status_r);
mf_err mf__store_imap_statuses(struct mf_store *st, const char *const *names,
                               size_t n, struct mf_store_status *status_r,
                               bool *ok_r);
mf_err mf__store_imap_on_vanished(void *ud, const struct mf_imap_response *r);
mf_err mf__store_imap_vanished(struct mf_store *st, uint32_t last,
                               uint64_t modseq,
                               void (*cb)(void *ud, uint32_t lo, uint32_t hi),
                               void *ud);
/* Untagged handlers kept for the store's life: they keep the sequence
 * map and the message count right. */
mf_err mf__store_imap_on_expunge(void *ud, const struct mf_imap_response *r);
mf_err mf__store_imap_on_exists(void *ud, const struct mf_imap_response *r);
/* Files uid under sequence number seq in the sequence map. */
void mf__store_imap_map_put(struct imap_store *is, uint32_t seq, uint32_t uid);
/* The UID filed under seq, 0 when none is. */
uint32_t mf__store_imap_map_uid(const struct imap_store *is, uint32_t seq);
/* Frees the reading state (SELECT sent ahead, sequence map, header
 * scanner). */
void mf__store_imap_fetch_free(struct imap_store *is);

/* store_imap_meta.c */

mf_err mf__store_imap_fetch_meta(struct mf_store *st, uint32_t first,
                                 uint32_t last, unsigned what,
                                 mf_store_meta_cb cb, void *ud);
mf_err mf__store_imap_count(struct mf_store *st, uint32_t first, uint32_t last,
                            uint32_t *n_r);
mf_err mf__store_imap_changed_since(struct mf_store *st, uint32_t first,
                                    uint32_t last, uint64_t modseq,
                                    bool *changed_r);

/* store_imap_fetch.c */

mf_err mf__store_imap_fetch_bodies(struct mf_store *st, const uint32_t *uids,
                                   size_t n, const struct mf_store_body_cb *cb,
                                   void *ud);

/* store_imap_append.c */

mf_err mf__store_imap_append(struct mf_store *st, const char *folder,
                             const struct mf_store_append_msg *msgs, size_t n,
                             mf_store_done_cb cb, void *ud);
mf_err mf__store_imap_set_flags(struct mf_store *st, const uint32_t *uids,
                                size_t n, const char *flags,
                                mf_store_done_cb cb, void *ud);
mf_err mf__store_imap_flush(struct mf_store *st, size_t max_pending);
/* Drops the finished entries at the head of the queue; with all, every
 * entry (their callbacks have run: the session was aborted or freed). */
void mf__store_imap_queue_drop(struct imap_store *is, bool all);
mf_err mf__store_imap_expunge_uids(struct mf_store *st, const uint32_t *uids,
                                   size_t n);

/* store_imap_move.c */

mf_err mf__store_imap_move_uids(struct mf_store *st, const uint32_t *uids,
                                size_t n, const char *dest,
                                uint32_t *uidvalidity_r, uint32_t *new_r);

#endif
