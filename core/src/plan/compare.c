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

#include <stdio.h>

/* The width of a batch's column. */
#define COL 22

/* One row of the table: a label and a value per batch. */
typedef void (*cell_fn)(char *out, size_t n, const struct mf_plan_digest *d);

static void
row(FILE *out, const char *label, cell_fn fn, const struct mf_plan_digest *d,
    size_t n) {
    fprintf(out, "%-28s", label);
    for (size_t i = 0; i < n; i++) {
        char cell[96];
        fn(cell, sizeof(cell), &d[i]);
        fprintf(out, " %-*s", COL, cell);
    }
    fprintf(out, "\n");
}

static void
c_name(char *o, size_t n, const struct mf_plan_digest *d) {
    snprintf(o, n, "%s", d->name);
}
static void
c_state(char *o, size_t n, const struct mf_plan_digest *d) {
    snprintf(o, n, "%s", d->state);
}
static void
c_mailboxes(char *o, size_t n, const struct mf_plan_digest *d) {
    snprintf(o, n, "%llu", (unsigned long long)d->mailboxes);
}
static void
c_messages(char *o, size_t n, const struct mf_plan_digest *d) {
    snprintf(o, n, "%llu", (unsigned long long)d->messages_copied);
}
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
static void
c_batch_rate(char *o, size_t n, const struct mf_plan_digest *d) {
    int64_t s = mf_plan_digest_duration(d);
    char b[32];
    if (s <= 0) {
        snprintf(o, n, "-");
        return;
    }
    mf_plan_format_bytes(b, sizeof(b), d->bytes_copied / (uint64_t)s);
    snprintf(o, n, "%s/s, %.1f msg/s", b, (double)d->messages_copied / s);
}
static void
c_conn_rate(char *o, size_t n, const struct mf_plan_digest *d) {
    char b[32];
    if (!(d->rate.seconds > 0)) {
        snprintf(o, n, "-");
        return;
    }
    mf_plan_format_bytes(b, sizeof(b), (uint64_t)d->rate.bytes_per_second);
    snprintf(o, n, "%s/s, %.1f msg/s", b, d->rate.messages_per_second);
}
static void
c_rate_base(char *o, size_t n, const struct mf_plan_digest *d) {
    snprintf(o, n, "%llu Synced mailboxes",
             (unsigned long long)d->rate.mailboxes);
}
static void
c_attempts(char *o, size_t n, const struct mf_plan_digest *d) {
    snprintf(o, n, "%llu", (unsigned long long)d->attempts);
}
static void
c_errors(char *o, size_t n, const struct mf_plan_digest *d) {
    snprintf(o, n, "%llu", (unsigned long long)d->errors);
}
static void
c_failed(char *o, size_t n, const struct mf_plan_digest *d) {
    snprintf(o, n, "%llu", (unsigned long long)d->failed_items);
}
static void
c_too_large(char *o, size_t n, const struct mf_plan_digest *d) {
    snprintf(o, n, "%llu", (unsigned long long)d->skipped_too_large);
}
static void
cap(char *o, size_t n, uint32_t v) {
    if (v)
        snprintf(o, n, "%u", v);
    else
        snprintf(o, n, "none");
}
static void
c_cap_total(char *o, size_t n, const struct mf_plan_digest *d) {
    cap(o, n, d->cap_connections);
}
static void
c_cap_user(char *o, size_t n, const struct mf_plan_digest *d) {
    cap(o, n, d->cap_per_user);
}
static void
c_cap_ip(char *o, size_t n, const struct mf_plan_digest *d) {
    cap(o, n, d->cap_per_ip);
}
static void
c_cap_mb(char *o, size_t n, const struct mf_plan_digest *d) {
    cap(o, n, d->cap_mailboxes);
}
static void
c_peak(char *o, size_t n, const struct mf_plan_digest *d) {
    snprintf(o, n, "%u", d->peak_concurrency);
}

void
mf_plan_compare_print(FILE *out, const struct mf_plan_digest *d, size_t n) {
    row(out, "batch", c_name, d, n);
    row(out, "state", c_state, d, n);
    row(out, "mailboxes", c_mailboxes, d, n);
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
    row(out, "messages copied", c_messages, d, n);
    row(out, "bytes copied", c_bytes, d, n);
    row(out, "duration (first to last)", c_duration, d, n);
    row(out, "mailbox time (sum)", c_mailbox_time, d, n);
    row(out, "throughput (batch)", c_batch_rate, d, n);
    row(out, "throughput per connection", c_conn_rate, d, n);
    row(out, "  measured over", c_rate_base, d, n);
    row(out, "attempts", c_attempts, d, n);
    row(out, "mailboxes with errors", c_errors, d, n);
    row(out, "messages failed", c_failed, d, n);
    row(out, "skipped: too large", c_too_large, d, n);
    row(out, "cap: connections", c_cap_total, d, n);
    row(out, "cap: per user", c_cap_user, d, n);
    row(out, "cap: per IP", c_cap_ip, d, n);
    row(out, "cap: mailboxes at once", c_cap_mb, d, n);
    row(out, "peak mailboxes at once", c_peak, d, n);
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
