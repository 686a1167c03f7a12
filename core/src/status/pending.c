/*
 * What is next for a mailbox, and the --state filter (status_int.h).
 *
 * The rule reads only the mailbox's record and its batch's: the state,
 * the current job's attempt, the last error's code and the batch's
 * incremental schedule. A mailbox "waits" when something outside
 * mailferry holds it: the target's quota (OVERQUOTA: the admin must make
 * room, a retry alone fails again) or a server that throttles or refuses
 * more sessions (THROTTLED, TOO_MANY_CONNECTIONS: it passes with time),
 * or, while its job runs, a user's daily bandwidth quota (Gmail's: the
 * job waits for the next window, mf_batch_mailbox_wait()).
 * Each case names the command that moves it on, so an admin reading one
 * line knows what to type.
 */
#include "status/status_int.h"

#include "mailferry/util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *
mf__status_next_name(enum mf__status_next n) {
    switch (n) {
    case MF__STATUS_NEXT_NONE:
        return "none";
    case MF__STATUS_NEXT_RUNNING:
        return "running";
    case MF__STATUS_NEXT_QUEUED:
        return "queued";
    case MF__STATUS_NEXT_RETRY:
        return "retry";
    case MF__STATUS_NEXT_QUOTA:
        return "waiting_quota";
    case MF__STATUS_NEXT_THROTTLE:
        return "waiting_throttle";
    case MF__STATUS_NEXT_BANDWIDTH:
        return "waiting_bandwidth";
    case MF__STATUS_NEXT_SCHEDULED:
        return "scheduled";
    case MF__STATUS_NEXT_SYNC:
        return "sync";
    case MF__STATUS_NEXT_RESUME:
        return "resume";
    case MF__STATUS_NEXT_FIX:
        return "fix";
    case MF__STATUS_NEXT_COUNT:
        break;
    }
    return "unknown";
}

static bool
throttle_code(int code) {
    return code == MF_E_THROTTLED || code == MF_E_TOO_MANY_CONNECTIONS;
}

static const char *
error_name(const struct mf_batch_mailbox *mb) {
    return mb->error_name[0] ? mb->error_name : mf_err_name(mb->error_code);
}

static void
queued(const struct mf_batch_config *cfg, const struct mf_batch_mailbox *mb,
       struct mf__status_pending *p) {
    uint32_t max =
        cfg->max_attempts ? cfg->max_attempts : MF_BATCH_DEFAULT_ATTEMPTS;

    if (mb->attempt <= 1 || !mb->error_code) {
        p->next = MF__STATUS_NEXT_QUEUED;
        snprintf(p->text, sizeof(p->text),
                 "pass %llu (%s) queued, waiting for a worker",
                 (unsigned long long)mb->pass, mf_job_kind_name(mb->kind));
        return;
    }
    p->next = throttle_code(mb->error_code) ? MF__STATUS_NEXT_THROTTLE
                                            : MF__STATUS_NEXT_RETRY;
    p->waiting = p->next == MF__STATUS_NEXT_THROTTLE;
    snprintf(p->text, sizeof(p->text),
             "attempt %u of %u queued again after %s%s, waiting for a "
             "worker",
             mb->attempt, max, error_name(mb),
             p->waiting ? " (the server asked to slow down)" : "");
}

