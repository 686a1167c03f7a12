/*
 * Connection and mailbox leases (see mailferry/caps.h).
 *
 * Design. Each cap of an endpoint is a ZSET of lease members scored by
 * their expiry in Redis time (ms). One Lua script (lua/lease.lua) does every
 * operation atomically:
 *
 *  - acquire: drops expired members of the caps it looks at, then enters
 *    the lease in every cap of the request or in none. A cap has room when
 *    live holders + places reserved by earlier waiters < limit.
 *  - renew: moves every entry's expiry to now + TTL; if any entry is gone
 *    or already expired the lease is lost and the rest are dropped too.
 *  - release: removes the entries and wakes waiters.
 *
 * Fair waiting. A request that finds a cap full takes a ticket (INCR) and
 * a place in the endpoint's queue (ZSET by ticket), with its caps and
 * limits recorded in qinfo. Every waiter reserves one slot in each of its
 * caps for as long as it waits, and a request may only use room that is
 * not reserved by a waiter ahead of it. A newcomer counts every queued
 * waiter as ahead. So among requests that compete for a cap, slots go in
 * ticket order and nobody starves; requests on disjoint caps (another IP,
 * another user) do not block each other. The price is that a waiter held
 * up by one cap (its IP) also holds back a slot in another (the total),
 * which a later request on another IP could have used.
 *
 * No polling. A waiter blocks in BLPOP on its own list
 * mf:{c:EP}:wake:<waiter id>. Whenever room may have appeared (a release,
 * a lost lease, a cancelled or expired waiter, expired holders purged by
 * any script) the script walks the queue in ticket order with the same
 * reservation rule and pushes a token to each waiter that could now go
 * ahead (once: only if its list is empty). A woken waiter runs acquire
 * again. BLPOP also returns after wake_ms without a token: that bounds the
 * delay when room appears without any script running (a dead holder's
 * lease just expiring) and refreshes the waiter's place, which expires
 * after max(3 wake periods, 1 s) so that a dead waiter stops reserving
 * soon: well before the leases of the same dead process expire, as long
 * as wake periods are short against the lease TTL.
 * Cost per waiter: two commands per wake period while nothing changes.
 *
 * The wake and cap keys of other waiters are not among the script's KEYS;
 * they share the endpoint's hash tag and thus its Cluster slot, where
 * Redis runs such scripts.
 */
#include "caps/caps_int.h"

#include "mailferry/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mf_caps_waiter {
    struct mf__caps_keys keys;
    char id[MF__CAPS_ID_LEN + 1];
    char *wake_key; /* owned */
    char *holder;   /* owned; sanitised, may be NULL */
    long ttl_ms;
    long wake_ms;
    long wttl_ms; /* lifetime of a place in the queue */
    bool queued;  /* the last attempt left us in the queue */
    /* The lease member of an acquire that got no answer (Redis away, a
     * reply lost with the connection): the next acquire sends it again,
     * so a lease the lost reply granted is found, not taken twice. */
    char *retry_member;     /* owned; NULL after an answer */
    uint64_t attempt_ms;    /* monotonic, the last acquire attempt */
    uint64_t wait_start_ms; /* monotonic, when first found full */
    struct mf_caps_wait_stats stats;
};

struct mf_caps_lease {
    struct mf__caps_keys keys;
    char *member; /* owned: "<id>" or "<id> <holder>" */
    long ttl_ms;
    long wttl_ms;
    uint64_t confirmed_ms; /* monotonic: before the last successful send */
    uint64_t attempt_ms;   /* monotonic: last renewal attempt */
    bool retrying;         /* the last renewal could not reach Redis */
    uint64_t waited_ms;
};

static _Atomic uint64_t m_acquired, m_released, m_lost, m_waits, m_wait_ms;
_Atomic uint64_t mf__caps_bw_waits, mf__caps_bw_wait_ms;

void
mf_caps_metrics_get(struct mf_caps_metrics *m_r) {
    m_r->leases_acquired = atomic_load(&m_acquired);
    m_r->leases_released = atomic_load(&m_released);
    m_r->leases_lost = atomic_load(&m_lost);
    m_r->waits = atomic_load(&m_waits);
    m_r->wait_ms_total = atomic_load(&m_wait_ms);
    m_r->bw_waits = atomic_load(&mf__caps_bw_waits);
    m_r->bw_wait_ms_total = atomic_load(&mf__caps_bw_wait_ms);
}

uint64_t
mf_caps_now_ms(void) {
    return mf_monotonic_ms();
}

/* ===================================================== waiters */

