/*
 * Fleet-wide connection caps and bandwidth caps in Redis (docs/design.md §7).
 *
 * Connection caps. A source (or target) server limits connections in
 * total, per login name and per client IP; mailferry also limits how many
 * mailboxes run at once. Every worker on every host shares these limits
 * through Redis: an IMAP connection is opened only while holding a *lease*
 * in every cap that applies, a mailbox is started only with a lease in the
 * endpoint's mailbox cap.
 *
 *   endpoint   a string naming one server and role, e.g.
 *              "src:imap.example.com:993" (no '{', '}' or control bytes)
 *   cap        a ZSET of lease ids scored by expiry (Redis TIME, ms)
 *   lease      one id entered in every cap of a request, all or none,
 *              by one Lua script; renewed about every TTL/3; expires by
 *              itself when its holder dies, so the slots come back
 *   waiter     a place in the endpoint's FIFO queue; see core/src/caps/
 *              lease.c for how queueing and wake-ups work (no polling,
 *              no starvation)
 *
 * Time is always Redis' TIME inside the scripts; worker clocks only
 * schedule renewals and the local deadline after which a worker that could
 * not renew must close the connection (mf_caps_lease_expired()).
 *
 * Redis unreachable: every call returns MF_E_REDIS_UNAVAILABLE and no
 * lease is handed out; the caller pauses and calls again (the client
 * reconnects). Nothing here opens or closes IMAP connections.
 *
 * Threads: a waiter, a lease and a struct mf_redis belong to one thread at
 * a time. The process-wide counters (mf_caps_metrics_get) are atomic.
 */
#ifndef MAILFERRY_CAPS_H
#define MAILFERRY_CAPS_H

#include "mailferry/err.h"
#include "mailferry/redis.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_CAPS_ENDPOINT_MAX 200     /* bytes of an endpoint id */
#define MF_CAPS_NAME_MAX 256         /* bytes of a user name or IP */
#define MF_CAPS_DEFAULT_TTL_MS 30000 /* lease lifetime without renewal */
#define MF_CAPS_DEFAULT_WAKE_MS 2000 /* longest single blocking wait */

/* Limits of one endpoint; 0 means unlimited. */
struct mf_caps_limits {
    unsigned max_connections;          /* whole fleet */
    unsigned max_connections_per_user; /* per login name */
    unsigned max_connections_per_ip;   /* per worker egress IP */
    unsigned max_concurrent_mailboxes; /* mailboxes in progress */
};

/* What a lease is for. */
enum mf_caps_kind {
    MF_CAPS_CONNECTION, /* caps: total, per user, per IP */
    MF_CAPS_MAILBOX,    /* cap: concurrent mailboxes */
};

/* Which cap was full. */
enum mf_caps_cap {
    MF_CAPS_CAP_NONE,
    MF_CAPS_CAP_TOTAL,
    MF_CAPS_CAP_USER,
    MF_CAPS_CAP_IP,
    MF_CAPS_CAP_MAILBOXES,
};
/* "total", "user", "ip", "mailboxes" or "none". */
const char *mf_caps_cap_name(enum mf_caps_cap cap);

/* A request for leases; all strings are borrowed by mf_caps_waiter_new()
 * and copied. */
struct mf_caps_spec {
    const char *endpoint;
    enum mf_caps_kind kind;
    const char *user; /* login name (connection; NULL if no per-user cap) */
    const char *ip;   /* egress IP (connection; NULL if no per-IP cap) */
    struct mf_caps_limits limits;
    long ttl_ms;        /* lease TTL; 0: MF_CAPS_DEFAULT_TTL_MS */
    long wake_ms;       /* longest BLPOP in mf_caps_wait(); 0: the default.
                         * Must stay below the Redis client's command
                         * timeout. */
    const char *holder; /* shown next to the lease id in Redis, e.g.
                         * "host-a/1234"; may be NULL */
};

/* Waiting time and effort of one waiter (cumulative over its leases). */
struct mf_caps_wait_stats {
    uint64_t waited_ms;         /* from the first "full" to the lease */
    uint64_t attempts;          /* acquire scripts run */
    uint64_t wakeups;           /* wake-ups received from a release */
    uint64_t timeouts;          /* blocking waits that ended without wake-up */
    uint64_t leases;            /* leases obtained */
    enum mf_caps_cap last_full; /* the cap that was full last */
};