static void
running(const struct mf_batch_mailbox *mb, struct mf__status_pending *p) {
    uint64_t left = mb->messages_total > mb->messages_done
                        ? mb->messages_total - mb->messages_done
                        : 0;

    if (mb->wait_until) {
        /* Its job holds on until the quota's next window, then goes on
         * where it stopped (core/src/migrate/quota.c). */
        p->next = MF__STATUS_NEXT_BANDWIDTH;
        p->waiting = true;
        p->at = mb->wait_until;
        snprintf(p->text, sizeof(p->text),
                 "Waiting until the time below, then it goes on where it "
                 "stopped by itself: %.400s",
                 mb->wait_why[0] ? mb->wait_why : "a daily bandwidth quota");
        return;
    }
    p->next = MF__STATUS_NEXT_RUNNING;
    /* Blocked on a cap (mailferry's own, fleet-wide): not "waiting" in
     * the --state sense, it goes on by itself when a slot frees up. */
    if (mb->conns.waiting != MF_MIGRATE_WAIT_NONE) {
        char w[128];
        mf_progress_wait_text(&mb->conns, w, sizeof(w));
        snprintf(p->text, sizeof(p->text),
                 "pass %llu (%s), attempt %u: %s, holding %u source and %u "
                 "target connections; it goes on when one is released",
                 (unsigned long long)mb->pass, mf_job_kind_name(mb->kind),
                 mb->attempt, w, mb->conns.source_held, mb->conns.target_held);
        return;
    }
    if (!mb->folders_total && !mb->messages_total)
        snprintf(p->text, sizeof(p->text),
                 "pass %llu (%s), attempt %u: started, nothing listed yet",
                 (unsigned long long)mb->pass, mf_job_kind_name(mb->kind),
                 mb->attempt);
    else
        snprintf(p->text, sizeof(p->text),
                 "pass %llu (%s), attempt %u: %llu messages and %u folders "
                 "left%s",
                 (unsigned long long)mb->pass, mf_job_kind_name(mb->kind),
                 mb->attempt, (unsigned long long)left,
                 mb->folders_total > mb->folders_done
                     ? mb->folders_total - mb->folders_done
                     : 0,
                 mb->folders_done + 1 < mb->folders_total ? " (still listing)"
                                                          : "");
}

static void
synced(const struct mf_batch_config *cfg, const struct mf_batch_mailbox *mb,
       struct mf__status_pending *p) {
    char again[96] = "";
    int64_t last =
        cfg->last_pass_finished ? cfg->last_pass_finished : cfg->finished;

    if (mb->stats.failed)
        snprintf(again, sizeof(again), "; %llu failed messages are tried again",
                 (unsigned long long)mb->stats.failed);
    if (cfg->incremental_every) {
        p->next = MF__STATUS_NEXT_SCHEDULED;
        /* serve schedules a batch's next pass once every mailbox of the
         * last one settled: only then is the time known. */
        p->at = mf_batch_state_running(cfg->state) || !last
                    ? 0
                    : last + (int64_t)cfg->incremental_every;
        snprintf(p->text, sizeof(p->text),
                 "next incremental pass %s (every %llus, run by `mailferry "
                 "serve`)%s",
                 p->at ? "due at the time below"
                       : "when the batch's current pass ends",
                 (unsigned long long)cfg->incremental_every, again);
        return;
    }
    p->next = MF__STATUS_NEXT_SYNC;
    snprintf(p->text, sizeof(p->text),
             "next pass when asked: `mailferry batch sync %s` (new mail) or "
             "`batch complete %s` (the final pass)%s",
             cfg->name, cfg->name, again);
}

static void
failed(const struct mf_batch_config *cfg, const struct mf_batch_mailbox *mb,
       struct mf__status_pending *p) {
    const char *fix;

    if (mb->error_code == MF_E_OVERQUOTA) {
        p->next = MF__STATUS_NEXT_QUOTA;
        fix = "the target mailbox is over quota: raise its quota or make "
              "room, then";
    } else if (throttle_code(mb->error_code)) {
        p->next = MF__STATUS_NEXT_THROTTLE;
        fix = "the server throttled it past its attempts: when it allows "
              "more,";
    } else if (mb->error_code == MF_E_AUTH ||
               mb->error_code == MF_E_OAUTH_DENIED ||
               mb->error_code == MF_E_OAUTH_SASL_REFUSED) {
        p->next = MF__STATUS_NEXT_FIX;
        snprintf(p->text, sizeof(p->text),
                 "the login failed: `mailferry batch update %s --csv F` with "
                 "the new password retries it at once",
                 cfg->name);
        return;
    } else {
        p->next = MF__STATUS_NEXT_FIX;
        fix = "failed: after fixing the cause,";
    }
    p->waiting = p->next != MF__STATUS_NEXT_FIX;
    snprintf(p->text, sizeof(p->text),
             "%s `mailferry batch retry %s --mailbox %s` runs it again", fix,
             cfg->name, mb->cfg.email);
}

