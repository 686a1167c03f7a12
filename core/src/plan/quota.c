/*
 * The target's quota in the plan: does what the plan would copy fit?
 *
 * RFC 9208 (IMAP QUOTA), section 4.1.2 (GETQUOTAROOT): "The GETQUOTAROOT
 * command takes the name of a mailbox and returns the list of quota roots
 * for the mailbox in an untagged QUOTAROOT response. For each listed
 * quota root, it also returns the quota root's resource usage and limits
 * in an untagged QUOTA response."
 *
 * Section 7.1 (QUOTA response): "quota_response = "QUOTA" SP quota-root-
 * name SP quota-list", quota-list = "(" quota-resource *(SP
 * quota-resource) ")", quota-resource = resource-name SP resource-usage
 * SP resource-limit.
 *
 * Section 5.1: "STORAGE: the physical space estimate, in units of 1024
 * octets"; 5.2: "MESSAGE: the number of messages stored".
 *
 * A mailbox can sit under several roots (user and domain quotas); each
 * limits on its own, so the tightest one (least room left) is kept. The
 * plan asks about INBOX: on the servers mailferry targets the user's
 * quota root covers every folder of the user.
 */
#include "plan/plan_int.h"

#include "mailferry/util.h"

#include <string.h>
#include <strings.h>

static uint64_t
room(uint64_t used, uint64_t limit) {
    return used < limit ? limit - used : 0;
}

bool
mf__plan_quota_parse(const struct mf_imap_response *r,
                     struct mf_plan_quota *q) {
    const struct mf_imap_arg *items;
    size_t n;

    if (r->kind != MF_IMAP_RESP_UNTAGGED || !r->keyword ||
        strcasecmp(r->keyword, "QUOTA") != 0 || r->nargs < 2 ||
        !mf_imap_arg_as_list(&r->args[1], &items, &n))
        return false;
    for (size_t i = 0; i + 3 <= n; i += 3) {
        const char *name;
        uint64_t used, limit;

        if (!mf_imap_arg_as_astring(&items[i], &name) ||
            !mf_imap_arg_as_u64(&items[i + 1], &used) ||
            !mf_imap_arg_as_u64(&items[i + 2], &limit))
            return false;
        if (strcasecmp(name, "STORAGE") == 0) {
            used *= 1024;
            limit *= 1024;
            if (!q->has_storage ||
                room(used, limit) < room(q->storage_used, q->storage_limit)) {
                q->storage_used = used;
                q->storage_limit = limit;
            }
            q->has_storage = true;
        } else if (strcasecmp(name, "MESSAGE") == 0) {
            if (!q->has_messages ||
                room(used, limit) < room(q->messages_used, q->messages_limit)) {
                q->messages_used = used;
                q->messages_limit = limit;
            }
            q->has_messages = true;
        }
    }
    q->checked = true;
    return true;
}

void
mf__plan_quota_fit(struct mf_plan_quota *q, const struct mf_plan_counts *copy) {
    uint64_t left;

    q->bytes_short = q->messages_short = 0;
    if (q->has_storage) {
        left = room(q->storage_used, q->storage_limit);
        if (copy->bytes > left)
            q->bytes_short = copy->bytes - left;
    }
    if (q->has_messages) {
        left = room(q->messages_used, q->messages_limit);
        if (copy->messages > left)
            q->messages_short = copy->messages - left;
    }
}

/* ------------------------------------------------------------------ */
/* GETQUOTAROOT INBOX                                                  */
/* ------------------------------------------------------------------ */

struct quota_read {
    struct mf_plan_quota *q;
    struct mf_error error;
};

static mf_err
on_quota(void *ud, const struct mf_imap_response *r) {
    struct quota_read *qr = ud;

    (void)mf__plan_quota_parse(r, qr->q);
    return MF_E_OK;
}

static void
quota_done(void *ud, const struct mf_imap_result *res) {
    struct quota_read *qr = ud;

    qr->error = res->error;
}

void
mf__plan_quota_read(struct mf_imap_session *s, struct mf_plan_mailbox *res) {
    struct quota_read qr = {.q = &res->quota};
    struct mf_imap_cmd_spec c = {0};
    struct mf_imap_untagged_prev prev_quota;
    mf_err rc;

    if (!mf_imap_session_has(s, MF_IMAP_CAP_QUOTA))
        return;
    mf_imap_session_push_untagged(s, "QUOTA", on_quota, &qr, &prev_quota);
    mf_imap_cmd_text(&c, "GETQUOTAROOT INBOX");
    rc = mf_imap_session_submit(s, &c, quota_done, &qr, NULL);
    mf_imap_cmd_clear(&c);
    if (rc == MF_E_OK)
        rc = mf_imap_session_run(s, -1);
    mf_imap_session_pop_untagged(s, &prev_quota);
    if (rc != MF_E_OK && qr.error.code == MF_E_OK) {
        qr.error = *mf_imap_session_error(s);
        if (qr.error.code == MF_E_OK)
            mf_error_set(&qr.error, rc, "%s", mf_strerror(rc));
    }
    if (qr.error.code != MF_E_OK) {
        res->quota.checked = false;
        mf_error_set(&res->quota.error, qr.error.code, "GETQUOTAROOT: %.200s",
                     qr.error.detail);
    }
}
