/*
 * Batch CSV parser: header mapping, per-row checks, duplicate addresses and
 * file limits, on top of the tokenizer (see mailferry/csv.h).
 *
 * Data structures: the column map (header position -> known column), and
 * an open-addressing hash set of lower-cased addresses with the line each
 * was first seen on, to report "duplicate of line N". The set is the only
 * thing that grows with the file, and the row limit bounds it.
 */
#include "csv_int.h"

#include <ctype.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const column_names[MF_CSV_COL_COUNT] = {
    "EmailAddress", "UserName",       "Password",
    "UserRoot",     "TargetUserName", "TargetPassword",
};

#define COL_UNKNOWN (-1)

struct addr_entry {
    char *addr; /* owned, lower case; NULL: empty slot */
    uint64_t line;
};

struct mf_csv_parser {
    struct mf_csv_options opt;
    const struct mf_csv_callbacks *cb; /* borrowed */
    void *ud;
    struct mf__csv_tokenizer *tok; /* owned */

    bool have_header;
    bool header_ok;                 /* every required column is there */
    unsigned ncols;                 /* fields in the header */
    int colmap[MF_CSV_MAX_FIELDS];  /* header position -> column */
    int position[MF_CSV_COL_COUNT]; /* column -> header position */

    struct addr_entry *addrs; /* owned */
    size_t addr_cap, addr_len;

    struct mf_csv_stats stats;
    mf_err first_issue;
    mf_err fatal;
};

/* ---------------------------------------------------------------- issues */

static void report(struct mf_csv_parser *p, uint64_t line, unsigned column,
                   mf_err code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
report(struct mf_csv_parser *p, uint64_t line, unsigned column, mf_err code,
       const char *fmt, ...) {
    struct mf_csv_issue is = {.line = line, .column = column, .code = code};
    va_list ap;

    if (column > 0 && column <= p->ncols && column <= MF_CSV_MAX_FIELDS &&
        p->colmap[column - 1] != COL_UNKNOWN)
        is.column_name = column_names[p->colmap[column - 1]];
    va_start(ap, fmt);
    vsnprintf(is.detail, sizeof(is.detail), fmt, ap);
    va_end(ap);
    if (p->first_issue == MF_E_OK)
        p->first_issue = code;
    p->stats.issues++;
    if (p->cb->on_issue)
        p->cb->on_issue(p->ud, &is);
}

static void
on_tokenizer_issue(void *ud, uint64_t line, unsigned column, mf_err code,
                   const char *detail) {
    struct mf_csv_parser *p = ud;

    if (p->fatal)
        return;
    report(p, line, column, code, "%s", detail);
}

/* ------------------------------------------------------ duplicate addresses */

static uint64_t
hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static void
addr_insert_slot(struct addr_entry *tab, size_t cap, struct addr_entry e) {
    size_t i = hash_str(e.addr) & (cap - 1);
    while (tab[i].addr)
        i = (i + 1) & (cap - 1);
    tab[i] = e;
}

/* Returns the line where addr was first seen, or 0 after recording it. */
static uint64_t
addr_seen(struct mf_csv_parser *p, const char *addr, uint64_t line) {
    char *lower = mf_xstrdup(addr);
    size_t i;

    for (char *s = lower; *s; s++)
        *s = (char)tolower((unsigned char)*s);
    if (p->addr_cap) {
        for (i = hash_str(lower) & (p->addr_cap - 1); p->addrs[i].addr;
             i = (i + 1) & (p->addr_cap - 1)) {
            if (strcmp(p->addrs[i].addr, lower) == 0) {
                free(lower);
                return p->addrs[i].line;
            }
        }
    }
    if ((p->addr_len + 1) * 10 > p->addr_cap * 7) {
        size_t cap = p->addr_cap ? p->addr_cap * 2 : 256;
        struct addr_entry *tab = mf_xcalloc(cap, sizeof(*tab));
        for (i = 0; i < p->addr_cap; i++)
            if (p->addrs[i].addr)
                addr_insert_slot(tab, cap, p->addrs[i]);
        free(p->addrs);
        p->addrs = tab;
        p->addr_cap = cap;
    }
    addr_insert_slot(p->addrs, p->addr_cap,
                     (struct addr_entry){.addr = lower, .line = line});
    p->addr_len++;
    return 0;
}

/* --------------------------------------------------------- address syntax */

static bool
is_atext(unsigned char c) {
    /* RFC 5322 atext, plus any UTF-8 byte (RFC 6531 UTF8-non-ascii). */
    return isalnum(c) || c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c);
}