void
mf__status_pending(const struct mf_batch_config *cfg,
                   const struct mf_batch_mailbox *mb,
                   struct mf__status_pending *p) {
    memset(p, 0, sizeof(*p));
    switch (mb->state) {
    case MF_MAILBOX_QUEUED:
        queued(cfg, mb, p);
        break;
    case MF_MAILBOX_SYNCING:
    case MF_MAILBOX_INCREMENTAL_SYNCING:
        running(mb, p);
        break;
    case MF_MAILBOX_SYNCED:
        synced(cfg, mb, p);
        break;
    case MF_MAILBOX_STOPPED:
        p->next = MF__STATUS_NEXT_RESUME;
        snprintf(p->text, sizeof(p->text),
                 "stopped: `mailferry batch start %s --mailbox %s` resumes "
                 "it where it stopped",
                 cfg->name, mb->cfg.email);
        break;
    case MF_MAILBOX_FAILED:
        failed(cfg, mb, p);
        break;
    case MF_MAILBOX_COMPLETED:
    case MF_MAILBOX_STATE_COUNT:
        p->next = MF__STATUS_NEXT_NONE;
        snprintf(p->text, sizeof(p->text), "nothing: completed");
        break;
    }
}

/* ------------------------------------------------------------------ */
/* The --state filter                                                 */
/* ------------------------------------------------------------------ */

#define BIT(s) (UINT32_C(1) << (s))

static const struct {
    const char *word;
    uint32_t states;
} groups[] = {
    {"running", BIT(MF_MAILBOX_SYNCING) | BIT(MF_MAILBOX_INCREMENTAL_SYNCING)},
    {"pending", BIT(MF_MAILBOX_QUEUED)},
    {"done", BIT(MF_MAILBOX_SYNCED) | BIT(MF_MAILBOX_COMPLETED)},
};

static bool
word(char *w, struct mf__status_filter *f) {
    size_t len;

    /* "failed, waiting" as well as "failed,waiting". */
    while (*w == ' ')
        w++;
    len = strlen(w);
    while (len && w[len - 1] == ' ')
        w[--len] = '\0';
    if (!strcasecmp(w, "waiting")) {
        f->waiting = true;
        return true;
    }
    for (size_t i = 0; i < MF_ARRAY_LEN(groups); i++)
        if (!strcasecmp(w, groups[i].word)) {
            f->states |= groups[i].states;
            return true;
        }
    for (int s = 0; s < MF_MAILBOX_STATE_COUNT; s++)
        if (!strcasecmp(w, mf_mailbox_state_name((enum mf_mailbox_state)s))) {
            f->states |= BIT(s);
            return true;
        }
    return false;
}

bool
mf__status_filter_parse(const char *list, struct mf__status_filter *f,
                        struct mf_error *err) {
    size_t n = 0;
    char **v = mf_strv_split(list, &n);
    bool ok = n > 0;

    memset(f, 0, sizeof(*f));
    for (size_t i = 0; ok && i < n; i++)
        if (!word(v[i], f)) {
            mf_error_set(err, MF_E_USAGE,
                         "--state: \"%s\" is not a mailbox state (Queued, "
                         "Syncing, Synced, IncrementalSyncing, Stopped, "
                         "Failed, Completed) nor running, pending, waiting "
                         "or done",
                         v[i]);
            ok = false;
        }
    if (!n)
        mf_error_set(err, MF_E_USAGE, "--state: give a state or a group");
    mf_strv_free(v, n);
    return ok;
}

bool
mf__status_filter_match(const struct mf__status_filter *f,
                        const struct mf_batch_mailbox *mb,
                        const struct mf__status_pending *p) {
    if ((int)mb->state < MF_MAILBOX_STATE_COUNT && (f->states & BIT(mb->state)))
        return true;
    return f->waiting && p->waiting;
}