/* Process-wide counters for metrics (all atomic, monotonic). */
struct mf_caps_metrics {
    uint64_t leases_acquired;
    uint64_t leases_released;
    uint64_t leases_lost;
    uint64_t waits;         /* acquisitions that had to wait */
    uint64_t wait_ms_total; /* summed waiting time of those */
    uint64_t bw_waits;      /* bandwidth takes that asked to wait */
    uint64_t bw_wait_ms_total;
};
void mf_caps_metrics_get(struct mf_caps_metrics *m_r);

struct mf_caps_waiter;
struct mf_caps_lease;

/* Checks the spec (endpoint syntax, lengths, a user when a per-user cap is
 * set, an IP when a per-IP cap is set). MF_E_CONFIG with a reason. */
MF_WARN_UNUSED mf_err mf_caps_spec_check(const struct mf_caps_spec *spec,
                                         struct mf_error *err);

/* A new waiter for leases of spec (copied). Asserts that the spec passes
 * mf_caps_spec_check(). One waiter hands out one lease at a time and may
 * be reused for the next one. */
struct mf_caps_waiter *mf_caps_waiter_new(const struct mf_caps_spec *spec);
/* Frees the waiter without talking to Redis: if it was queued, its place
 * expires by itself within a few wake periods; call mf_caps_cancel()
 * first to leave the line at once. */
void mf_caps_waiter_free(struct mf_caps_waiter **w);
const struct mf_caps_wait_stats *
mf_caps_waiter_stats(const struct mf_caps_waiter *w);

/* One attempt (one script run). On MF_E_OK either *lease_r is a new lease
 * (owned by the caller; *full_r is MF_CAPS_CAP_NONE) or *lease_r is NULL,
 * *full_r names a cap that is full and the waiter holds a place in the
 * endpoint's queue, which it keeps by trying again (mf_caps_wait) within
 * a few wake periods. MF_E_REDIS_UNAVAILABLE / MF_E_REDIS: no lease is
 * returned, but a lost reply may hide one that was granted: the next
 * acquire on this waiter asks with the same lease member and gets that
 * lease (counted once) instead of a second one. */
MF_WARN_UNUSED mf_err mf_caps_acquire(struct mf_redis *r,
                                      struct mf_caps_waiter *w,
                                      struct mf_caps_lease **lease_r,
                                      enum mf_caps_cap *full_r,
                                      struct mf_error *err);

/* Acquires a lease, waiting in line as long as needed but at most
 * timeout_ms (< 0: no limit). Between attempts it blocks in Redis (BLPOP)
 * until a release makes this waiter eligible or wake_ms passes. Returns
 * MF_E_OK with *lease_r, MF_E_TIMEOUT (still queued: call again, or
 * mf_caps_cancel), or a Redis error (still queued for a while: pause and
 * call again). */
MF_WARN_UNUSED mf_err mf_caps_wait(struct mf_redis *r, struct mf_caps_waiter *w,
                                   long timeout_ms,
                                   struct mf_caps_lease **lease_r,
                                   struct mf_error *err);

/* Leaves the queue (no-op if not queued). */
MF_WARN_UNUSED mf_err mf_caps_cancel(struct mf_redis *r,
                                     struct mf_caps_waiter *w,
                                     struct mf_error *err);

/* Extends every cap entry of the lease by its TTL (Redis time). Returns
 * MF_E_LEASE_LOST if any entry is gone or expired (the rest are dropped
 * too; the caller must close the connection at once), a Redis error if
 * Redis could not be asked (keep the connection only until
 * mf_caps_lease_expired(), retrying meanwhile). */
MF_WARN_UNUSED mf_err mf_caps_renew(struct mf_redis *r, struct mf_caps_lease *l,
                                    struct mf_error *err);

/* Removes the lease from every cap and wakes waiters that may now go
 * ahead; frees *l and sets it to NULL whatever happens (if Redis is
 * unreachable the entries expire by their TTL). */
mf_err mf_caps_release(struct mf_redis *r, struct mf_caps_lease **l,
                       struct mf_error *err);
/* Frees the handle without telling Redis (after MF_E_LEASE_LOST, or in
 * tests that simulate a dead worker). */
void mf_caps_lease_free(struct mf_caps_lease **l);