bool
mf_csv_address_valid(const char *s, const char **reason_r) {
    const char *at = strrchr(s, '@');
    const char *reason = NULL;
    size_t local_len, domain_len, label_len = 0;
    bool dot = false;

    if (!at) {
        reason = "no @";
        goto out;
    }
    local_len = (size_t)(at - s);
    domain_len = strlen(at + 1);
    if (local_len == 0 || local_len > 64) {
        reason = "the part before @ must have 1 to 64 characters";
        goto out;
    }
    if (domain_len == 0 || domain_len > 253 || local_len + domain_len > 253) {
        reason = "the domain is empty or too long";
        goto out;
    }
    /* Local part: dot-atom (RFC 5322 3.4.1). */
    if (s[0] == '.' || at[-1] == '.') {
        reason = "the part before @ starts or ends with a dot";
        goto out;
    }
    for (const char *c = s; c < at; c++) {
        if (*c == '.' && c[1] == '.') {
            reason = "two dots in a row";
            goto out;
        }
        if (*c != '.' && !is_atext((unsigned char)*c)) {
            reason = "a character not allowed before @";
            goto out;
        }
    }
    /* Domain: LDH labels (RFC 5321 4.1.2), UTF-8 labels allowed (IDN). */
    for (const char *c = at + 1;; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch == '.' || ch == '\0') {
            if (label_len == 0 || label_len > 63) {
                reason = "an empty or over-long part in the domain";
                goto out;
            }
            if (c[-1] == '-') {
                reason = "a domain label ends with a hyphen";
                goto out;
            }
            if (ch == '\0')
                break;
            dot = true;
            label_len = 0;
            continue;
        }
        if (!(isalnum(ch) || ch == '-' || ch >= 0x80)) {
            reason = "a character not allowed in the domain";
            goto out;
        }
        if (label_len == 0 && ch == '-') {
            reason = "a domain label starts with a hyphen";
            goto out;
        }
        label_len++;
    }
    if (!dot)
        reason = "the domain has no dot";
out:
    if (reason_r)
        *reason_r = reason;
    return reason == NULL;
}

/* ------------------------------------------------------------- records */

/* Trims blanks at both ends of the field's text, in place. */
static char *
trim_field(char *s, size_t *len) {
    while (*len && (*s == ' ' || *s == '\t'))
        s++, (*len)--;
    while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
        s[--*len] = '\0';
    return s;
}

static void
header(struct mf_csv_parser *p, struct mf__csv_record *rec) {
    p->have_header = true;
    p->ncols = rec->ntotal;
    for (unsigned i = 0; i < MF_CSV_MAX_FIELDS; i++)
        p->colmap[i] = COL_UNKNOWN;
    for (unsigned c = 0; c < MF_CSV_COL_COUNT; c++)
        p->position[c] = -1;
    if (rec->ntotal > MF_CSV_MAX_FIELDS)
        report(p, rec->line, MF_CSV_MAX_FIELDS + 1, MF_E_CSV_UNKNOWN_COLUMN,
               "%u columns; at most %d are read", rec->ntotal,
               MF_CSV_MAX_FIELDS);
    for (unsigned i = 0; i < rec->nfields; i++) {
        size_t len = rec->fields[i].len;
        char *name =
            trim_field((char *)rec->bytes.data + rec->fields[i].off, &len);
        int col = COL_UNKNOWN;

        for (unsigned c = 0; c < MF_CSV_COL_COUNT; c++)
            if (strcasecmp(name, column_names[c]) == 0)
                col = (int)c;
        if (col == COL_UNKNOWN) {
            if (!p->opt.allow_unknown_columns && !rec->fields[i].bad)
                report(p, rec->line, i + 1, MF_E_CSV_UNKNOWN_COLUMN,
                       "\"%.64s\" is none of EmailAddress, UserName, "
                       "Password, UserRoot, TargetUserName, TargetPassword "
                       "(--allow-unknown-columns ignores it)",
                       name);
            continue;
        }
        if (p->position[col] >= 0) {
            report(p, rec->line, i + 1, MF_E_CSV_DUPLICATE_COLUMN,
                   "%s is also column %d", column_names[col],
                   p->position[col] + 1);
            continue;
        }
        p->position[col] = (int)i;
        p->colmap[i] = col;
    }
    p->header_ok = true;
    for (unsigned c = 0; c <= MF_CSV_COL_PASSWORD; c++) {
        if (p->position[c] >= 0 ||
            (c == MF_CSV_COL_PASSWORD && p->opt.password_optional))
            continue;
        report(p, rec->line, 0, MF_E_CSV_MISSING_COLUMN,
               "the header has no %s column", column_names[c]);
        p->header_ok = false;
    }
    if ((p->position[MF_CSV_COL_TARGET_USERNAME] >= 0) !=
            (p->position[MF_CSV_COL_TARGET_PASSWORD] >= 0) &&
        !p->opt.password_optional) {
        report(p, rec->line, 0, MF_E_CSV_MISSING_COLUMN,
               "TargetUserName and TargetPassword go together");
        p->header_ok = false;
    }
}