struct mf_caps_waiter *
mf_caps_waiter_new(const struct mf_caps_spec *spec) {
    struct mf_caps_waiter *w = mf_xcalloc(1, sizeof(*w));
    struct mf_error err = {0};

    MF_ASSERT(mf_caps_spec_check(spec, &err) == MF_E_OK);
    mf__caps_keys_init(&w->keys, spec);
    mf__caps_random_id(w->id);
    w->wake_key = mf_xasprintf("%s%s", w->keys.wake_prefix, w->id);
    if (spec->holder && spec->holder[0]) {
        /* Printable and short: it is only there for people reading
         * ZRANGE output. */
        w->holder = mf_xstrndup(spec->holder, 64);
        for (char *p = w->holder; *p; p++)
            if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
                *p = '_';
    }
    w->ttl_ms = spec->ttl_ms ? spec->ttl_ms : MF_CAPS_DEFAULT_TTL_MS;
    w->wake_ms = spec->wake_ms ? spec->wake_ms : MF_CAPS_DEFAULT_WAKE_MS;
    w->wttl_ms = 3 * w->wake_ms > 1000 ? 3 * w->wake_ms : 1000;
    return w;
}

void
mf_caps_waiter_free(struct mf_caps_waiter **wp) {
    struct mf_caps_waiter *w = *wp;

    if (!w)
        return;
    mf__caps_keys_fini(&w->keys);
    free(w->wake_key);
    free(w->holder);
    free(w->retry_member);
    free(w);
    *wp = NULL;
}

const struct mf_caps_wait_stats *
mf_caps_waiter_stats(const struct mf_caps_waiter *w) {
    return &w->stats;
}

/* KEYS and ARGV shared by every operation of the lease script. */
struct call {
    const char *keys[4 + MF__CAPS_MAX_CAPS];
    const char *args[7 + MF__CAPS_MAX_CAPS];
    char ttl[24], wttl[24], limit[MF__CAPS_MAX_CAPS][16];
    int nkeys, nargs;
};

static void
call_init(struct call *c, const struct mf__caps_keys *k, const char *op,
          const char *member, long ttl_ms, const char *waiter_id,
          long wttl_ms) {
    snprintf(c->ttl, sizeof(c->ttl), "%ld", ttl_ms);
    snprintf(c->wttl, sizeof(c->wttl), "%ld", wttl_ms);
    c->keys[0] = k->q, c->keys[1] = k->qexp, c->keys[2] = k->qinfo;
    c->keys[3] = k->qseq;
    c->args[0] = op, c->args[1] = member ? member : "";
    c->args[2] = c->ttl, c->args[3] = waiter_id ? waiter_id : "";
    c->args[4] = "", c->args[5] = c->wttl, c->args[6] = k->wake_prefix;
    for (size_t i = 0; i < k->ncaps; i++) {
        snprintf(c->limit[i], sizeof(c->limit[i]), "%u", k->limit[i]);
        c->keys[4 + i] = k->cap[i];
        c->args[7 + i] = c->limit[i];
    }
    c->nkeys = 4 + (int)k->ncaps;
    c->nargs = 7 + (int)k->ncaps;
}

static mf_err
call_run(struct mf_redis *r, struct call *c, redisReply **reply_r,
         struct mf_error *err) {
    return mf__caps_script_run(r, mf__caps_lease_script, c->nkeys, c->keys,
                               c->nargs, c->args, reply_r, err);
}

static mf_err
bad_reply(redisReply *reply, const char *op, struct mf_error *err) {
    freeReplyObject(reply);
    return mf_error_set(err, MF_E_REDIS, "caps: unexpected reply to %s", op);
}

mf_err
mf_caps_acquire(struct mf_redis *r, struct mf_caps_waiter *w,
                struct mf_caps_lease **lease_r, enum mf_caps_cap *full_r,
                struct mf_error *err) {
    char id[MF__CAPS_ID_LEN + 1], *member;
    struct call c;
    redisReply *reply = NULL;
    long long ok, v;
    uint64_t sent;
    mf_err rc;

    if (w->retry_member) {
        member = w->retry_member;
        w->retry_member = NULL;
    } else {
        mf__caps_random_id(id);
        member =
            w->holder ? mf_xasprintf("%s %s", id, w->holder) : mf_xstrdup(id);
    }
    call_init(&c, &w->keys, "acquire", member, w->ttl_ms, w->id, w->wttl_ms);
    sent = mf_caps_now_ms();
    w->attempt_ms = sent;
    w->stats.attempts++;
    if ((rc = call_run(r, &c, &reply, err)) != MF_E_OK) {
        w->retry_member = member;
        return rc;
    }
    if (!mf__caps_reply_int(reply, 0, &ok) ||
        !mf__caps_reply_int(reply, 1, &v)) {
        free(member);
        return bad_reply(reply, "acquire", err);
    }
    freeReplyObject(reply);
    if (!ok) {
        enum mf_caps_cap full = MF_CAPS_CAP_TOTAL;
        if (v >= 1 && (size_t)v <= w->keys.ncaps)
            full = w->keys.which[v - 1];
        free(member);
        if (!w->queued) {
            w->queued = true;
            w->wait_start_ms = sent;
        }
        w->stats.last_full = full;
        *lease_r = NULL;
        *full_r = full;
        return MF_E_OK;
    }

    struct mf_caps_lease *l = mf_xcalloc(1, sizeof(*l));
    mf__caps_keys_copy(&l->keys, &w->keys);
    l->member = member;
    l->ttl_ms = w->ttl_ms;
    l->wttl_ms = w->wttl_ms;
    l->confirmed_ms = sent;
    l->attempt_ms = sent;
    if (w->queued) {
        uint64_t now = mf_caps_now_ms();
        l->waited_ms = now - w->wait_start_ms;
        w->stats.waited_ms += l->waited_ms;
        atomic_fetch_add(&m_waits, 1);
        atomic_fetch_add(&m_wait_ms, l->waited_ms);
        w->queued = false;
    }
    w->stats.leases++;
    atomic_fetch_add(&m_acquired, 1);
    *lease_r = l;
    *full_r = MF_CAPS_CAP_NONE;
    return MF_E_OK;
}