/* CLOCK_MONOTONIC in ms: the clock of the scheduling calls below. */
uint64_t mf_caps_now_ms(void);
/* True when the lease should be renewed (a third of its TTL has passed
 * since it was last confirmed, or a failed renewal should be retried). */
bool mf_caps_lease_due(const struct mf_caps_lease *l, uint64_t now_ms);
/* True when the lease may have expired in Redis because it was not
 * confirmed in time (measured from before the last successful request
 * was sent): the connection must be closed now. */
bool mf_caps_lease_expired(const struct mf_caps_lease *l, uint64_t now_ms);
/* ms until mf_caps_lease_due() becomes true (0 if due): a poll timeout. */
long mf_caps_lease_next_ms(const struct mf_caps_lease *l, uint64_t now_ms);
/* The lease's member string in the cap ZSETs. */
const char *mf_caps_lease_id(const struct mf_caps_lease *l);
/* How long the acquisition that produced this lease waited. */
uint64_t mf_caps_lease_waited_ms(const struct mf_caps_lease *l);

/* ------------------------------------------------------------------ */
/* Throttling and lowered caps (core/src/caps/throttle.c)              */
/* ------------------------------------------------------------------ */

/* A server answered a command on endpoint with throttling (Exchange's
 * "Request is throttled. Suggested Backoff Time: N milliseconds",
 * Gmail's [THROTTLED]): pauses the endpoint fleet-wide for pause_ms (or
 * longer, if a pause already runs longer), and, when this starts a new
 * episode, halves its connection limit (from the lowered limit if one
 * holds, else from the connections open now, never above cap, never below
 * floor) for window_ms (0: MF_THROTTLE_DEFAULT_WINDOW_MS, profile.h) after
 * the last throttling answer. *pause_r: the
 * pause now left; *limit_r: the lowered limit (0: none). */
MF_WARN_UNUSED mf_err mf_caps_throttle_note(
    struct mf_redis *r, const char *endpoint, uint32_t pause_ms, unsigned cap,
    unsigned floor, uint32_t window_ms, uint32_t *pause_r, unsigned *limit_r,
    struct mf_error *err);
/* Who asks about the limits in force: the names the connection's leases
 * carry. NULL: none (a name never written). */
struct mf_caps_asker {
    const char *batch; /* its caps as `batch set` left them */
    const char *user;  /* login name: the per-user cap's entry */
    const char *ip;    /* egress IP: the per-IP cap's entry */
};
/* The limits in force on an endpoint beyond a job's own caps (0: none). */
struct mf_caps_in_force {
    uint32_t pause_ms; /* the endpoint's throttling pause left */
    /* The lower of the throttled limit and the batch's configured total
     * cap (throttled: it is the throttled one); the configured per-user
     * and per-IP caps. */
    unsigned total, per_user, per_ip;
    bool throttled;
    /* mf_caps_throttle_over() only: the cap the lease is above
     * (MF_CAPS_CAP_NONE: none) and that cap's limit. */
    enum mf_caps_cap over;
    unsigned over_limit;
};
/* The endpoint's pause and the limits in force for who (*f_r). */
MF_WARN_UNUSED mf_err mf_caps_throttle_get(struct mf_redis *r,
                                           const char *endpoint,
                                           const struct mf_caps_asker *who,
                                           struct mf_caps_in_force *f_r,
                                           struct mf_error *err);
/* The same in one round trip, and whether the connection holding
 * lease_id (mf_caps_lease_id()) is one of those above a limit in force
 * (f_r->over), which then closes and queues for a lease again: in each
 * cap with a limit in force (total; per user and per IP when the lease
 * is in those caps), the live leases ranked by expiry, those from rank
 * limit on. Holders asking meanwhile still count the leases of those
 * that are closing until they are released, so a few more may close than
 * needed; none stays above the limit. */
MF_WARN_UNUSED mf_err mf_caps_throttle_over(
    struct mf_redis *r, const char *endpoint, const struct mf_caps_asker *who,
    const char *lease_id, struct mf_caps_in_force *f_r, struct mf_error *err);
/* Records a batch's connection caps on endpoint (lim NULL or all 0: no
 * cap, the record is removed) for the connections its jobs have open:
 * mf_caps_throttle_get() and _over() apply them from the next call on. */
