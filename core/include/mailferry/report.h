/*
 * The consolidated batch report (docs/design.md §11): one data model, three
 * writers (CSV, JSON, a self-contained HTML page).
 *
 * The model is plain C: a struct mf_report_batch owns an array of
 * struct mf_report_mailbox, and each mailbox owns its lists of skipped and
 * failed items; the batch also owns the throughput samples behind the
 * chart. Everything is built with the mf_report_add_*() functions, which
 * COPY what they are given (strings, items), so the caller may pass
 * borrowed, stack or arena memory and free it right after. The report is
 * freed whole with mf_report_free().
 *
 * Bounds: every text is cut at MF_REPORT_TEXT_MAX bytes (on a UTF-8
 * character boundary), each mailbox keeps at most MF_REPORT_ITEMS_MAX
 * skipped and failed items (the rest are only counted, in *_unlisted), and
 * the samples are thinned to half resolution whenever MF_REPORT_SAMPLES_MAX
 * is reached. So no mailbox or server can make a report grow without
 * bound, and the writers are linear in the size of the model.
 *
 * There is no field for a password or token anywhere in the model, and the
 * endpoint URLs lose any user:password@ part when they are copied in.
 *
 * Times are seconds since the Unix epoch (UTC); 0 means "not yet" and is
 * written as an empty CSV field, JSON null or a dash. The batch's start
 * and end, and the throughput samples, are also kept in milliseconds
 * (*_ms), so that a batch of a second has an elapsed time and a chart.
 */
#ifndef MAILFERRY_REPORT_H
#define MAILFERRY_REPORT_H

#include "mailferry/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MF_REPORT_TEXT_MAX 1024    /* bytes kept of any one string */
#define MF_REPORT_ITEMS_MAX 10000  /* skipped (and failed) items per mailbox */
#define MF_REPORT_SAMPLES_MAX 4096 /* throughput samples kept */
#define MF_REPORT_HTML_ITEMS_MAX 500 /* item rows listed in the HTML page */

/* Mailbox states (docs/design.md §4), in the order the HTML table sorts them
 * when it puts trouble first (mf__report_state_rank() in report.c). */
enum mf_report_state {
    MF_REPORT_QUEUED,
    MF_REPORT_SYNCING,
    MF_REPORT_SYNCED,
    MF_REPORT_INCREMENTAL_SYNCING,
    MF_REPORT_STOPPED,
    MF_REPORT_FAILED,
    MF_REPORT_COMPLETED,
    MF_REPORT_STATE_COUNT
};
/* "Queued", "Syncing", "Synced", "IncrementalSyncing", "Stopped",
 * "Failed", "Completed"; "Unknown" for an out-of-range value. */
const char *mf_report_state_name(enum mf_report_state s);
/* The reverse, case-insensitive. MF_E_NOT_FOUND for an unknown name. */
MF_WARN_UNUSED mf_err mf_report_state_parse(const char *s,
                                            enum mf_report_state *s_r);

/* Why a message was skipped. */
enum mf_report_skip_reason {
    MF_REPORT_SKIP_TOO_LARGE, /* over the batch's maximum message size */
    MF_REPORT_SKIP_EXCLUDED,  /* in an excluded folder */
    MF_REPORT_SKIP_FAILED,    /* the copy failed (see the failed items) */
    MF_REPORT_SKIP_VANISHED,  /* expunged on the source during the copy */
    /* Left on the source by the date window (--since/--before): not
     * copied on purpose, not missing; counted, never listed. */
    MF_REPORT_SKIP_OUTSIDE_WINDOW,
    /* Removed from the target by --sync-deletes (expunged on the source
     * after mailferry copied it): listed with its subject. */
    MF_REPORT_SKIP_DELETED,
    /* Moved on the target by --sync-deletes (UID MOVE) because the source
     * moved it between folders: listed in its new folder, not copied
     * again, not missing. */
    MF_REPORT_SKIP_MOVED,
    MF_REPORT_SKIP_REASON_COUNT
};
/* "too_large", "excluded", "failed", "vanished", "outside_window",
 * "deleted_on_target", "moved_on_target". */
