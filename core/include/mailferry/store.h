/*
 * The store interface (layer 5 of the engine, STYLE.md): what the
 * migration engine needs from a mail server, as a small vtable in the
 * manner of isync's driver.h. Two implementations: store_imap.c (a real
 * server over an mf_imap_session) and tests/support/store_mem.c (an
 * in-memory fake for unit tests of the engine, with fault injection).
 *
 * A store is used by one thread at a time. Calls are synchronous except
 * append() and set_flags(), which queue a command and return at once so
 * that many can be in flight; flush() drives them. Callbacks run from
 * inside the store's calls, exactly once per queued command (also when the
 * store breaks); if a queueing call fails, its callback never runs.
 *
 * Errors: every failing call returns an mf_err and leaves code and detail
 * in st->error, the server's suggested backoff in st->retry_after_ms.
 * After an error of class RECONNECT the store is broken: the engine closes
 * it and opens a new one.
 *
 * Two tiers (STYLE.md): this is the public interface, for the engine
 * (core/src/migrate, which implements the IMAP store), the plan, verify and
 * the in-memory fake; what only the engine uses of it is mf__ in
 * core/src/migrate/migrate_int.h.
 *
 * Ownership: everything a callback receives is borrowed for the duration
 * of the call.
 */
#ifndef MAILFERRY_STORE_H
#define MAILFERRY_STORE_H

#include "mailferry/err.h"
#include "mailferry/folderplan.h"
#include "mailferry/imap_session.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One folder as LIST reported it. */
struct mf_store_folder {
    const uint8_t *name; /* raw, as sent (modified UTF-7) */
    size_t len;
    char delim;     /* '\0' for NIL */
    unsigned attrs; /* MF_FOLDER_ATTR_ bits (folderplan.h) */
    bool subscribed;
};
typedef mf_err (*mf_store_folder_cb)(void *ud, const struct mf_store_folder *f);

/* What SELECT told. */
struct mf_store_select {
    uint32_t uidvalidity;
    uint32_t uidnext; /* 0 when the server did not say */
    uint32_t exists;
};

/* What STATUS told about a folder (RFC 3501 section 6.3.10; HIGHESTMODSEQ
 * RFC 7162 section 3.1.3, only from a server with CONDSTORE: it moves on
 * every change to the folder, a flag change included). */
struct mf_store_status {
    uint32_t uidvalidity;
    uint32_t uidnext;
    uint32_t messages;
    uint64_t highestmodseq; /* 0: not given (no CONDSTORE, or NOMODSEQ) */
};

/* What fetch_meta() asks for besides UID, FLAGS, INTERNALDATE, SIZE. */
#define MF_STORE_META_MESSAGE_ID (1u << 0)
#define MF_STORE_META_SUBJECT (1u << 1)
#define MF_STORE_META_FROM (1u << 2)  /* the From field, raw (lenient fp) */
#define MF_STORE_META_GMAIL (1u << 3) /* X-GM-MSGID (caps.gmail_ext) */

/* Items of a message's metadata the server did not give (or gave in a
 * form that cannot be copied), in mf_store_meta.missing. */
#define MF_STORE_MISSING_SIZE (1u << 0)
#define MF_STORE_MISSING_DATE (1u << 1)
#define MF_STORE_MISSING_FLAGS (1u << 2)

/* One message's metadata. A message the server listed without all of
 * size, INTERNALDATE and flags (after merging every FETCH response about
 * it, RFC 3501 section 7.4.2) is still delivered, with missing set: only
 * uid is meaningful then, and the engine reports it instead of dropping
 * it. */
struct mf_store_meta {
    uint32_t uid;
    unsigned missing; /* MF_STORE_MISSING_ bits; 0: complete */
    uint64_t size;
    const char *date;       /* INTERNALDATE as sent, without quotes; NULL
                               when the server sent NIL */
    const char *flags;      /* "\Seen $Work", space separated, no \Recent */
    const char *message_id; /* with MF_STORE_META_MESSAGE_ID; NULL: none */
    const char *subject;    /* with MF_STORE_META_SUBJECT (decoded); or NULL */
    const char *from;       /* with MF_STORE_META_FROM (raw); or NULL */
    uint64_t gm_msgid;      /* with MF_STORE_META_GMAIL; 0: none */
};
typedef mf_err (*mf_store_meta_cb)(void *ud, const struct mf_store_meta *m);

/* Where fetch_bodies() delivers bodies: begin, data (any number of
 * chunks, summing to size), end, per message in the order the server sends
 * them; vanished for every asked UID that never came (expunged meanwhile).
 * A non-OK return breaks the store. */
