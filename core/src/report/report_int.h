/*
 * Internals shared by the report writers: a buffered output that goes to
 * a FILE in large chunks (so a 10,000-mailbox page is not built whole in
 * memory), UTF-8 checking, and the few number and time formats the three
 * writers agree on.
 */
#ifndef MAILFERRY_REPORT_INT_H
#define MAILFERRY_REPORT_INT_H

#include "mailferry/report.h"
#include "mailferry/util.h"

#include <stdbool.h>
#include <stdio.h>

/* Text is collected in buf and written out once it passes this size. */
#define MF__REPORT_FLUSH_AT (64 * 1024)

struct mf__report_out {
    struct mf_buf buf; /* owned */
    FILE *f;           /* borrowed */
    bool failed;       /* a write failed: the rest is discarded */
};

void mf__report_out_init(struct mf__report_out *o, FILE *f);
/* Writes buf out if it has grown past MF__REPORT_FLUSH_AT. */
void mf__report_out_maybe_flush(struct mf__report_out *o);
/* Writes the rest, fflush()es f and frees buf. MF_E_IO if any write
 * failed. */
MF_WARN_UNUSED mf_err mf__report_out_finish(struct mf__report_out *o);

/* A time as ISO 8601 UTC, "2024-05-01T10:00:00Z"; "" for 0. */
#define MF__REPORT_TIME_LEN 32
void mf__report_time_iso(int64_t t, char out[MF__REPORT_TIME_LEN]);

/* Sort rank that puts trouble first: Failed, Stopped, the running
 * states, Queued, then the finished ones. */
int mf__report_state_rank(enum mf_report_state s);

/* The error name to show for a mailbox (its own, or mf_err_name()), or
 * NULL when it has no error. */
const char *mf__report_error_name(const struct mf_report_mailbox *m);

/* An indirect, stable sort of the mailboxes by state rank: an array of
 * n_mailboxes indices (caller frees). */
size_t *mf__report_sorted_by_rank(const struct mf_report_batch *b);

/* The HTML page's SVG charts (html_svg.c). */
void mf__report_svg_status(struct mf_buf *out,
                           const struct mf_report_totals *t);
void mf__report_svg_throughput(struct mf_buf *out,
                               const struct mf_report_batch *b);
/* Appends s HTML-escaped (text and attribute values alike). */
void mf__report_html_escape(struct mf_buf *out, const char *s);

/* Human formats for the page: "1,234,567", "12.3 MB", "1h 02m 03s". */
void mf__report_fmt_count(uint64_t v, char out[32]);
void mf__report_fmt_bytes(double v, char out[32]);
void mf__report_fmt_duration(double seconds, char out[32]);

/* The same appended to the page: a time as "2024-05-01 10:00" UTC (with
 * seconds: "2024-05-01 10:00:00 UTC"), or a muted dash for 0; a count;
 * bytes. */
void mf__report_html_time(struct mf_buf *out, int64_t t, bool seconds);
void mf__report_html_count(struct mf_buf *out, uint64_t v);
void mf__report_html_bytes(struct mf_buf *out, double v);

/* Colour of a state in the page and its charts ("#1a7f37"). */
const char *mf__report_state_color(enum mf_report_state s);

/* html_items.c: the item tables (failed, repaired, renamed, skipped),
 * each at most MF_REPORT_HTML_ITEMS_MAX rows; order as from
 * mf__report_sorted_by_rank(). */
void mf__report_html_items(struct mf__report_out *o,
                           const struct mf_report_batch *b, const size_t *order,
                           const struct mf_report_totals *t);

/* html_verify.c: the "Verified" cell of a mailbox row and the section
 * of verify differences. */
void mf__report_html_verify_cell(struct mf_buf *out,
                                 const struct mf_report_mailbox *m);
void mf__report_html_verify_section(struct mf__report_out *o,
                                    const struct mf_report_batch *b,
                                    const size_t *order);

#endif
