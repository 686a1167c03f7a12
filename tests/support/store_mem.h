/*
 * An in-memory mail server and a store over it (mailferry/store.h), for unit
 * tests of the migration engine (STYLE.md "The IMAP engine, in layers", 5).
 *
 * A struct mf_mem_server holds folders (raw name, attributes,
 * subscription, UIDVALIDITY, UIDNEXT) and their messages (UID, flags,
 * INTERNALDATE text, body bytes). Stores opened over it with
 * mf_store_mem_open() read and change it; the server outlives them, so a
 * test can let the engine reopen (attempts) and inspect the result
 * afterwards. The capabilities a store announces are the server's caps
 * field, which tests set directly.
 *
 * Behaviour modelled on a real server: fetch_meta() leaves out \Recent;
 * fetch_bodies() delivers bodies in pieces of `chunk` bytes and reports
 * UIDs that are not there as vanished; append() is all or nothing (RFC
 * 3502), or, without MULTIAPPEND, n single appends each answered on its
 * own (as store_imap_append.c sends them); it refuses a flag list with \Recent
 * (BAD), a message over the APPENDLIMIT (MF_E_MESSAGE_TOO_LARGE) and a folder
 * that does not exist (MF_E_MAILBOX_MISSING). Appends and flag changes are
 * queued and carried out, oldest first, by flush(), which also runs their
 * callbacks; close() runs the callbacks of what is still queued with
 * MF_E_CANCELLED, as the IMAP store does.
 *
 * Fault injection (struct mf_mem_faults; each fault fires once, then
 * clears itself): opens refused N times with a code and a suggested
 * backoff; the append command that would store the server's Nth message
 * fails with a code (the store breaks when the code is of class
 * RECONNECT; with append_fail_commit the messages are stored before the
 * answer is "lost", as when a connection drops after the server committed);
 * every append of a message containing a marker string is refused (NO),
 * and so is every flag change with a marker in its flags (Cyrus's "NO Too
 * many user flags in mailbox");
 * the store breaks with BYE after the server delivered K body bytes; a
 * message is expunged between fetch_meta() and fetch_bodies(); a listing
 * leaves a message out or lists it without its size; a body comes short.
 *
 * Threads: a store is used by one thread at a time (mailferry/store.h), and so
 * is a server: the engine reads the source on its reader thread and writes the
 * target on its own, so source and target must be different servers.
 *
 * Ownership: the server owns its folders and messages; stores borrow the
 * server and must be closed before it is freed.
 */
#ifndef MF_MIGRATE_STORE_MEM_H
#define MF_MIGRATE_STORE_MEM_H

#include "mailferry/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mf_mem_msg {
    uint32_t uid;
    char *flags;   /* owned: "\Seen $Work", may contain \Recent */
    char *date;    /* owned: INTERNALDATE text, or NULL */
    uint8_t *body; /* owned */
    size_t len;
    /* CONDSTORE (RFC 7162): the mod-sequence of the message's last change
     * (added, flags set), from one counter of the whole process. */
    uint64_t modseq;
};

struct mf_mem_folder {
    char *name; /* owned: raw name as LIST sends it */
    unsigned attrs;
    bool subscribed;
    uint32_t uidvalidity, uidnext;
    struct mf_mem_msg *msgs; /* owned: n of them, by UID */
    size_t n, cap;
    uint64_t expunged_modseq; /* the last expunge's mod-sequence */
};

struct mf_mem_faults {
    /* The next open_fail_count opens fail with open_fail_code (e.g.
     * MF_E_THROTTLED, MF_E_AUTH) and open_retry_after_ms. */
    unsigned open_fail_count;
    mf_err open_fail_code;
    uint32_t open_retry_after_ms;
    /* The append command that would store the server's message number
     * append_fail_at (1-based, counting every message stored by APPEND)
     * fails with append_fail_code; with append_fail_commit its messages
     * are stored all the same. */
    uint64_t append_fail_at;
    mf_err append_fail_code;
    bool append_fail_commit;
    /* The backoff that failure suggests (Exchange's "Suggested Backoff
     * Time"); 0: none, so a THROTTLED failure waits the profile's
     * default (30 s for generic). */
    uint32_t append_retry_after_ms;
    /* Appends of a message whose body contains this are refused (NO).
     * Borrowed; does not clear itself. */
    const char *reject_marker;
    /* A flag change (UID STORE) or an APPEND whose flags contain this is
     * refused: "NO Too many user flags in mailbox", as Cyrus answers when
     * a folder would pass its keyword limit. Borrowed; does not clear
     * itself. */
    const char *flags_refuse_marker;
    /* A folder takes at most this many keywords (0: no limit), counted
     * over the messages it holds: an APPEND whose messages would add more
     * is refused whole, "NO Too many user flags in mailbox", as Cyrus
     * 3.6 answers past 100. With keyword_limit_crash, as Cyrus 3.6.1's
     * imapd does (SIGABRT): when the refusal comes inside a MULTIAPPEND to
     * a folder that holds messages after two or more of the command's
     * messages fitted, the store breaks unanswered (MF_E_DISCONNECTED).
     * Neither clears itself. */
    unsigned keyword_limit;
    bool keyword_limit_crash;
    /* CREATE of a name containing this is refused (NO [CANNOT], as Cyrus
     * refuses names with '/'). Borrowed; does not clear itself. */
    const char *create_refuse_marker;
    /* An append that would make the server hold more than this many
     * appended messages is refused whole with NO [OVERQUOTA] (0: no
     * quota). Does not clear itself. */
    uint64_t quota_messages;
    /* The login has no mailbox: LIST shows nothing, CREATE and SELECT are
     * refused. Does not clear itself. */
    bool no_mailbox;
    /* The store breaks with MF_E_IMAP_BYE once the server has delivered
     * this many body bytes in total (0: never). */
    uint64_t fetch_break_after;
    /* The next fetch_bodies() in folder vanish_folder first expunges
     * vanish_uid. vanish_folder is borrowed. */
    const char *vanish_folder;
    uint32_t vanish_uid;
    /* Listings (fetch_meta) leave meta_drop_uid out, the next
     * meta_drop_times times they cover it, as a server whose FETCH answer
     * came back short; count() still counts it. */
    uint32_t meta_drop_uid;
    unsigned meta_drop_times;
    /* Listings give meta_missing_uid without RFC822.SIZE (missing set).
     * Does not clear itself. */
    uint32_t meta_missing_uid;
    /* fetch_bodies() delivers body_short_uid one byte short of its size,
     * the next body_short_times times. */
    uint32_t body_short_uid;
    unsigned body_short_times;
    /* Every appended message is stored re-encoded, as Exchange and Gmail
     * store their own rendering: a header field is added in front, so
     * its size and bytes differ from what was appended (Message-ID,
     * Subject, From and the date stay). Does not clear itself. */
    bool reencode;
    /* A UID STORE whose set names this target UID is refused whole (NO),
     * as a server refuses a set it cannot change all of (0: none). Does
     * not clear itself. */
    uint32_t flags_refuse_uid;
    /* Every append() batch takes this long, as a slow target (a maildir
     * rescanned at each command): the engine's reader gets ahead of it.
     * Does not clear itself. */
    unsigned command_delay_ms;
};

