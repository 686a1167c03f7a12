/*
 * The CSV report: RFC 4180, one row per mailbox, the columns of
 * docs/design.md §11 (the column list below is the header row).
 *
 * RFC 4180 section 2: fields that contain a comma, a double quote, CR or
 * LF are enclosed in double quotes, and a double quote inside is doubled;
 * records end with CRLF. Text is UTF-8 (invalid bytes become U+FFFD) and
 * no byte-order mark is written.
 *
 * Spreadsheets run a cell that starts with = + - @ (and, in some, a tab
 * or CR) as a formula, so a hostile error text or address could run
 * one ("CSV injection", OWASP). Such a text field gets a leading '; the
 * numeric columns can never start with one of those characters.
 */
#include "report_int.h"

#include <inttypes.h>
#include <string.h>

static const char *const columns[] = {
    "EmailAddress",
    "State",
    "FoldersCopied",
    "FoldersExcluded",
    "SourceMessages",
    "SourceBytes",
    "CopiedMessages",
    "CopiedBytes",
    "SkippedTooLarge",
    "SkippedExcluded",
    "SkippedFailed",
    "SkippedVanished",
    "OutsideWindow",
    "DeletedOnTarget",
    "MovedOnTarget",
    "ErrorCode",
    "ErrorName",
    "ErrorText",
    "FirstSync",
    "LastSync",
    "DurationSeconds",
    "MessagesPerSecond",
    "BytesPerSecond",
    "Attempts",
    "Worker",
    "Verification",
    "VerifyDifferences",
};

/* Appends s as one CSV text field (NULL: empty). */
static void
field_text(struct mf_buf *out, const char *str) {
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s);
    bool quote = strcspn((const char *)s, ",\"\r\n") < n;

    if (quote)
        mf_buf_append(out, "\"", 1);
    if (n > 0 && strchr("=+-@\t\r", s[0]))
        mf_buf_append(out, "'", 1);
    for (size_t i = 0; i < n;) {
        size_t len = mf_utf8_next(s + i, n - i, NULL);

        if (len == 0) {
            mf_buf_append_str(out, "\xef\xbf\xbd");
            i++;
        } else if (s[i] == '"') {
            mf_buf_append(out, "\"\"", 2);
            i++;
        } else {
            mf_buf_append(out, s + i, len);
            i += len;
        }
    }
    if (quote)
        mf_buf_append(out, "\"", 1);
}

static void
field_u64(struct mf_buf *out, uint64_t v) {
    mf_buf_appendf(out, "%" PRIu64, v);
}

static void
field_time(struct mf_buf *out, int64_t t) {
    char iso[MF__REPORT_TIME_LEN];

    mf__report_time_iso(t, iso);
    mf_buf_append_str(out, iso);
}

static void
row(struct mf_buf *out, const struct mf_report_mailbox *m) {
    field_text(out, m->email), mf_buf_append(out, ",", 1);
    field_text(out, mf_report_state_name(m->state)), mf_buf_append(out, ",", 1);
    mf_buf_appendf(out, "%" PRIu32 ",%" PRIu32 ",", m->folders_copied,
                   m->folders_excluded);
    field_u64(out, m->source_messages), mf_buf_append(out, ",", 1);
    field_u64(out, m->source_bytes), mf_buf_append(out, ",", 1);
    field_u64(out, m->copied_messages), mf_buf_append(out, ",", 1);
    field_u64(out, m->copied_bytes), mf_buf_append(out, ",", 1);
    for (int r = 0; r < MF_REPORT_SKIP_REASON_COUNT; r++)
        field_u64(out, m->skipped[r]), mf_buf_append(out, ",", 1);
    if (m->error_code != 0)
        mf_buf_appendf(out, "%d", m->error_code);
    mf_buf_append(out, ",", 1);
    field_text(out, mf__report_error_name(m)), mf_buf_append(out, ",", 1);
    field_text(out, m->error_code ? m->error_text : NULL);
    mf_buf_append(out, ",", 1);
    field_time(out, m->first_sync), mf_buf_append(out, ",", 1);
    field_time(out, m->last_sync), mf_buf_append(out, ",", 1);
    mf_buf_appendf(out, "%.1f,%.2f,%.0f,%" PRIu32 ",", m->duration_seconds,
                   m->messages_per_second, m->bytes_per_second, m->attempts);
    field_text(out, m->worker), mf_buf_append(out, ",", 1);
    field_text(out, mf_report_verify_name(m->verification));
    mf_buf_append(out, ",", 1);
    field_u64(out, m->verify_differences);
    mf_buf_append(out, "\r\n", 2);
}

mf_err
mf_report_write_csv(const struct mf_report_batch *b, FILE *f) {
    struct mf__report_out o;

    mf__report_out_init(&o, f);
    for (size_t i = 0; i < MF_ARRAY_LEN(columns); i++) {
        if (i > 0)
            mf_buf_append(&o.buf, ",", 1);
        mf_buf_append_str(&o.buf, columns[i]);
    }
    mf_buf_append(&o.buf, "\r\n", 2);
    for (size_t i = 0; i < b->n_mailboxes; i++) {
        row(&o.buf, &b->mailboxes[i]);
        mf__report_out_maybe_flush(&o);
    }
    return mf__report_out_finish(&o);
}