/* The field for column col in rec, trimmed unless it is a password, or
 * NULL when the header has no such column. */
static char *
field(struct mf__csv_record *rec, const struct mf_csv_parser *p,
      enum mf_csv_column col, size_t *len_r, unsigned *pos_r) {
    int pos = p->position[col];
    char *s;

    if (pos < 0 || (unsigned)pos >= rec->nfields)
        return NULL;
    *len_r = rec->fields[pos].len;
    *pos_r = (unsigned)pos + 1;
    s = (char *)rec->bytes.data + rec->fields[pos].off;
    if (col != MF_CSV_COL_PASSWORD && col != MF_CSV_COL_TARGET_PASSWORD)
        s = trim_field(s, len_r);
    return s;
}

/* Control characters make no sense in any column and break logins. */
static bool
has_control(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return true;
    }
    return false;
}

static void
row(struct mf_csv_parser *p, struct mf__csv_record *rec) {
    const char *vals[MF_CSV_COL_COUNT] = {0};
    bool ok = !rec->bad && p->header_ok;
    const char *reason;

    p->stats.rows++;
    if (p->stats.rows > p->opt.max_rows) {
        report(p, rec->line, 0, MF_E_CSV_ROW_LIMIT,
               "more than %llu rows; split the batch",
               (unsigned long long)p->opt.max_rows);
        p->fatal = MF_E_CSV_ROW_LIMIT;
        return;
    }
    if (rec->ntotal != p->ncols) {
        report(p, rec->line, 0, MF_E_CSV_COLUMN_COUNT,
               "%u columns where the header has %u", rec->ntotal, p->ncols);
        return;
    }
    for (unsigned c = 0; c < MF_CSV_COL_COUNT; c++) {
        size_t len = 0;
        unsigned pos = 0;
        char *s = field(rec, p, (enum mf_csv_column)c, &len, &pos);

        if (!s || rec->fields[pos - 1].bad)
            continue;
        if (has_control(s, len)) {
            report(p, rec->line, pos, MF_E_CSV_BAD_CHARACTER,
                   "%s contains a control character", column_names[c]);
            ok = false;
            continue;
        }
        if (len == 0) {
            bool required =
                c == MF_CSV_COL_EMAIL || c == MF_CSV_COL_USERNAME ||
                (c == MF_CSV_COL_PASSWORD && !p->opt.password_optional);
            if (required) {
                report(p, rec->line, pos, MF_E_CSV_EMPTY_FIELD, "%s",
                       c == MF_CSV_COL_PASSWORD
                           ? "every row needs one, unless admin credentials "
                             "are given (--password-optional)"
                           : "every row needs one");
                ok = false;
            }
            continue;
        }
        vals[c] = s;
    }
    if (vals[MF_CSV_COL_EMAIL]) {
        const char *email = vals[MF_CSV_COL_EMAIL];
        uint64_t first;
        if (!mf_csv_address_valid(email, &reason)) {
            report(p, rec->line, (unsigned)p->position[MF_CSV_COL_EMAIL] + 1,
                   MF_E_CSV_BAD_ADDRESS, "\"%.100s\": %s", email, reason);
            ok = false;
        } else if ((first = addr_seen(p, email, rec->line)) != 0) {
            report(p, rec->line, (unsigned)p->position[MF_CSV_COL_EMAIL] + 1,
                   MF_E_CSV_DUPLICATE_ADDRESS,
                   "\"%.100s\" is already on line %llu", email,
                   (unsigned long long)first);
            ok = false;
        }
    }
    if (!p->opt.password_optional &&
        !vals[MF_CSV_COL_TARGET_USERNAME] !=
            !vals[MF_CSV_COL_TARGET_PASSWORD] &&
        p->position[MF_CSV_COL_TARGET_USERNAME] >= 0) {
        report(p, rec->line, 0, MF_E_CSV_EMPTY_FIELD,
               "TargetUserName and TargetPassword must both be given or "
               "both be empty");
        ok = false;
    }
    if (!ok)
        return;
    struct mf_csv_row r = {
        .line = rec->line,
        .index = p->stats.mailboxes,
        .email = vals[MF_CSV_COL_EMAIL],
        .username = vals[MF_CSV_COL_USERNAME],
        .password = vals[MF_CSV_COL_PASSWORD],
        .user_root = vals[MF_CSV_COL_USERROOT],
        .target_username = vals[MF_CSV_COL_TARGET_USERNAME],
        .target_password = vals[MF_CSV_COL_TARGET_PASSWORD],
    };
    p->stats.mailboxes++;
    if (p->cb->on_row)
        p->cb->on_row(p->ud, &r);
}