/* Blocks in BLPOP on the waiter's wake list for up to ms. */
static mf_err
sleep_on_wake(struct mf_redis *r, struct mf_caps_waiter *w, long ms,
              struct mf_error *err) {
    const char *argv[3];
    size_t argvlen[3];
    char secs[32];
    redisReply *reply = NULL;
    mf_err rc;

    /* BLPOP takes seconds with decimals (Redis >= 6); 0 would mean
     * forever, so the caller never passes less than 1 ms. */
    snprintf(secs, sizeof(secs), "%ld.%03ld", ms / 1000, ms % 1000);
    argv[0] = "BLPOP", argv[1] = w->wake_key, argv[2] = secs;
    for (int i = 0; i < 3; i++)
        argvlen[i] = strlen(argv[i]);
    if ((rc = mf_redis_command_argv(r, 3, argv, argvlen, &reply, err)))
        return rc;
    if (reply->type == REDIS_REPLY_NIL)
        w->stats.timeouts++;
    else
        w->stats.wakeups++;
    freeReplyObject(reply);
    return MF_E_OK;
}

mf_err
mf_caps_wait(struct mf_redis *r, struct mf_caps_waiter *w, long timeout_ms,
             struct mf_caps_lease **lease_r, struct mf_error *err) {
    uint64_t start = mf_caps_now_ms();
    enum mf_caps_cap full;
    mf_err rc;

    /* Just told "full" by mf_caps_acquire(): our place is fresh and any
     * room made since then has pushed a wake-up, so block first. */
    bool sleep_first =
        w->queued && start - w->attempt_ms < (uint64_t)w->wake_ms;

    full = w->stats.last_full;
    for (;;) {
        struct mf_caps_lease *l = NULL;
        long slice = w->wake_ms;

        if (!sleep_first) {
            if ((rc = mf_caps_acquire(r, w, &l, &full, err)) != MF_E_OK)
                return rc;
            if (l) {
                *lease_r = l;
                return MF_E_OK;
            }
        }
        sleep_first = false;
        if (timeout_ms >= 0) {
            long left = timeout_ms - (long)(mf_caps_now_ms() - start);
            if (left < 1)
                return mf_error_set(err, MF_E_TIMEOUT,
                                    "caps: no %s slot within %ld ms",
                                    mf_caps_cap_name(full), timeout_ms);
            if (left < slice)
                slice = left;
        }
        rc = sleep_on_wake(r, w, slice, err);
        /* A dropped connection: the next acquire reconnects (and reports
         * if Redis is still away). */
        if (rc != MF_E_OK && rc != MF_E_REDIS_UNAVAILABLE)
            return rc;
    }
}

mf_err
mf_caps_cancel(struct mf_redis *r, struct mf_caps_waiter *w,
               struct mf_error *err) {
    struct call c;
    redisReply *reply = NULL;
    mf_err rc;

    if (!w->queued)
        return MF_E_OK;
    call_init(&c, &w->keys, "cancel", NULL, w->ttl_ms, w->id, w->wttl_ms);
    if ((rc = call_run(r, &c, &reply, err)) != MF_E_OK)
        return rc;
    freeReplyObject(reply);
    w->queued = false;
    return MF_E_OK;
}

/* ====================================================== leases */