const char *mf_report_skip_reason_name(enum mf_report_skip_reason r);

/* What `mailferry verify` (verify.h) said about a mailbox. */
enum mf_report_verify {
    MF_REPORT_NOT_VERIFIED = 0,
    MF_REPORT_VERIFIED_EQUAL,
    MF_REPORT_VERIFY_DIFFERENCES,
    MF_REPORT_VERIFY_FAILED, /* verify ran but could not compare */
    MF_REPORT_VERIFY_COUNT
};
/* "not verified", "verified equal", "differences", "verify failed". */
const char *mf_report_verify_name(enum mf_report_verify v);

/* Bytes of a Subject the report keeps (mf_report_subject_dup()). */
#define MF_REPORT_SUBJECT_MAX 160

/* A Subject as every report shows it, in a new string (NULL when s is
 * NULL or holds nothing to show): s is the decoded Subject
 * (mf_header_decode_2047()); each control character (C0, DEL, C1: tabs
 * and the line ends of a folded header too) becomes a space, runs of
 * spaces become one, leading and trailing ones go, invalid UTF-8 becomes
 * U+FFFD, and a text longer than MF_REPORT_SUBJECT_MAX bytes is cut on a
 * character boundary and ends in U+2026. The report model passes every
 * subject it is given through this. */
char *mf_report_subject_dup(const char *s);
/* The same for a Message-ID: controls and blanks dropped, at most
 * MF_REPORT_SUBJECT_MAX bytes (a longer one is not a real one: cut with
 * U+2026). NULL when s is NULL or empty. */
char *mf_report_message_id_dup(const char *s);

/* The model's strings are const char * so that callers can fill the
 * structs below with borrowed strings (literals, a Redis reply) and add
 * them; inside the report every one of them is an owned copy. */

/* One skipped message. */
struct mf_report_skipped {
    const char *folder; /* source folder, UTF-8 (decoded modified UTF-7) */
    uint32_t uid;
    uint64_t size;         /* RFC822.SIZE */
    int64_t internal_date; /* INTERNALDATE, Unix time; 0 unknown */
    const char *subject;   /* decoded Subject, may be NULL */
    enum mf_report_skip_reason reason;
    /* The code it was listed with (an mf_err number: MESSAGE_TOO_LARGE,
     * MESSAGE_DELETED, MESSAGE_MOVED...), 0 unknown, and its detail, may
     * be NULL ("moved from FOLDER" for MESSAGE_MOVED). */
    int error_code;
    const char *error_text;
};

/* One message whose copy failed (or that --repair changed, or a folder
 * renamed: uid 0, and no size, date, subject or Message-ID). What an
 * admin needs to find the message in the source mailbox comes with it:
 * its size, INTERNALDATE, Subject and Message-ID, when known. */
struct mf_report_failed {
    const char *folder;
    uint32_t uid;
    uint64_t size;          /* RFC822.SIZE; 0 unknown */
    int64_t internal_date;  /* INTERNALDATE, Unix time; 0 unknown */
    const char *subject;    /* decoded Subject, may be NULL */
    const char *message_id; /* Message-ID as in the header, may be NULL */
    int error_code;         /* an mf_err number */
    const char *error_text; /* the upstream's words, may be NULL */
};

/* One difference `mailferry verify` found (never any of a body). */
struct mf_report_difference {
    const char *kind;   /* mf_verify_kind_name(): "missing", "flags", ... */
    const char *folder; /* source folder */
    uint32_t source_uid, target_uid; /* 0: none */
    int64_t internal_date;           /* Unix time; 0 unknown */
    const char *subject;             /* may be NULL */
    const char *detail;              /* what differs, may be NULL */
};

/* One of a mailbox's lists of items added with mf_report_add_failed():
 * at most MF_REPORT_ITEMS_MAX listed, the rest counted. */
struct mf_report_item_list {
    struct mf_report_failed *items; /* owned */
    size_t n;
    uint64_t unlisted; /* added beyond MF_REPORT_ITEMS_MAX */
    size_t cap_;       /* internal */
};

