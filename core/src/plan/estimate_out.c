/*
 * The estimate's outward faces (mailferry/plan.h): the measured rate, a
 * table of connection counts with their times, the suggestion and the
 * batch sizes for a window; as text or as one JSON object value.
 */
#include "plan/plan_int.h"

#include <stdio.h>

void
mf_estimate_print(FILE *out, const struct mf_estimate_rate *rate,
                  const struct mf_estimate *est, const char *const *names) {
    char b[32], d[32], d2[32];

    mf_plan_format_bytes(b, sizeof(b), (uint64_t)rate->bytes_per_second);
    mf_plan_format_duration(d, sizeof(d), rate->seconds);
    fprintf(out,
            "throughput per connection: %s/s, %.1f messages/s (from %llu "
            "Synced mailboxes, %s of mailbox time",
            b, rate->messages_per_second, (unsigned long long)rate->mailboxes,
            d);
    if (rate->ignored)
        fprintf(out, "; %llu mailboxes not used",
                (unsigned long long)rate->ignored);
    if (rate->peak_concurrency)
        fprintf(out, "; at most %u ran at once", rate->peak_concurrency);
    fprintf(out, ")\n");

    mf_plan_format_bytes(b, sizeof(b), est->bytes);
    mf_plan_format_duration(d, sizeof(d), est->work_seconds);
    mf_plan_format_duration(d2, sizeof(d2), est->longest_seconds);
    fprintf(out,
            "estimate for %zu mailboxes, %llu messages, %s: %s over one "
            "connection; the longest mailbox",
            est->n_mailboxes, (unsigned long long)est->messages, b, d);
    if (names && est->n_mailboxes && names[est->longest_index])
        fprintf(out, " (%s)", names[est->longest_index]);
    fprintf(out, " takes %s alone\n", d2);
    fprintf(out, "  %11s %10s  %s\n", "CONNECTIONS", "TIME", "NOTE");
    for (size_t i = 0; i < est->n_points; i++) {
        const struct mf_estimate_point *p = &est->points[i];
        const char *sep = "";

        mf_plan_format_duration(d, sizeof(d), p->seconds);
        fprintf(out, "  %11u %10s  ", p->connections, d);
        if (p->floor) {
            fprintf(out, "longest mailbox decides");
            sep = "; ";
        }
        if (p->extrapolated) {
            fprintf(out, "%smore than the %u the test ran at once", sep,
                    rate->peak_concurrency);
            sep = "; ";
        }
        if (p->over_limit) {
            fprintf(out, "%sabove --max-connections", sep);
            sep = "; ";
        }
        if (p->connections == est->suggested_connections)
            fprintf(out, "%s<- suggested", sep);
        fputc('\n', out);
    }
    if (est->window.seconds > 0) {
        const struct mf_estimate_window *w = &est->window;
        mf_plan_format_duration(d, sizeof(d), w->seconds);
        mf_plan_format_bytes(b, sizeof(b), (uint64_t)w->bytes_per_window);
        fprintf(out,
                "window %s at %u connections: about %llu mailboxes of the "
                "average planned size (%s) per window; this list makes %llu "
                "batch%s, the largest of %llu mailboxes\n",
                d, w->connections, (unsigned long long)w->per_window, b,
                (unsigned long long)w->batches, w->batches == 1 ? "" : "es",
                (unsigned long long)w->largest_batch);
        if (w->too_long)
            fprintf(out,
                    "  %llu mailboxes take longer than the window alone: "
                    "run them early and catch up with incremental passes\n",
                    (unsigned long long)w->too_long);
    }
}

void
mf_estimate_to_json(const struct mf_estimate_rate *rate,
                    const struct mf_estimate *est, const char *const *names,
                    struct mf_json *j) {
    mf_json_object_begin(j);
    mf_json_key(j, "rate");
    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, rate, mailboxes, ignored, bytes, messages, seconds,
                   bytes_per_second, messages_per_second, peak_concurrency);
    mf_json_object_end(j);
    mf_json_member(j, "mailboxes", est->n_mailboxes);
    MF_JSON_FIELDS(j, est, bytes, messages, work_seconds, longest_seconds);
    mf_json_member(j, "longest_mailbox",
                   names && est->n_mailboxes ? names[est->longest_index]
                                             : NULL);
    mf_json_key(j, "points");
    mf_json_array_begin(j);
    for (size_t i = 0; i < est->n_points; i++) {
        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, &est->points[i], connections, seconds, floor,
                       extrapolated, over_limit);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
    mf_json_member(j, "suggested_connections", est->suggested_connections);
    mf_json_key(j, "window");
    if (est->window.seconds > 0) {
        const struct mf_estimate_window *w = &est->window;
        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, w, seconds, connections);
        mf_json_member(j, "mailboxes_per_window", w->per_window);
        MF_JSON_FIELDS(j, w, bytes_per_window, batches, largest_batch,
                       too_long);
        mf_json_object_end(j);
    } else {
        mf_json_null(j);
    }
    mf_json_object_end(j);
}
