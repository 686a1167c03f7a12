/*
 * What the coordinator service tells the notifier (mailferry/notify.h):
 * batch state changes and stuck batches, from the states it sees in its
 * scans and results, and the mailbox events of the results it applies.
 *
 * The watch is memory only: after a restart the service first learns
 * every batch's state without announcing it, so a receiver hears changes
 * from then on (and, after a crash between a change and its POST, may
 * miss that one; the state is always in `batch status`).
 */
#include "service/service_int.h"

#include "mailferry/json.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct watched {
    char name[MF_BATCH_NAME_MAX + 1];
    enum mf_batch_state state;
    int64_t active; /* monotonic seconds: the last result or progress */
    bool stuck_sent;
};

struct mf__service_watch {
    struct watched *v;
    size_t n;
};

struct mf__service_watch *
mf__service_watch_new(void) {
    return mf_xcalloc(1, sizeof(struct mf__service_watch));
}

void
mf__service_watch_free(struct mf__service_watch **wp) {
    if (!wp || !*wp)
        return;
    free((*wp)->v);
    free(*wp);
    *wp = NULL;
}

/* The batch's entry; a new one (state unknown) if it had none. */
static struct watched *
find(struct mf__service_watch *w, const char *batch, int64_t now,
     bool *is_new) {
    struct watched *e;

    *is_new = false;
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i].name, batch) == 0)
            return &w->v[i];
    w->v = mf_xreallocarray(w->v, w->n + 1, sizeof(*w->v));
    e = &w->v[w->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", batch);
    e->active = now;
    *is_new = true;
    return e;
}

void
mf__service_watch_state(struct mf__service_watch *w, struct mf_notifier *n,
                        const char *batch, enum mf_batch_state state,
                        int64_t now) {
    bool is_new;
    struct watched *e = find(w, batch, now, &is_new);
    struct mf_buf b = {0};

    if (!is_new && e->state != state) {
        mf_buf_append_str(&b, "\"state\":");
        mf_json_append_string(&b, mf_batch_state_name(state));
        mf_buf_append_str(&b, ",\"previous\":");
        mf_json_append_string(&b, mf_batch_state_name(e->state));
        mf_buf_append(&b, "", 1);
        mf_notify(n, "batch.state", batch, (const char *)b.data);
        mf_buf_free(&b);
        e->active = now;
        e->stuck_sent = false;
    }
    e->state = state;
}

void
mf__service_watch_activity(struct mf__service_watch *w, const char *batch,
                           int64_t now) {
    bool is_new;
    struct watched *e = find(w, batch, now, &is_new);

    e->active = now;
    e->stuck_sent = false;
}

void
mf__service_watch_stuck(struct mf__service_watch *w, struct mf_notifier *n,
                        int64_t now, uint32_t stuck_after_s) {
    for (size_t i = 0; stuck_after_s && i < w->n; i++) {
        struct watched *e = &w->v[i];
        char fields[160];

        if (e->stuck_sent || !mf_batch_state_running(e->state) ||
            now - e->active < (int64_t)stuck_after_s)
            continue;
        snprintf(fields, sizeof(fields),
                 "\"state\":\"%s\",\"idle_seconds\":%lld",
                 mf_batch_state_name(e->state), (long long)(now - e->active));
        mf_notify(n, "batch.stuck", e->name, fields);
        e->stuck_sent = true;
    }
}

void
mf__service_notify_mailbox(struct mf_notifier *n, const char *event,
                           const struct mf_result *r) {
    struct mf_buf b = {0};

    mf_buf_append_str(&b, "\"mailbox\":");
    mf_json_append_string(&b, r->mailbox);
    if (strcmp(event, "mailbox.failed") == 0) {
        mf_buf_appendf(&b, ",\"attempt\":%u,\"error_code\":%u,\"error_name\":",
                       r->attempt, r->error_code);
        mf_json_append_string(&b, r->error_name ? r->error_name : "");
        mf_buf_append_str(&b, ",\"error_detail\":");
        mf_json_append_string(&b, r->error_detail ? r->error_detail : "");
    } else {
        mf_buf_appendf(&b, ",\"messages_copied\":%llu,\"bytes_copied\":%llu",
                       (unsigned long long)r->counters.messages_copied,
                       (unsigned long long)r->counters.bytes_copied);
    }
    mf_buf_append(&b, "", 1);
    mf_notify(n, event, r->batch, (const char *)b.data);
    mf_buf_free(&b);
}