/* One mailbox's row. The caller fills one (strings borrowed) and adds it
 * with mf_report_add_mailbox(). */
struct mf_report_mailbox {
    const char *email;
    enum mf_report_state state;
    uint32_t folders_copied;
    uint32_t folders_excluded;
    uint64_t source_messages, source_bytes;
    uint64_t copied_messages, copied_bytes;
    /* Recognised on the target as copied before (a re-run, a resume). */
    uint64_t present_messages;
    uint64_t skipped[MF_REPORT_SKIP_REASON_COUNT]; /* counts by reason */
    /* The last error; error_code 0 (MF_E_OK) means none, and then name
     * and text are not kept. error_name NULL on input: filled from
     * mf_err_name(error_code). */
    int error_code;
    const char *error_name;
    const char *error_text;
    int64_t first_sync, last_sync; /* when the first / last pass ran */
    double duration_seconds;       /* time spent copying, all passes */
    /* Throughput; 0 on input with a duration: copied / duration. */
    double messages_per_second, bytes_per_second;
    uint32_t attempts;
    const char *worker; /* the worker that ran it last, may be NULL */

    /* Per-item lists: add with mf_report_add_skipped/_failed (entries in a
     * mailbox passed to mf_report_add_mailbox are ignored). */
    struct mf_report_skipped *skipped_items; /* owned */
    size_t n_skipped_items;
    uint64_t skipped_unlisted; /* added beyond MF_REPORT_ITEMS_MAX */
    struct mf_report_item_list failed;
    /* Messages copied after --repair changed them (issue 13): added with
     * mf_report_add_failed() and error_code MF_E_MESSAGE_REPAIRED, which
     * lands them here; error_text says what was changed. */
    struct mf_report_item_list repaired;
    /* Folders the target got under another name (issue 13 section 2):
     * error_code MF_E_FOLDER_RENAMED lands them here; error_text holds
     * both names and why. */
    struct mf_report_item_list renamed;
    /* The --rename rules that matched no folder of this mailbox (issue 13
     * section 2): error_code MF_E_RENAME_UNMATCHED lands them here;
     * folder is the rule's source path, error_text the warning about the
     * rule (mf_folder_rename_unmatched_why()). Not written per mailbox:
     * mf_report_rename_warnings() makes the batch's warnings of them. */
    struct mf_report_item_list unmatched_renames;
    size_t skipped_cap_; /* internal */

    /* The last `mailferry verify` of the mailbox: its verdict, when, and
     * how many differences (verify_error_text: why it failed). The
     * differences themselves: add with mf_report_add_difference(). */
    enum mf_report_verify verification;
    int64_t verified_at;
    uint64_t verify_differences;
    const char *verify_error_text;
    struct mf_report_difference *diff_items; /* owned */
    size_t n_diff_items;
    uint64_t diff_unlisted;
    size_t diff_cap_;
};

/* Cumulative totals at a point in time: what the whole batch had copied
 * so far. The chart plots the rate between consecutive samples, so a
 * missed sample costs resolution, not data. */
struct mf_report_sample {
    int64_t time_ms; /* Unix ms */
    uint64_t messages;
    uint64_t bytes;
};

/* Sums over the mailboxes, computed by mf_report_totals(). */
struct mf_report_totals {
    uint64_t mailboxes;
    uint64_t by_state[MF_REPORT_STATE_COUNT];
    uint64_t folders_copied, folders_excluded;
    uint64_t source_messages, source_bytes;
    uint64_t copied_messages, copied_bytes;
    uint64_t skipped[MF_REPORT_SKIP_REASON_COUNT];
    uint64_t mailboxes_with_errors; /* error_code != 0 */
    uint64_t failed_items;          /* listed + unlisted */
    uint64_t attempts;
    /* Wall-clock time of the batch: finished_ms (or generated_ms) -
     * started_ms; 0 when not started. */
    int64_t elapsed_ms;
    double elapsed_seconds;                       /* elapsed_ms / 1000 */
    double messages_per_second, bytes_per_second; /* over elapsed */
};