struct mf_store_body_cb {
    mf_err (*begin)(void *ud, uint32_t uid, uint64_t size);
    mf_err (*data)(void *ud, const uint8_t *p, size_t n);
    mf_err (*end)(void *ud);
    mf_err (*vanished)(void *ud, uint32_t uid);
};

/* One message to append. body->ud is borrowed until the append's done
 * callback has run. */
struct mf_store_append_msg {
    const char *flags; /* "\Seen $Work" or "" */
    const char *date;  /* INTERNALDATE without quotes, or NULL */
    struct mf_imap_body_source body;
};

/* How one message of an append sent as single APPENDs ended. */
struct mf_store_msg_done {
    struct mf_error error;
    uint32_t retry_after_ms;
    uint32_t uidvalidity, uid; /* its APPENDUID, or 0 */
};

/* How a queued append or flag change ended.
 * One command (a MULTIAPPEND, one message, a flag change): error is its
 * answer, all or nothing; uids, with UIDPLUS, the target UIDs given to the
 * messages in order (n of them), else NULL; msgs NULL.
 * Several messages to a target without MULTIAPPEND: they went out as n
 * single APPENDs, each answered on its own, and msgs[i] (n of them) is
 * message i's outcome, whatever the others'; error is the first failure's
 * (MF_E_OK when none failed), uids NULL. */
struct mf_store_done {
    struct mf_error error;
    uint32_t retry_after_ms;
    uint32_t uidvalidity; /* APPENDUID's, or 0 */
    const uint32_t *uids;
    size_t n;
    const struct mf_store_msg_done *msgs;
};
typedef void (*mf_store_done_cb)(void *ud, const struct mf_store_done *d);

struct mf_store;

