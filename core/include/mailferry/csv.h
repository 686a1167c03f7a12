/*
 * Batch CSV files (docs/design.md §5): the same format Exchange Online's IMAP
 * migration takes.
 *
 *   EmailAddress,UserName,Password[,UserRoot][,TargetUserName,TargetPassword]
 *
 * The parser is a push parser: feed it bytes in any chunks (down to one
 * byte at a time, with identical results) and it calls back once per valid
 * mailbox row and once per problem found. It never holds more than one
 * record, plus one set of lower-cased addresses to find duplicates, so a
 * file of any size streams through. Every problem is reported, not just the
 * first, with its line (1-based, the physical line where the field starts)
 * and column (1-based field number).
 *
 * The parser does no I/O; mf_csv_parse_file() is a convenience that
 * streams a file through it.
 */
#ifndef MAILFERRY_CSV_H
#define MAILFERRY_CSV_H

#include "mailferry/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exchange Online's limits for a migration batch file. */
#define MF_CSV_DEFAULT_MAX_ROWS 50000
#define MF_CSV_DEFAULT_MAX_BYTES (10 * 1000 * 1000)
#define MF_CSV_DEFAULT_MAX_FIELD 4096

struct mf_csv_options {
    uint64_t max_rows;          /* data rows; 0: default */
    uint64_t max_bytes;         /* whole file; 0: default */
    size_t max_field;           /* bytes per field; 0: default */
    bool allow_unknown_columns; /* otherwise an unknown column is an error */
    bool password_optional;     /* admin credentials given: may be empty */
};

/* The known columns. */
enum mf_csv_column {
    MF_CSV_COL_EMAIL,
    MF_CSV_COL_USERNAME,
    MF_CSV_COL_PASSWORD,
    MF_CSV_COL_USERROOT,
    MF_CSV_COL_TARGET_USERNAME,
    MF_CSV_COL_TARGET_PASSWORD,
    MF_CSV_COL_COUNT
};

/* One valid mailbox row. All strings are borrowed: valid only during the
 * callback. Optional columns are NULL when absent or empty. */
struct mf_csv_row {
    uint64_t line;  /* where the record starts */
    uint64_t index; /* 0-based among valid rows */
    const char *email;
    const char *username;
    const char *password;
    const char *user_root;
    const char *target_username;
    const char *target_password;
};

/* One problem. column is 0 when the problem concerns the whole line. */
struct mf_csv_issue {
    uint64_t line;
    unsigned column;
    const char *column_name; /* borrowed; NULL when unknown */
    mf_err code;
    char detail[256]; /* never contains a password */
};

struct mf_csv_callbacks {
    void (*on_row)(void *ud, const struct mf_csv_row *row);
    void (*on_issue)(void *ud, const struct mf_csv_issue *issue);
};

struct mf_csv_stats {
    uint64_t rows;      /* data rows seen (not the header, not blank lines) */
    uint64_t mailboxes; /* valid rows delivered to on_row */
    uint64_t issues;
    uint64_t bytes;
};

struct mf_csv_parser;

/* options may be NULL (defaults). cb and ud are borrowed. */
struct mf_csv_parser *mf_csv_parser_new(const struct mf_csv_options *options,
                                        const struct mf_csv_callbacks *cb,
                                        void *ud);
void mf_csv_parser_free(struct mf_csv_parser **p);

/* Feeds bytes. Returns MF_E_OK, or the code of a problem that stops
 * parsing (size or row limit); such a problem is also reported through
 * on_issue, and later calls return it again. */
MF_WARN_UNUSED mf_err mf_csv_parser_feed(struct mf_csv_parser *p,
                                         const uint8_t *data, size_t len);
/* Ends the input: flushes the last record and reports what only the end
 * can show (unterminated quote, no header, no rows). Returns MF_E_OK when
 * the file had no problem at all, else the code of the first problem. */
MF_WARN_UNUSED mf_err mf_csv_parser_finish(struct mf_csv_parser *p);
void mf_csv_parser_stats(const struct mf_csv_parser *p,
                         struct mf_csv_stats *stats_r);

/* Streams the file at path through a parser. Returns as finish() does; an
 * unreadable file gives MF_E_IO with err set and no callbacks. */
MF_WARN_UNUSED mf_err mf_csv_parse_file(const char *path,
                                        const struct mf_csv_options *options,
                                        const struct mf_csv_callbacks *cb,
                                        void *ud, struct mf_csv_stats *stats_r,
                                        struct mf_error *err);

/* ---- Loading and reporting (load.c) ------------------------------------ */

/* One valid row kept after parsing. Every string is owned; the optional
 * ones are NULL when absent or empty; the passwords are secrets, wiped by
 * mf_csv_mailboxes_free(). */
struct mf_csv_mailbox {
    uint64_t line; /* where the record starts */
    char *email, *username, *password;
    char *target_username, *target_password;
    char *user_root;
};