static void
on_record(void *ud, struct mf__csv_record *rec) {
    struct mf_csv_parser *p = ud;

    if (p->fatal)
        return;
    if (!p->have_header)
        header(p, rec);
    else
        row(p, rec);
}

/* -------------------------------------------------------------- public */

struct mf_csv_parser *
mf_csv_parser_new(const struct mf_csv_options *options,
                  const struct mf_csv_callbacks *cb, void *ud) {
    struct mf_csv_parser *p = mf_xcalloc(1, sizeof(*p));

    if (options)
        p->opt = *options;
    if (!p->opt.max_rows)
        p->opt.max_rows = MF_CSV_DEFAULT_MAX_ROWS;
    if (!p->opt.max_bytes)
        p->opt.max_bytes = MF_CSV_DEFAULT_MAX_BYTES;
    if (!p->opt.max_field)
        p->opt.max_field = MF_CSV_DEFAULT_MAX_FIELD;
    p->cb = cb;
    p->ud = ud;
    p->tok = mf__csv_tokenizer_new(p->opt.max_field, on_record,
                                   on_tokenizer_issue, p);
    return p;
}

void
mf_csv_parser_free(struct mf_csv_parser **pp) {
    struct mf_csv_parser *p = *pp;

    if (!p)
        return;
    for (size_t i = 0; i < p->addr_cap; i++)
        free(p->addrs[i].addr);
    free(p->addrs);
    mf__csv_tokenizer_free(&p->tok);
    free(p);
    *pp = NULL;
}

mf_err
mf_csv_parser_feed(struct mf_csv_parser *p, const uint8_t *data, size_t len) {
    if (p->fatal)
        return p->fatal;
    if (len > p->opt.max_bytes - p->stats.bytes) {
        report(p, 0, 0, MF_E_CSV_SIZE_LIMIT,
               "larger than %llu bytes; split the batch",
               (unsigned long long)p->opt.max_bytes);
        p->fatal = MF_E_CSV_SIZE_LIMIT;
        return p->fatal;
    }
    p->stats.bytes += len;
    mf__csv_tokenizer_feed(p->tok, data, len);
    return p->fatal;
}

mf_err
mf_csv_parser_finish(struct mf_csv_parser *p) {
    if (!p->fatal) {
        mf__csv_tokenizer_finish(p->tok);
        if (!p->have_header)
            report(p, 1, 0, MF_E_CSV_NO_HEADER,
                   "the file is empty; the first line must name the columns");
        else if (p->stats.rows == 0)
            report(p, 2, 0, MF_E_CSV_NO_ROWS,
                   "the header is not followed by any mailbox");
    }
    return p->first_issue;
}

void
mf_csv_parser_stats(const struct mf_csv_parser *p,
                    struct mf_csv_stats *stats_r) {
    *stats_r = p->stats;
}

mf_err
mf_csv_parse_file(const char *path, const struct mf_csv_options *options,
                  const struct mf_csv_callbacks *cb, void *ud,
                  struct mf_csv_stats *stats_r, struct mf_error *err) {
    uint8_t chunk[64 * 1024];
    struct mf_csv_parser *p;
    mf_err rc = MF_E_OK;
    ssize_t n;
    /* The CSV holds passwords: read(2) into chunk, which is wiped at the
     * end, rather than stdio, whose buffer nobody wipes. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return mf_error_set(err, MF_E_IO, "%s: %s", path, strerror(errno));
    p = mf_csv_parser_new(options, cb, ud);
    for (;;) {
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || mf_csv_parser_feed(p, chunk, (size_t)n) != MF_E_OK)
            break;
    }
    if (n < 0) {
        rc = mf_error_set(err, MF_E_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = mf_csv_parser_finish(p);
    if (stats_r)
        mf_csv_parser_stats(p, stats_r);
    if (rc != MF_E_OK)
        mf_error_set(err, rc, "%s: %llu problems", path,
                     (unsigned long long)p->stats.issues);
out:
    mf_csv_parser_free(&p);
    mf_wipe(chunk, sizeof(chunk));
    close(fd);
    return rc;
}