struct mf_store_ops {
    /* Every folder (LIST "" "*" with special-use and subscription
     * attributes where offered, or LIST plus LSUB). */
    mf_err (*list)(struct mf_store *st, mf_store_folder_cb cb, void *ud);
    /* CREATE; a folder that already exists is success. */
    mf_err (*create)(struct mf_store *st, const char *name);
    mf_err (*subscribe)(struct mf_store *st, const char *name);
    /* Optional (mf_store_folders() falls back to create or subscribe one
     * by one): CREATE, or SUBSCRIBE when subscribe, of the n folders
     * names, pipelined, waiting for every answer. errs[i] is names[i]'s
     * (code MF_E_OK: done; for CREATE an existing folder is done), and
     * st->retry_after_ms the largest backoff any answer suggested.
     * Returns MF_E_OK once every answer came, whatever it said, else the
     * error that broke the store. */
    mf_err (*folders)(struct mf_store *st, bool subscribe,
                      const char *const *names, size_t n,
                      struct mf_error *errs);
    /* STATUS name (MESSAGES UIDNEXT UIDVALIDITY, and HIGHESTMODSEQ when
     * caps.condstore), without selecting it. A value the server did not
     * send is 0. Optional: NULL when the store cannot. */
    mf_err (*status)(struct mf_store *st, const char *name,
                     struct mf_store_status *status_r);
    /* Optional: STATUS of the n folders names at once, pipelined (one
     * round trip for a mailbox's folders): ok_r[i] true with status_r[i]
     * as status() would give it, or false when the server refused that
     * one (status() then tells why). Returns MF_E_OK once every answer
     * came, else the error that broke the store. */
    mf_err (*statuses)(struct mf_store *st, const char *const *names, size_t n,
                       struct mf_store_status *status_r, bool *ok_r);
    /* Whether a message with a UID in [first, last] of the selected
     * folder changed (its flags, RFC 7162 section 3.1.4) after modseq:
     * UID FETCH first:last (UID) (CHANGEDSINCE modseq). Only with
     * caps.condstore; optional (NULL when the store cannot). */
    mf_err (*changed_since)(struct mf_store *st, uint32_t first, uint32_t last,
                            uint64_t modseq, bool *changed_r);
    /* SELECT, or EXAMINE when readonly. */
    mf_err (*select)(struct mf_store *st, const char *name, bool readonly,
                     struct mf_store_select *sel_r);
    /* Optional: sends SELECT name (read-write) without waiting, so that
     * its round trip overlaps the caller's work on another store; the
     * next select() takes its answer (when it is for another name, it is
     * waited out first). Nothing is reported here: select() meets any
     * failure. */
    void (*select_ahead)(struct mf_store *st, const char *name);
    /* Metadata of the messages with UIDs in [first, last] (last 0: to the
     * end) of the selected folder, in UID order. */
    mf_err (*fetch_meta)(struct mf_store *st, uint32_t first, uint32_t last,
                         unsigned what, mf_store_meta_cb cb, void *ud);
    /* How many messages of the selected folder have UIDs in [first,
     * last] (last 0: from first up), as the server counts them apart from
     * fetch_meta() (the check that a listing did not come back short). */
    mf_err (*count)(struct mf_store *st, uint32_t first, uint32_t last,
                    uint32_t *n_r);
    /* Bodies of the n given UIDs (ascending) of the selected folder, never
     * marking anything \Seen. */
    mf_err (*fetch_bodies)(struct mf_store *st, const uint32_t *uids, size_t n,
                           const struct mf_store_body_cb *cb, void *ud);
    /* Queues an APPEND of n messages into folder: one MULTIAPPEND when the
     * server has it, else n single APPENDs in flight together, each with
     * its own outcome in the done callback's msgs (which runs once, when
     * the last is answered). */
    mf_err (*append)(struct mf_store *st, const char *folder,
                     const struct mf_store_append_msg *msgs, size_t n,
                     mf_store_done_cb cb, void *ud);
    /* Removes the n given UIDs (ascending) from the selected folder, and
     * nothing else: UID STORE +FLAGS.SILENT (\Deleted), then UID EXPUNGE
     * of the same set (UIDPLUS, RFC 4315 section 2.1). Never a plain
     * EXPUNGE, which would also remove messages others marked \Deleted:
     * without UIDPLUS it fails with MF_E_DELETE_NEEDS_UIDPLUS and sends
     * nothing. */
    mf_err (*expunge_uids)(struct mf_store *st, const uint32_t *uids, size_t n);
    /* Optional, with caps.move: moves the n given UIDs (ascending) of the
     * selected folder into folder dest (raw name): UID MOVE (RFC 6851
     * section 3). new_r[i] gets the UID message uids[i] has in dest, as
     * COPYUID (RFC 4315 section 3) named it, 0 when no COPYUID named it;
     * *uidvalidity_r dest's UIDVALIDITY from COPYUID, 0 when none came.
     * A NO is returned as the store's error: after it each message is
     * either moved or still where it was (RFC 6851 section 3.1, "each
     * individual message SHOULD either be moved or unaffected"), and the
     * caller cannot tell which. */
    mf_err (*move_uids)(struct mf_store *st, const uint32_t *uids, size_t n,
                        const char *dest, uint32_t *uidvalidity_r,
                        uint32_t *new_r);
    /* Optional, with caps.qresync: the UIDs up to last expunged from the
     * selected folder since modseq (UID FETCH 1:last (UID) (CHANGEDSINCE
     * modseq VANISHED), RFC 7162 section 3.2.6), as ranges [lo, hi]
     * through cb. The server may name more expunged UIDs than asked:
     * every one it names is gone. */
    mf_err (*vanished)(struct mf_store *st, uint32_t last, uint64_t modseq,
                       void (*cb)(void *ud, uint32_t lo, uint32_t hi),
                       void *ud);
    /* Queues one UID STORE uid-set FLAGS (flags) of the n (>= 1) UIDs,
     * ascending, in the selected folder; cb runs once, with the answer
     * of the whole command. */
    mf_err (*set_flags)(struct mf_store *st, const uint32_t *uids, size_t n,
                        const char *flags, mf_store_done_cb cb, void *ud);
    /* Drives queued commands until at most max_pending are unfinished. */
    mf_err (*flush)(struct mf_store *st, size_t max_pending);
    /* Cancels every queued append and flag change now: their callbacks
     * run at once with MF_E_CANCELLED and their body sources are never
     * read again (a half-sent literal breaks the store). For a caller
     * about to free what they use; optional (mf_store_cancel()). */
    void (*cancel)(struct mf_store *st);
    /* Logs out (politely when still healthy) and frees st. Commands
     * still queued are cancelled first, as by cancel. */
    void (*close)(struct mf_store *st);
    /* Optional, callable from another thread while st is in use: makes
     * the connection fail at once (its lease was lost), so that the
     * owner's current call returns a RECONNECT-class error. */
    void (*abort)(struct mf_store *st);
};

/* What a store can do, known after open. */
struct mf_store_caps {
    bool uidplus;         /* APPENDUID comes back */
    bool multiappend;     /* append() of n > 1 is one command */
    bool condstore;       /* status() gives HIGHESTMODSEQ (RFC 7162) */
    bool qresync;         /* QRESYNC enabled: vanished() works */
    bool gmail_ext;       /* X-GM-EXT-1: fetch_meta() gives X-GM-MSGID */
    bool move;            /* MOVE (RFC 6851): move_uids() works */
    uint64_t appendlimit; /* 0: none announced */
    char delim;           /* hierarchy delimiter ('\0': NIL or unknown) */
    char prefix[128];     /* personal namespace prefix ("INBOX." or "") */
};