mf_err
mf_caps_renew(struct mf_redis *r, struct mf_caps_lease *l,
              struct mf_error *err) {
    struct call c;
    redisReply *reply = NULL;
    long long ok, v;
    uint64_t sent = mf_caps_now_ms();
    mf_err rc;

    l->attempt_ms = sent;
    call_init(&c, &l->keys, "renew", l->member, l->ttl_ms, NULL, l->wttl_ms);
    if ((rc = call_run(r, &c, &reply, err)) != MF_E_OK) {
        l->retrying = true;
        return rc;
    }
    if (!mf__caps_reply_int(reply, 0, &ok) ||
        !mf__caps_reply_int(reply, 1, &v)) {
        l->retrying = true;
        return bad_reply(reply, "renew", err);
    }
    freeReplyObject(reply);
    if (!ok) {
        const char *cap = "?";
        if (v >= 1 && (size_t)v <= l->keys.ncaps)
            cap = mf_caps_cap_name(l->keys.which[v - 1]);
        atomic_fetch_add(&m_lost, 1);
        /* Nothing left to renew: expired() turns true at once. */
        l->confirmed_ms = 0;
        l->ttl_ms = 0;
        return mf_error_set(err, MF_E_LEASE_LOST,
                            "caps: lease %.40s gone from the %s cap", l->member,
                            cap);
    }
    l->confirmed_ms = sent;
    l->retrying = false;
    return MF_E_OK;
}

mf_err
mf_caps_release(struct mf_redis *r, struct mf_caps_lease **lp,
                struct mf_error *err) {
    struct mf_caps_lease *l = *lp;
    struct call c;
    redisReply *reply = NULL;
    mf_err rc;

    if (!l)
        return MF_E_OK;
    call_init(&c, &l->keys, "release", l->member, l->ttl_ms, NULL, l->wttl_ms);
    rc = call_run(r, &c, &reply, err);
    if (rc == MF_E_OK) {
        freeReplyObject(reply);
        atomic_fetch_add(&m_released, 1);
    }
    mf_caps_lease_free(lp);
    return rc;
}

void
mf_caps_lease_free(struct mf_caps_lease **lp) {
    struct mf_caps_lease *l = *lp;

    if (!l)
        return;
    mf__caps_keys_fini(&l->keys);
    free(l->member);
    free(l);
    *lp = NULL;
}

/* A failed renewal is retried this often until the deadline. */
#define RETRY_MS 500

bool
mf_caps_lease_due(const struct mf_caps_lease *l, uint64_t now_ms) {
    return mf_caps_lease_next_ms(l, now_ms) == 0;
}

long
mf_caps_lease_next_ms(const struct mf_caps_lease *l, uint64_t now_ms) {
    uint64_t at = l->confirmed_ms + (uint64_t)l->ttl_ms / 3;

    if (l->retrying && l->attempt_ms + RETRY_MS < at)
        at = l->attempt_ms + RETRY_MS;
    return at > now_ms ? (long)(at - now_ms) : 0;
}

bool
mf_caps_lease_expired(const struct mf_caps_lease *l, uint64_t now_ms) {
    return now_ms >= l->confirmed_ms + (uint64_t)l->ttl_ms;
}

const char *
mf_caps_lease_id(const struct mf_caps_lease *l) {
    return l->member;
}

uint64_t
mf_caps_lease_waited_ms(const struct mf_caps_lease *l) {
    return l->waited_ms;
}

/* ======================================================= usage */

mf_err
mf_caps_usage_get(struct mf_redis *r, const char *endpoint,
                  struct mf_caps_usage *usage_r, struct mf_error *err) {
    struct mf_caps_spec spec = {.endpoint = endpoint,
                                .kind = MF_CAPS_CONNECTION};
    struct mf__caps_keys k;
    struct call c;
    redisReply *reply = NULL;
    long long a, b, q;
    char *mbox;
    mf_err rc;

    if ((rc = mf_caps_spec_check(&spec, err)) != MF_E_OK)
        return rc;
    mf__caps_keys_init(&k, &spec);
    /* Second cap slot: the mailbox cap (limits are not looked at). */
    mbox = mf__caps_key(endpoint, "cap:mailboxes");
    k.cap[1] = mbox;
    k.limit[1] = 0;
    k.ncaps = 2;
    /* usage holds no lease and queues no waiter: no lifetimes to pass */
    call_init(&c, &k, "usage", NULL, 0, NULL, 0);
    rc = call_run(r, &c, &reply, err);
    mf__caps_keys_fini(&k);
    if (rc != MF_E_OK)
        return rc;
    if (!mf__caps_reply_int(reply, 0, &a) ||
        !mf__caps_reply_int(reply, 1, &b) || !mf__caps_reply_int(reply, 2, &q))
        return bad_reply(reply, "usage", err);
    freeReplyObject(reply);
    usage_r->connections = (unsigned)a;
    usage_r->mailboxes = (unsigned)b;
    usage_r->waiters = (unsigned)q;
    return MF_E_OK;
}
