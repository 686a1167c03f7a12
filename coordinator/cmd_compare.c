/*
 * `mailferry batch compare A B [...] --redis URL [--json]`: test batches
 * side by side (docs/design.md §1 item 2): mailboxes and their states, what
 * was copied, how long it took from the first start to the last finish,
 * the throughput of the batch and of one connection, attempts, errors,
 * and the connections used (the batch's caps and the most mailboxes that
 * ran at once). The figures come from mf_plan_batch_digest()
 * (mailferry/plan.h), the same that `plan --from-batch` estimates from.
 *
 * Exit: 0 printed; 2 a wrong command line; 3 Redis unreachable or a batch
 * missing.
 */
#include "cli.h"
#include "commands.h"
#include "mailferry/batch.h"
#include "mailferry/json.h"
#include "mailferry/plan.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "A B [C ...] --redis URL [--json]";

static const struct cli_option options[] = {
    {NULL, false, NULL},
};

#define COL 22

/* One row of the table: a label and a value per batch. */
typedef void (*cell_fn)(char *out, size_t n, const struct mf_plan_digest *d);

static void
row(const char *label, cell_fn fn, const struct mf_plan_digest *d, size_t n) {
    printf("%-28s", label);
    for (size_t i = 0; i < n; i++) {
        char cell[96];
        fn(cell, sizeof(cell), &d[i]);
        printf(" %-*s", COL, cell);
    }
    printf("\n");
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

static void
print_text(const struct mf_plan_digest *d, size_t n) {
    row("batch", c_name, d, n);
    row("state", c_state, d, n);
    row("mailboxes", c_mailboxes, d, n);
    for (int s = 0; s < MF_MAILBOX_STATE_COUNT; s++) {
        bool any = false;
        char label[40];
        for (size_t i = 0; i < n; i++)
            any |= d[i].counts[s] != 0;
        if (!any)
            continue;
        snprintf(label, sizeof(label), "  %s",
                 mf_mailbox_state_name((enum mf_mailbox_state)s));
        printf("%-28s", label);
        for (size_t i = 0; i < n; i++)
            printf(" %-*llu", COL, (unsigned long long)d[i].counts[s]);
        printf("\n");
    }
    row("messages copied", c_messages, d, n);
    row("bytes copied", c_bytes, d, n);
    row("duration (first to last)", c_duration, d, n);
    row("mailbox time (sum)", c_mailbox_time, d, n);
    row("throughput (batch)", c_batch_rate, d, n);
    row("throughput per connection", c_conn_rate, d, n);
    row("  measured over", c_rate_base, d, n);
    row("attempts", c_attempts, d, n);
    row("mailboxes with errors", c_errors, d, n);
    row("messages failed", c_failed, d, n);
    row("skipped: too large", c_too_large, d, n);
    row("cap: connections", c_cap_total, d, n);
    row("cap: per user", c_cap_user, d, n);
    row("cap: per IP", c_cap_ip, d, n);
    row("cap: mailboxes at once", c_cap_mb, d, n);
    row("peak mailboxes at once", c_peak, d, n);
    for (size_t i = 0; i < n; i++)
        if (d[i].running)
            printf("note: %s is %s; its figures may still change\n", d[i].name,
                   d[i].state);
}

int
cmd_batch_compare(int argc, char **argv) {
    struct cli cli;
    struct mf_redis *r = NULL;
    struct mf_plan_digest *d = NULL;
    struct mf_error err = {0};
    const char *url;
    int exit_code = MF_EXIT_USAGE;

    if (!cli_parse(&cli, "batch compare", usage, options, argc, argv))
        goto out;
    if (cli.help) {
        exit_code = MF_EXIT_OK;
        goto out;
    }
    url = mf_config_get(cli.config, "redis", NULL);
    if (cli.npositional < 2 || !url) {
        fprintf(stderr,
                "mailferry batch compare: %s\nusage: mailferry batch "
                "compare %s\n",
                !url ? "--redis URL is required" : "give two batches or more",
                usage);
        goto out;
    }
    exit_code = MF_EXIT_ERROR;
    if (mf_redis_connect(url, 0, &r, &err) != MF_E_OK) {
        fprintf(stderr, "mailferry batch compare: Redis: %s\n", err.detail);
        goto out;
    }
    d = mf_xcalloc((size_t)cli.npositional, sizeof(*d));
    for (int i = 0; i < cli.npositional; i++)
        if (mf_plan_batch_digest(r, cli.positional[i], &d[i], &err) !=
            MF_E_OK) {
            fprintf(stderr, "mailferry batch compare: %s: %s\n",
                    cli.positional[i], err.detail);
            goto out;
        }
    if (cli.json) {
        struct mf_buf buf = {0};
        struct mf_json j;

        mf_json_init(&j, &buf);
        mf_json_object_begin(&j);
        mf_json_key(&j, "batches");
        mf_json_array_begin(&j);
        for (int i = 0; i < cli.npositional; i++)
            mf_plan_digest_to_json(&d[i], &j);
        mf_json_array_end(&j);
        mf_json_object_end(&j);
        fwrite(buf.data, 1, buf.len, stdout);
        fputc('\n', stdout);
        mf_buf_free(&buf);
    } else {
        print_text(d, (size_t)cli.npositional);
    }
    exit_code = MF_EXIT_OK;
out:
    free(d);
    mf_redis_free(&r);
    cli_free(&cli);
    return exit_code;
}