struct mf_mem_stats {
    unsigned opens, closes, open_failures;
    uint64_t appended; /* messages stored by APPEND */
    /* Of them, stored by later appends on the connection where the
     * append_fail_at fault fired (appends already in flight behind it). */
    uint64_t appended_after_fault;
    uint64_t append_cmds;   /* append commands carried out */
    uint64_t max_append;    /* most messages in one append() batch */
    uint64_t multi_cmds;    /* of them, with more than one message */
    uint64_t quota_refused; /* of them, refused as over quota */
    uint64_t body_bytes;    /* delivered by fetch_bodies() */
    uint64_t flag_changes;  /* messages set_flags() changed */
    uint64_t flag_cmds;     /* set_flags() commands carried out */
    uint64_t max_flag_uids; /* most UIDs in one of them */
    uint64_t meta_fetches;  /* fetch_meta() calls */
    unsigned creates, subscribes;
    unsigned creates_refused; /* CREATEs refused (create_refuse_marker) */
    uint64_t selects;         /* select() calls (SELECT and EXAMINE) */
    uint64_t statuses;        /* folders asked STATUS (status(), statuses()) */
    uint64_t status_rounds;   /* statuses() calls */
    uint64_t changed_since;   /* changed_since() calls */
    uint64_t max_queued;      /* most commands ever queued on one store */
    uint64_t expunged;        /* messages removed by expunge_uids() */
    uint64_t moved;           /* messages moved by move_uids() */
};

struct mf_mem_server {
    struct mf_store_caps caps; /* what stores announce; tests set it */
    size_t chunk;              /* bytes per body piece (default 1000) */
    struct mf_mem_faults faults;
    struct mf_mem_stats stats;
    struct mf_mem_folder **folders; /* owned: in LIST order */
    size_t nfolders;
    uint32_t next_uidvalidity; /* for CREATE */
};

/* A new server with an empty INBOX (as every server has), delimiter delim,
 * UIDPLUS, MULTIAPPEND and CONDSTORE (every message added, flag change and
 * expunge made through the functions below takes the next mod-sequence:
 * status() gives the highest, changed_since() compares with them), no
 * MOVE (a test sets caps.move: move_uids() then moves, with COPYUID), no
 * APPENDLIMIT and an empty personal prefix. */
struct mf_mem_server *mf_mem_server_new(char delim);
/* Frees *srv and everything it holds; accepts NULL; sets *srv to NULL. */
void mf_mem_server_free(struct mf_mem_server **srv);

/* The folder named name (INBOX in any case), or NULL. */
struct mf_mem_folder *mf_mem_folder_find(struct mf_mem_server *srv,
                                         const char *name);
/* Adds a folder (or returns the existing one, unchanged). */
struct mf_mem_folder *mf_mem_folder_add(struct mf_mem_server *srv,
                                        const char *name, unsigned attrs,
                                        bool subscribed);
/* Adds a message with the next UID and returns that UID. flags may be
 * NULL (none), date NULL (no INTERNALDATE). */
uint32_t mf_mem_msg_add(struct mf_mem_folder *f, const char *flags,
                        const char *date, const void *body, size_t len);
/* The message with this UID, or NULL. */
struct mf_mem_msg *mf_mem_msg_find(struct mf_mem_folder *f, uint32_t uid);
/* Expunges the message with this UID; false when there is none. */
bool mf_mem_msg_remove(struct mf_mem_folder *f, uint32_t uid);
/* Replaces a message's flags. */
void mf_mem_msg_set_flags(struct mf_mem_msg *m, const char *flags);

/* Opens a store over srv (borrowed until the store is closed). Fails as
 * the faults say, with err and *retry_after_ms_r (may be NULL) filled. */
MF_WARN_UNUSED mf_err mf_store_mem_open(struct mf_mem_server *srv,
                                        struct mf_store **st_r,
                                        struct mf_error *err,
                                        uint32_t *retry_after_ms_r);

#endif
