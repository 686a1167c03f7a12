/*
 * Test batches side by side (`mailferry batch compare`,
 * mf_plan_compare_print() and mf_plan_compare_to_json(), mailferry/
 * plan.h): a table with a row per figure of mf_plan_batch_digest()
 * (history.c) and a column per batch (mailboxes by state, what was
 * copied, duration, throughput of the batch and of one connection,
 * attempts, errors, caps and peak concurrency), or the digests as JSON.
 * Pure: no I/O but the stream written to.
 */
#include "plan/plan_int.h"

#include "mailferry/util.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The width of a batch's column. */
#define COL 22

/* What a row shows of each digest: a figure read at an offset (text, a
 * 64- or 32-bit count, or a cap where 0 means none), what a writer makes
 * of the digest, or (STATES) a row per mailbox state that any batch has. */
enum kind { TEXT, U64, U32, CAP, WRITER, STATES };

typedef void (*cell_fn)(char *out, size_t n, const struct mf_plan_digest *d);

struct row {
    const char *label;
    enum kind kind;
    size_t off; /* of the figure in struct mf_plan_digest */
    cell_fn fn; /* WRITER's */
};

static void
c_bytes(char *o, size_t n, const struct mf_plan_digest *d) {
    char b[32];
    mf_plan_format_bytes(b, sizeof(b), d->bytes_copied);
    snprintf(o, n, "%llu (%s)", (unsigned long long)d->bytes_copied, b);
}
static void
c_duration(char *o, size_t n, const struct mf_plan_digest *d) {
    int64_t s = mf_plan_digest_duration(d);
    if (s <= 0 && d->first_start == 0)
        snprintf(o, n, "-");
    else
        snprintf(o, n, "%llds", (long long)s);
}
static void
c_mailbox_time(char *o, size_t n, const struct mf_plan_digest *d) {
    mf_plan_format_duration(o, n, d->sum_seconds);
}
/* "1.2 KB/s, 3.4 msg/s" */
static void
rate(char *o, size_t n, uint64_t bytes_per_second, double messages_per_second) {
    char b[32];
    mf_plan_format_bytes(b, sizeof(b), bytes_per_second);
    snprintf(o, n, "%s/s, %.1f msg/s", b, messages_per_second);
}
static void
c_batch_rate(char *o, size_t n, const struct mf_plan_digest *d) {
    int64_t s = mf_plan_digest_duration(d);
    if (s <= 0)
        snprintf(o, n, "-");
    else
        rate(o, n, d->bytes_copied / (uint64_t)s,
             (double)d->messages_copied / s);
}
static void
c_conn_rate(char *o, size_t n, const struct mf_plan_digest *d) {
    if (!(d->rate.seconds > 0))
        snprintf(o, n, "-");
    else
        rate(o, n, (uint64_t)d->rate.bytes_per_second,
             d->rate.messages_per_second);
}
static void
c_rate_base(char *o, size_t n, const struct mf_plan_digest *d) {
    snprintf(o, n, "%llu Synced mailboxes",
             (unsigned long long)d->rate.mailboxes);
}

#define FIG(label, kind, field)                                                \
    { label, kind, offsetof(struct mf_plan_digest, field), NULL }
#define WRITE(label, fn)                                                       \
    { label, WRITER, 0, fn }

static const struct row rows[] = {
    FIG("batch", TEXT, name),
    FIG("state", TEXT, state),
    FIG("mailboxes", U64, mailboxes),
    {NULL, STATES, 0, NULL},
    FIG("messages copied", U64, messages_copied),
    WRITE("bytes copied", c_bytes),
    WRITE("duration (first to last)", c_duration),
    WRITE("mailbox time (sum)", c_mailbox_time),
    WRITE("throughput (batch)", c_batch_rate),
    WRITE("throughput per connection", c_conn_rate),
    WRITE("  measured over", c_rate_base),
    FIG("attempts", U64, attempts),
    FIG("mailboxes with errors", U64, errors),
    FIG("messages failed", U64, failed_items),
    FIG("skipped: too large", U64, skipped_too_large),
    FIG("cap: connections", CAP, cap_connections),
    FIG("cap: per user", CAP, cap_per_user),
    FIG("cap: per IP", CAP, cap_per_ip),
    FIG("cap: mailboxes at once", CAP, cap_mailboxes),
    FIG("peak mailboxes at once", U32, peak_concurrency),
};

/* The cell of row r for digest d (not for a STATES row). */
static void
cell(char *o, size_t n, const struct row *r, const struct mf_plan_digest *d) {
    const char *p = (const char *)d + r->off;
    uint64_t u64;
    uint32_t u32;

    MF_ASSERT(r->kind != STATES);
    switch (r->kind) {
    case TEXT:
        snprintf(o, n, "%s", p);
        break;
    case U64:
        memcpy(&u64, p, sizeof(u64));
        snprintf(o, n, "%llu", (unsigned long long)u64);
        break;
    case U32:
    case CAP:
        memcpy(&u32, p, sizeof(u32));
        if (u32 == 0 && r->kind == CAP)
            snprintf(o, n, "none");
        else
            snprintf(o, n, "%u", u32);
        break;
    case WRITER:
        r->fn(o, n, d);
        break;
    case STATES: /* a cell per state: state_rows() */
        break;
    }
}

/* A row per mailbox state that any of the batches has. */
static void
state_rows(FILE *out, const struct mf_plan_digest *d, size_t n) {
    for (int s = 0; s < MF_MAILBOX_STATE_COUNT; s++) {
        bool any = false;
        char label[40];
        for (size_t i = 0; i < n; i++)
            any |= d[i].counts[s] != 0;
        if (!any)
            continue;
        snprintf(label, sizeof(label), "  %s",
                 mf_mailbox_state_name((enum mf_mailbox_state)s));
        fprintf(out, "%-28s", label);
        for (size_t i = 0; i < n; i++)
            fprintf(out, " %-*llu", COL, (unsigned long long)d[i].counts[s]);
        fprintf(out, "\n");
    }
}

void
mf_plan_compare_print(FILE *out, bool json, const struct mf_plan_digest *d,
                      size_t n) {
    if (json) {
        struct mf_json_doc doc;
        mf_plan_compare_to_json(d, n, mf_json_doc_begin(&doc));
        mf_json_doc_print(&doc, out);
        return;
    }
    for (size_t r = 0; r < MF_ARRAY_LEN(rows); r++) {
        if (rows[r].kind == STATES) {
            state_rows(out, d, n);
            continue;
        }
        fprintf(out, "%-28s", rows[r].label);
        for (size_t i = 0; i < n; i++) {
            char c[96];
            cell(c, sizeof(c), &rows[r], &d[i]);
            fprintf(out, " %-*s", COL, c);
        }
        fprintf(out, "\n");
    }
    for (size_t i = 0; i < n; i++)
        if (d[i].running)
            fprintf(out, "note: %s is %s; its figures may still change\n",
                    d[i].name, d[i].state);
}

void
mf_plan_compare_to_json(const struct mf_plan_digest *d, size_t n,
                        struct mf_json *j) {
    mf_json_object_begin(j);
    mf_json_key(j, "batches");
    mf_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        mf_plan_digest_to_json(&d[i], j);
    mf_json_array_end(j);
    mf_json_object_end(j);
}