/* What mf_report_new() copies; every string is borrowed. */
struct mf_report_batch_info {
    const char *name;
    const char *state; /* the batch state's name (docs/design.md §4) */
    int64_t created, started, finished;
    /* The same two in ms; 0: started (finished) * 1000. */
    int64_t started_ms, finished_ms;
    int64_t generated;           /* when the report was made; 0: now */
    const char *source, *target; /* endpoint URLs */
};

struct mf_report_batch {
    char *name;  /* owned */
    char *state; /* owned */
    int64_t created, started, finished, generated;
    int64_t started_ms, finished_ms, generated_ms; /* 0 when the seconds are */
    char *source, *target;               /* owned, without any user:password@ */
    struct mf_report_mailbox *mailboxes; /* owned, n_mailboxes long */
    size_t n_mailboxes;
    struct mf_report_sample *samples; /* owned, in the order added */
    size_t n_samples;
    size_t mailboxes_cap_, samples_cap_; /* internal */
};

/* A new, empty report with a copy of info. Never NULL. */
struct mf_report_batch *mf_report_new(const struct mf_report_batch_info *info);
/* Frees the report and everything in it; *b becomes NULL. NULL is fine. */
void mf_report_free(struct mf_report_batch **b);

/* Appends a deep copy of m (its item lists are not copied) and returns
 * its index, for mf_report_add_skipped/_failed. */
size_t mf_report_add_mailbox(struct mf_report_batch *b,
                             const struct mf_report_mailbox *m);
/* Appends a copy of an item to mailbox i. Past MF_REPORT_ITEMS_MAX the
 * item is only counted. These lists do not change the mailbox's counts
 * (skipped[], copied_...): those come from the worker's totals. */
void mf_report_add_skipped(struct mf_report_batch *b, size_t i,
                           const struct mf_report_skipped *item);
void mf_report_add_failed(struct mf_report_batch *b, size_t i,
                          const struct mf_report_failed *item);
/* Appends a copy of a verify difference to mailbox i (past
 * MF_REPORT_ITEMS_MAX only counted in diff_unlisted). */
void mf_report_add_difference(struct mf_report_batch *b, size_t i,
                              const struct mf_report_difference *item);
/* Appends a throughput sample; samples should come in time order. */
void mf_report_add_sample(struct mf_report_batch *b,
                          const struct mf_report_sample *s);

/* ---- From the engine's statistics (stats.c) ------------------------- */

/* The one mapping from a mailbox's migration statistics to what the
 * report, `migrate`'s lines and `batch status` say about it, used by
 * every path (the batch report, `migrate`'s report and lines). */
struct mf_migrate_stats;
/* Fills m's folder, message and byte counts, skipped[] by reason (all
 * but MF_REPORT_SKIP_EXCLUDED, which the batch counts itself) and
 * duration from s. Leaves every other field alone. */
void mf_report_mailbox_stats(struct mf_report_mailbox *m,
                             const struct mf_migrate_stats *s);
/* The reason a skipped item with error code counts under. */
enum mf_report_skip_reason mf_report_skip_reason_of(int code);
/* Which list an item of a job's failed items belongs to: a repaired
 * message and a renamed folder travel in that list (results, Redis) but
 * were copied. */
enum mf_report_failed_list {
    MF_REPORT_LIST_FAILED,
    MF_REPORT_LIST_RENAMED,          /* FOLDER_RENAMED */
    MF_REPORT_LIST_REPAIRED,         /* MESSAGE_REPAIRED */
    MF_REPORT_LIST_UNMATCHED_RENAME, /* RENAME_UNMATCHED */
    MF_REPORT_LIST_COUNT
};
enum mf_report_failed_list mf_report_failed_list_of(int code);
/* The messages s skipped, whatever the reason: the "skipped" of a line. */
uint64_t mf_report_stats_skipped(const struct mf_migrate_stats *s);
/* The end of a mailbox's line for what only some passes have, each only
 * when not 0: ", outside the date window N (X MB), removed from the
 * target N, moved on the target N"; "" when none. Cut to fit n (> 0). */