/* The one loader for commands that keep the rows (migrate --direct,
 * plan, verify): parses the file at path and copies every valid row into
 * a new array *rows_r of *n_r (set in every case but MF_E_IO; free with
 * mf_csv_mailboxes_free()). Each problem goes to on_issue (may be NULL)
 * as it is found. Returns as mf_csv_parse_file(). */
MF_WARN_UNUSED mf_err
mf_csv_load(const char *path, const struct mf_csv_options *options,
            void (*on_issue)(void *ud, const struct mf_csv_issue *issue),
            void *ud, struct mf_csv_mailbox **rows_r, size_t *n_r,
            struct mf_csv_stats *stats_r, struct mf_error *err);
/* Wipes the passwords, frees every row and the array; *rows becomes
 * NULL. */
void mf_csv_mailboxes_free(struct mf_csv_mailbox **rows, size_t n);

struct mf_json;
/* One problem as every command shows it: a JSON object (line, column,
 * column_name, code, number, message, detail) into j, where an array or
 * a key is open; */
void mf_csv_issue_json(struct mf_json *j, const struct mf_csv_issue *is);
/* or a line "PATH:LINE:COL: error: MESSAGE[ in COLUMN]: DETAIL [NAME]"
 * on f. */
void mf_csv_issue_print(FILE *f, const char *path,
                        const struct mf_csv_issue *is);

/* Where a command shows the problems of the CSV at path, as the loaders'
 * on_issue (mf_csv_issue_show() with this as ud): JSON objects into j
 * (an array open there) when j is not NULL, else lines on f; n counts
 * them. */
struct mf_csv_shown {
    const char *path;  /* borrowed */
    struct mf_json *j; /* borrowed, or NULL */
    FILE *f;
    uint64_t n;
};
void mf_csv_issue_show(void *shown, const struct mf_csv_issue *is);

/* The rows of a command that connects itself (`migrate --direct`,
 * `plan`, `verify`), loaded with mf_csv_rows_load(). */
struct mf_csv_rows {
    struct mf_csv_mailbox *rows; /* owned, n; passwords wiped when freed */
    size_t n;
    struct mf_csv_shown shown; /* its problems, shown on stderr */
};
struct mf_config;
/* mf_csv_load() of the file at path with --allow-unknown-columns read
 * from conf (and password_optional: admin credentials given), every
 * problem shown on stderr as a line. l is overwritten; free it with
 * mf_csv_rows_free() in any case. Errors: MF_E_USAGE (the option does
 * not read), MF_E_IO (unreadable), or the first problem's code with err
 * "PATH has N errors; nothing done (see `mailferry csv validate`)". */
MF_WARN_UNUSED mf_err mf_csv_rows_load(const struct mf_config *conf,
                                       const char *path, bool password_optional,
                                       struct mf_csv_rows *l,
                                       struct mf_error *err);
void mf_csv_rows_free(struct mf_csv_rows *l);

/* True when s looks like a deliverable address: local@domain, each part
 * within RFC 5321 lengths, dot-atom local part (UTF-8 allowed, RFC 6531),
 * domain of letter-digit-hyphen labels (UTF-8 allowed) with at least one
 * dot. reason_r (may be NULL) gets a short phrase when false. */
bool mf_csv_address_valid(const char *s, const char **reason_r);

/* `mailferry csv validate`: parses the CSV at path with options o and
 * writes to out every problem as it is found (FILE:LINE:COL lines) and a
 * summary line, or with json one object {"file", "errors": [...],
 * "valid", "rows", "mailboxes", "error_count", "bytes"} (validate.c).
 * Returns as mf_csv_parse_file(): MF_E_OK for a valid file, MF_E_IO when
 * it cannot be read (err says why, nothing written), else the code of
 * its first problem. */
MF_WARN_UNUSED mf_err mf_csv_validate(const char *path,
                                      const struct mf_csv_options *o, bool json,
                                      FILE *out, struct mf_error *err);

/* Its options from conf into o (zeroed first): --allow-unknown-columns,
 * --password-optional, --max-rows (1 to 2^32-1) and --max-bytes (k/M/G),
 * the limits MF_CSV_DEFAULT_MAX_ROWS and _BYTES when absent. The error of
 * mf_config_get_bool() or _u64() for the first option that does not read
 * (err names it); o is then incomplete. */
MF_WARN_UNUSED mf_err mf_csv_validate_options_read(const struct mf_config *conf,
                                                   struct mf_csv_options *o,
                                                   struct mf_error *err);
/* Their option table entries (struct mf_option, mailferry/args.h). */
#define MF_CSV_VALIDATE_OPTIONS                                                \
    {"allow-unknown-columns", false, "ignore columns mailferry does not use"}, \
        {"password-optional", false,                                           \
         "the Password column may be empty (admin credentials will be used)"}, \
        {"max-rows", true, "most mailbox rows accepted (default 50000)"},      \
        {"max-bytes", true, "largest file accepted (default 10000000)"},

#endif