/* The part every implementation shares; implementations embed it first. */
struct mf_store {
    const struct mf_store_ops *ops;
    struct mf_store_caps caps;
    struct mf_error error;
    uint32_t retry_after_ms;
    /* Borrowed, NULL: none. Set by mf_fence_attach(): once the fence no
     * longer holds, the store sends nothing more (mailferry/fence.h). */
    struct mf_fence *fence;
};

/* st->ops->cancel(st), when the store has it. */
void mf_store_cancel(struct mf_store *st);
/* st->ops->folders(), or create()/subscribe() one by one for a store
 * without it (stopping at an error of class RECONNECT, which it returns);
 * errs[i] has names[i]'s answer. */
MF_WARN_UNUSED mf_err mf_store_folders(struct mf_store *st, bool subscribe,
                                       const char *const *names, size_t n,
                                       struct mf_error *errs);
/* Closes *st if not NULL and sets it to NULL. */
void mf_store_close(struct mf_store **st);

/* A server's folders as the folder plan takes them (folderplan.h): the
 * source's with delimiters and subscriptions, the target's with their
 * special-use attributes. Names are owned copies. */
struct mf_store_lists {
    struct mf_folder_src *src;
    size_t nsrc;
    struct mf_folder_tgt *tgt;
    size_t ntgt;
    /* The target folders LIST said are subscribed (NUL-terminated raw
     * names, owned): those need no SUBSCRIBE again. */
    char **tgt_subscribed;
    size_t ntgt_subscribed;
};
/* LIST into l->src (or l->tgt); on failure st->error says why. */
MF_WARN_UNUSED mf_err mf_store_list_source(struct mf_store *st,
                                           struct mf_store_lists *l);
MF_WARN_UNUSED mf_err mf_store_list_target(struct mf_store *st,
                                           struct mf_store_lists *l);
void mf_store_lists_free(struct mf_store_lists *l);

/* Sets st->error (and retry_after_ms 0) and returns code. */
mf_err mf_store_fail(struct mf_store *st, mf_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* The IMAP store                                                      */
/* ------------------------------------------------------------------ */

struct mf_store_imap_options {
    const struct mf_imap_conn_options *conn;
    const struct mf_imap_login *login;
    unsigned window; /* commands in flight (0: 32) */
    long timeout_ms; /* no progress this long breaks it (0: 120 s) */
    /* A command's deadline (mailferry/imap_session.h "Deadlines"; 0: 300 s). */
    long command_timeout_ms;
    /* Literals above this stream through the body callbacks instead of
     * being buffered whole (0: 256 KiB). */
    uint64_t stream_threshold;
    uint64_t max_literal; /* largest message accepted (0: 64 MiB) */
    /* Source only: the user's folders are those below this folder (the
     * CSV's UserRoot); NULL or "": the login's own personal namespace. */
    const char *user_root;
    /* ENABLE QRESYNC (RFC 7162 section 3.2.3) when the server has it, so
     * that vanished() can ask what was expunged (--sync-deletes). */
    bool enable_qresync;
};

/* How one side is reached: *co from srv (endpoint, TLS, bind address,
 * timeouts) and *il from login (user, password, authzid, OAuth2), both
 * zeroed first and borrowing from srv and login. The one translation the
 * engine (migrate/mailbox.c) and the plan (plan/mailbox.c) make, so both
 * log in alike: profile (NULL: generic) says whether to insist on SASL
 * PLAIN (Exchange Server lists NTLM first). */
struct mf_migrate_server;
struct mf_migrate_login;
struct mf_profile;
void mf_store_imap_side(const struct mf_migrate_server *srv,
                        const struct mf_migrate_login *login,
                        const struct mf_profile *profile,
                        struct mf_imap_conn_options *co,
                        struct mf_imap_login *il);

/* Connects, logs in, learns capabilities and the namespace. On failure
 * err has the code and detail, *retry_after_ms_r (may be NULL) the
 * server's suggested backoff. */
MF_WARN_UNUSED mf_err mf_store_imap_open(const struct mf_store_imap_options *o,
                                         struct mf_store **st_r,
                                         struct mf_error *err,
                                         uint32_t *retry_after_ms_r);
/* Wraps an open session instead (tests with the fake server). Takes the
 * session over. */
MF_WARN_UNUSED mf_err mf_store_imap_wrap(struct mf_imap_session *s,
                                         const struct mf_store_imap_options *o,
                                         struct mf_store **st_r,
                                         struct mf_error *err);

#endif