void mf_report_stats_extras(const struct mf_migrate_stats *s, char *out,
                            size_t n);

/* The batch's warnings about --rename rules that matched no folder of
 * any mailbox (issue 13 section 2), as `plan` gives them before a run:
 * a rule listed in the unmatched_renames of every mailbox whose
 * folders were planned (one that lists any such rule, copied or
 * excluded a folder, or synced) and of at least one. Mailboxes not run
 * yet, or failed before their folders were planned, do not count. Sets
 * *v_r to a new array of the rules' words (borrowed from b, valid until
 * it is freed; free the array only), in the order first met; returns
 * their number (0: *v_r NULL). Linear in the mailboxes (times the
 * square of the rules, which are few). */
size_t mf_report_rename_warnings(const struct mf_report_batch *b,
                                 const char ***v_r);

/* Prints each of mf_report_rename_warnings() to out as a line
 * "WARNING: <words>", as `plan` does; nothing when there are none. */
void mf_report_print_warnings(const struct mf_report_batch *b, FILE *out);

/* Computes the batch totals (linear in the number of mailboxes). */
void mf_report_totals(const struct mf_report_batch *b,
                      struct mf_report_totals *t_r);

/* The writers. Each writes one whole document to f (which stays open;
 * the caller closes it) and returns MF_E_OK, or MF_E_IO when writing or
 * the final fflush() fails. All are linear in the size of the report.
 *
 * CSV: RFC 4180, CRLF line ends, a header row, one row per mailbox with
 * the columns of docs/design.md §11. A text field that starts with = + - @,
 * a tab or a CR gets a leading ' so spreadsheets do not run it as a
 * formula (OWASP "CSV injection").
 *
 * JSON: one object with the batch, its totals, the throughput samples
 * and the mailboxes, each with its skipped and failed item lists.
 *
 * HTML: one self-contained page (inline CSS and SVG; no scripts, no
 * external assets): totals, a status chart, throughput over time, the
 * mailbox table with failed mailboxes first, and the failed and skipped
 * items (the first MF_REPORT_HTML_ITEMS_MAX of each). Every string is
 * HTML-escaped. */
MF_WARN_UNUSED mf_err mf_report_write_csv(const struct mf_report_batch *b,
                                          FILE *f);
MF_WARN_UNUSED mf_err mf_report_write_json(const struct mf_report_batch *b,
                                           FILE *f);
MF_WARN_UNUSED mf_err mf_report_write_html(const struct mf_report_batch *b,
                                           FILE *f);

enum mf_report_format {
    MF_REPORT_CSV,
    MF_REPORT_JSON,
    MF_REPORT_HTML,
    MF_REPORT_FORMAT_COUNT
};
/* "csv", "json", "html" (case-insensitive). MF_E_USAGE otherwise. */
MF_WARN_UNUSED mf_err mf_report_format_parse(const char *s,
                                             enum mf_report_format *fmt_r);
/* "csv", "json", "html": the name, also the file extension. */
const char *mf_report_format_name(enum mf_report_format fmt);
/* Writes b in format fmt (one of the writers above). */
MF_WARN_UNUSED mf_err mf_report_write(const struct mf_report_batch *b,
                                      enum mf_report_format fmt, FILE *f);
/* Writes b in format fmt to the file at path (report/file.c): a regular
 * file is written beside it and renamed onto it, so it is never seen half
 * written; a pipe or device is written in place. MF_E_IO with err saying
 * which file and why. Borrows everything. */
MF_WARN_UNUSED mf_err mf_report_write_path(const struct mf_report_batch *b,
                                           enum mf_report_format fmt,
                                           const char *path,
                                           struct mf_error *err);
/* Writes b as dir/report.csv, dir/report.json and dir/report.html,
 * creating dir when it does not exist. MF_E_IO with err as above. */
MF_WARN_UNUSED mf_err mf_report_write_dir(const struct mf_report_batch *b,
                                          const char *dir,
                                          struct mf_error *err);

#endif