MF_WARN_UNUSED mf_err mf_caps_configured_set(struct mf_redis *r,
                                             const char *endpoint,
                                             const char *batch,
                                             const struct mf_caps_limits *lim,
                                             struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Daily bandwidth quotas per user (core/src/caps/quota.c)            */
/* ------------------------------------------------------------------ */

/* A user's count in one quota window (Gmail: 2500 MB downloaded and 500
 * MB uploaded a day, mf_profile_quota_rules()). The window opens with
 * the first bytes counted and lasts window_ms; then the count starts
 * again from 0. The rule, in one place for the pure form below and the
 * fleet's form in Redis (lua/quota.lua):
 *
 *   - bytes are taken when the window's count plus them stays within
 *     the limit, or when nothing was counted yet in the window (a
 *     message bigger than the whole quota goes alone in a fresh window
 *     rather than never);
 *   - otherwise, or when the server said the quota is used up (filled),
 *     nothing is taken until the window ends: the caller waits until
 *     then and tries again;
 *   - limit 0: no quota, everything is taken (and counted).
 */
struct mf_caps_quota {
    uint64_t used;    /* bytes counted in the open window */
    int64_t start_ms; /* when the window opened; 0: none is open */
    bool full;        /* the server said the quota is used up */
};

/* The rule on q at now_ms (any clock, the same for every call on q):
 * true when bytes were taken (and counted); false with *until_ms_r the
 * end of the window, when it may be tried again. Pure. */
bool mf_caps_quota_take(struct mf_caps_quota *q, uint64_t limit,
                        uint64_t window_ms, uint64_t bytes, int64_t now_ms,
                        int64_t *until_ms_r);
/* The server answered that the quota is used up (Gmail's "[OVERQUOTA]
 * Account exceeded command or bandwidth limits"): nothing more is taken
 * in the window, which opens now when none is open. Returns its end. */
int64_t mf_caps_quota_fill(struct mf_caps_quota *q, uint64_t window_ms,
                           int64_t now_ms);

/* The same rule fleet-wide, in Redis (time: Redis' TIME), for the user
 * (login name) of endpoint, one count per direction (upload: to a
 * target; download: from a source). fill false: takes bytes, *wait_ms_r
 * 0 when taken, else the time left in the window; fill true:
 * mf_caps_quota_fill(), *wait_ms_r the time left. *used_r: the window's
 * count after the call. */
MF_WARN_UNUSED mf_err mf_caps_quota_shared(
    struct mf_redis *r, const char *endpoint, const char *user, bool upload,
    bool fill, uint64_t limit, uint64_t window_ms, uint64_t bytes,
    uint64_t *wait_ms_r, uint64_t *used_r, struct mf_error *err);

/* The endpoint id of one side's server in the caps: "src:HOST:PORT"
 * for a source, "dst:HOST:PORT" for a target (the host cut at 180
 * bytes). Every process that takes or counts leases on that server names
 * it so. */
void mf_caps_endpoint_id(const char *host, unsigned port, bool target,
                         char *out, size_t n);

/* Current use of an endpoint, for status displays. */
struct mf_caps_usage {
    unsigned connections; /* live leases in the total cap */
    unsigned mailboxes;   /* live leases in the mailbox cap */
    unsigned waiters;     /* queued waiters */
};
MF_WARN_UNUSED mf_err mf_caps_usage_get(struct mf_redis *r,
                                        const char *endpoint,
                                        struct mf_caps_usage *usage_r,
                                        struct mf_error *err);

/* Bandwidth: takes bytes from the endpoint's fleet-wide token bucket that
 * refills at rate_bytes_per_s (0: unlimited, no Redis call) and stores at
 * most MF_CAPS_BW_BURST_MS worth. The take always succeeds and may leave
 * the bucket in debt: *wait_ms_r is how long the caller must wait before
 * sending these bytes, so callers are served in call order and the long-
 * run rate is exact. Meant to be called per chunk (~64 KB) while
 * streaming. */
#define MF_CAPS_BW_BURST_MS 100
MF_WARN_UNUSED mf_err mf_caps_bw_take(struct mf_redis *r, const char *endpoint,
                                      uint64_t bytes, uint64_t rate_bytes_per_s,
                                      long *wait_ms_r, struct mf_error *err);

#endif
