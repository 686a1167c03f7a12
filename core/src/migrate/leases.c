/*
 * Connection caps and bandwidth caps for one mailbox run (docs/design.md §7,
 * core/include/mailferry/caps.h).
 *
 * Before a store is opened the run waits for a lease in every cap of that
 * side (total, per user, per egress IP); before the mailbox starts, for a
 * lease in the source's mailbox cap. A keeper thread renews the leases
 * about every TTL/3 on its own Redis connection; when a lease is lost, or
 * cannot be confirmed in time, it shuts the store's connection down
 * (store abort), which the engine sees as a dropped connection: it closes
 * the store, releases what is left and acquires again before reconnecting.
 * So no connection lives without a lease.
 *
 * Redis unreachable: waiting goes on (no connection is opened), pausing a
 * second between tries, until Redis is back or the run is stopped.
 *
 * What a person watching sees (issue 16 §6): the run's live progress
 * (struct mf_migrate_progress, which the worker publishes every few
 * seconds and --direct reads) says how many connection leases it holds
 * on each side, and, while a slot is not granted at the first try, what
 * it waits for, which cap was full and since when; the wait clears as
 * the slot is granted (or the run is stopped).
 *
 * Threads: the mailbox thread acquires and releases (its own Redis
 * connection), the keeper renews (another), the reader thread takes from
 * the source's bandwidth bucket (a third); a mutex guards the lease slots
 * the mailbox thread and the keeper share.
 */
#include "migrate/leases.h"

#include "mailferry/profile.h"
#include "mailferry/util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Servers learn of a closed connection a little after the client closes
 * it (Dovecot's anvil counts imap processes until they exit), so a slot
 * is handed back this long after its connection was closed, lest a new
 * connection be counted beside the old one. */
#define RELEASE_GRACE_MS 100

#define SLOT_MAILBOX 0
#define SLOT_SOURCE 1
#define SLOT_TARGET 2
#define NSLOTS 3

struct slot {
    struct mf_caps_lease *lease; /* owned */
    struct mf_store *store;      /* borrowed: aborted if the lease is lost */
};

struct mf__leases {
    /* The caller's caps with the profiles' defaults in the caps it left
     * 0 (mailferry/profile.h). */
    struct mf_migrate_caps caps_v;
    const struct mf_migrate_caps *caps;
    const atomic_bool *stop;
    struct mf_redis *r;      /* mailbox thread */
    struct mf_redis *keep_r; /* keeper thread */
    struct mf_redis *bw_r;   /* reader thread (source bandwidth) */
    char ep[2][MF_CAPS_ENDPOINT_MAX];
    char ip[2][64];
    const char *batch; /* borrowed from the options, or NULL */
    char *user[2];     /* owned: each side's login, from its first lease */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct slot slot[NSLOTS];
    pthread_t keeper;
    bool keeper_started, quit;
    _Atomic uint64_t waited_ms;
    _Atomic uint64_t lost;
    struct mf_migrate_progress *progress; /* borrowed, or NULL */
};

static void
nap_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The local address a connection to host:port would use: the per-IP
 * identity of this worker when --egress-ip is not given. A UDP connect
 * sends nothing. */
static void
egress_ip(const struct mf_migrate_server *srv, char *out, size_t n) {
    struct addrinfo hints = {0}, *ai = NULL;
    char port[8];
    int fd = -1;

    snprintf(out, n, "%s", srv->bind_address ? srv->bind_address : "0.0.0.0");
    if (srv->bind_address)
        return;
    hints.ai_socktype = SOCK_DGRAM;
    snprintf(port, sizeof(port), "%u", srv->endpoint.port);
    if (getaddrinfo(srv->endpoint.host, port, &hints, &ai) != 0)
        return;
    fd = socket(ai->ai_family, SOCK_DGRAM, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            getnameinfo((struct sockaddr *)&ss, sl, out, (socklen_t)n, NULL, 0,
                        NI_NUMERICHOST);
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
}

static bool
stopped(const struct mf__leases *l) {
    return l->stop && atomic_load(l->stop);
}

/* ------------------------------------------------------------------ */
/* What the live progress shows                                        */
/* ------------------------------------------------------------------ */

const char *
mf_migrate_wait_name(enum mf_migrate_wait w) {
    switch (w) {
    case MF_MIGRATE_WAIT_NONE:
        return "none";
    case MF_MIGRATE_WAIT_SOURCE:
        return "source";
    case MF_MIGRATE_WAIT_TARGET:
        return "target";
    case MF_MIGRATE_WAIT_MAILBOX:
        return "mailbox";
    }
    return "none";
}

void
mf_migrate_progress_conns(const struct mf_migrate_progress *p,
                          struct mf_migrate_conns *c) {
    uint32_t w = atomic_load(&p->waiting), cap = atomic_load(&p->waiting_cap);
    uint64_t since = atomic_load(&p->waiting_since_ms), now = mf_caps_now_ms();

    memset(c, 0, sizeof(*c));
    c->source_held = atomic_load(&p->source_held);
    c->target_held = atomic_load(&p->target_held);
    if (w == MF_MIGRATE_WAIT_NONE || w >= MF_MIGRATE_WAIT_COUNT)
        return;
    c->waiting = (enum mf_migrate_wait)w;
    c->cap =
        cap <= MF_CAPS_CAP_MAILBOXES ? (enum mf_caps_cap)cap : MF_CAPS_CAP_NONE;
    c->waiting_ms = now > since ? now - since : 0;
}

/* The connection leases held, into the live progress; under l->mu. */
static void
show_held(struct mf__leases *l) {
    if (!l->progress)
        return;
    atomic_store(&l->progress->source_held,
                 l->slot[SLOT_SOURCE].lease ? 1u : 0u);
    atomic_store(&l->progress->target_held,
                 l->slot[SLOT_TARGET].lease ? 1u : 0u);
}

/* What the run waits for now (MF_MIGRATE_WAIT_NONE: nothing), the cap
 * that was full. The start is kept while the same wait goes on. */
static void
show_wait(struct mf__leases *l, enum mf_migrate_wait what,
          enum mf_caps_cap cap) {
    struct mf_migrate_progress *p = l->progress;

    if (!p)
        return;
    if (what == MF_MIGRATE_WAIT_NONE) {
        atomic_store(&p->waiting, MF_MIGRATE_WAIT_NONE);
        return;
    }
    atomic_store(&p->waiting_cap, (uint32_t)cap);
    if (atomic_load(&p->waiting) != (uint32_t)what) {
        atomic_store(&p->waiting_since_ms, mf_caps_now_ms());
        atomic_store(&p->waiting, (uint32_t)what);
    }
}

/* ------------------------------------------------------------------ */
/* Keeper thread                                                       */
/* ------------------------------------------------------------------ */

static void *
keeper_main(void *arg) {
    struct mf__leases *l = arg;

    pthread_mutex_lock(&l->mu);
    while (!l->quit) {
        uint64_t now = mf_caps_now_ms();
        long next = 1000;

        for (int i = 0; i < NSLOTS; i++) {
            struct slot *s = &l->slot[i];
            struct mf_error err;
            mf_err rc;

            if (!s->lease)
                continue;
            if (mf_caps_lease_due(s->lease, now)) {
                rc = mf_caps_renew(l->keep_r, s->lease, &err);
                if (rc == MF_E_LEASE_LOST ||
                    (rc != MF_E_OK &&
                     mf_caps_lease_expired(s->lease, mf_caps_now_ms()))) {
                    /* The slot may be someone else's now: close. */
                    atomic_fetch_add(&l->lost, 1);
                    if (rc == MF_E_LEASE_LOST) {
                        mf_caps_lease_free(&s->lease);
                        show_held(l);
                    }
                    if (s->store && s->store->ops->abort)
                        s->store->ops->abort(s->store);
                    continue;
                }
            }
            if (s->lease) {
                long ms = mf_caps_lease_next_ms(s->lease, mf_caps_now_ms());
                if (ms < next)
                    next = ms;
            }
        }
        if (next < 50)
            next = 50;
        {
            struct timespec ts =
                mf_deadline_after_ms(CLOCK_REALTIME, (uint64_t)next);
            pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Public (module) API                                                 */
/* ------------------------------------------------------------------ */

void
mf__leases_endpoint_id(const struct mf_migrate_options *o, bool target,
                       char *out, size_t n) {
    const struct mf_migrate_server *s = target ? o->target : o->source;

    mf_caps_endpoint_id(s->endpoint.host, s->endpoint.port, target, out, n);
}

unsigned
mf__leases_cap(const struct mf__leases *l, bool target) {
    if (!l)
        return 0;
    return target ? l->caps->target.max_connections
                  : l->caps->source.max_connections;
}

/* A profile's caps where the admin set none. */
static void
profile_caps(struct mf_caps_limits *lim, const struct mf_profile *p) {
    if (!p)
        return;
    if (!lim->max_connections)
        lim->max_connections = p->max_connections;
    if (!lim->max_connections_per_user)
        lim->max_connections_per_user = p->max_connections_per_user;
}

mf_err
mf__leases_new(const struct mf_migrate_options *o, struct mf__leases **l_r,
               struct mf_error *err) {
    struct mf__leases *l;
    mf_err rc;

    *l_r = NULL;
    if (!o->caps || !o->caps->redis_url)
        return MF_E_OK;
    l = mf_xcalloc(1, sizeof(*l));
    l->caps_v = *o->caps;
    profile_caps(&l->caps_v.source, o->source_profile);
    profile_caps(&l->caps_v.target, o->target_profile);
    l->caps = &l->caps_v;
    l->stop = o->stop;
    l->progress = o->progress;
    l->batch = o->batch;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    mf__leases_endpoint_id(o, false, l->ep[0], sizeof(l->ep[0]));
    mf__leases_endpoint_id(o, true, l->ep[1], sizeof(l->ep[1]));
    if (o->caps->egress_ip) {
        snprintf(l->ip[0], sizeof(l->ip[0]), "%s", o->caps->egress_ip);
        snprintf(l->ip[1], sizeof(l->ip[1]), "%s", o->caps->egress_ip);
    } else {
        egress_ip(o->source, l->ip[0], sizeof(l->ip[0]));
        egress_ip(o->target, l->ip[1], sizeof(l->ip[1]));
    }
    /* Redis may be away right now: the clients reconnect by themselves. */
    if ((rc = mf_redis_connect(o->caps->redis_url, 0, &l->r, err)) ||
        (rc = mf_redis_connect(o->caps->redis_url, 0, &l->keep_r, err)) ||
        (rc = mf_redis_connect(o->caps->redis_url, 0, &l->bw_r, err))) {
        mf__leases_free(&l);
        return rc;
    }
    if (pthread_create(&l->keeper, NULL, keeper_main, l) != 0) {
        mf__leases_free(&l);
        return mf_error_set(err, MF_E_INTERNAL, "cannot start lease keeper");
    }
    l->keeper_started = true;
    *l_r = l;
    return MF_E_OK;
}

void
mf__leases_free(struct mf__leases **lp) {
    struct mf__leases *l = *lp;

    if (!l)
        return;
    if (l->keeper_started) {
        pthread_mutex_lock(&l->mu);
        l->quit = true;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->keeper, NULL);
    }
    for (int i = 0; i < NSLOTS; i++) {
        struct mf_error err;
        if (l->slot[i].lease)
            (void)mf_caps_release(l->r, &l->slot[i].lease, &err);
    }
    show_held(l);
    show_wait(l, MF_MIGRATE_WAIT_NONE, MF_CAPS_CAP_NONE);
    mf_redis_free(&l->r);
    mf_redis_free(&l->keep_r);
    mf_redis_free(&l->bw_r);
    free(l->user[0]);
    free(l->user[1]);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
    *lp = NULL;
}

static mf_err
acquire(struct mf__leases *l, int slot, const struct mf_caps_spec *spec,
        struct mf_error *err) {
    static const enum mf_migrate_wait what[NSLOTS] = {
        [SLOT_MAILBOX] = MF_MIGRATE_WAIT_MAILBOX,
        [SLOT_SOURCE] = MF_MIGRATE_WAIT_SOURCE,
        [SLOT_TARGET] = MF_MIGRATE_WAIT_TARGET,
    };
    struct mf_caps_waiter *w;
    struct mf_caps_lease *lease = NULL;
    enum mf_caps_cap full = MF_CAPS_CAP_NONE;
    mf_err rc;

    if ((rc = mf_caps_spec_check(spec, err)))
        return rc;
    w = mf_caps_waiter_new(spec);
    /* One try first: a slot granted at once is no wait to show. */
    if (!stopped(l) &&
        mf_caps_acquire(l->r, w, &lease, &full, err) == MF_E_OK && lease) {
        rc = MF_E_OK;
        goto granted;
    }
    for (;;) {
        show_wait(l, what[slot], mf_caps_waiter_stats(w)->last_full);
        if (stopped(l)) {
            struct mf_error e2;
            if (mf_caps_cancel(l->r, w, &e2) != MF_E_OK) {
                /* Our place in line expires by itself. */
            }
            rc = mf_error_set(err, MF_E_CANCELLED,
                              "stopped while waiting for a connection slot");
            break;
        }
        rc = mf_caps_wait(l->r, w, 1000, &lease, err);
        if (rc == MF_E_OK)
            break;
        if (rc == MF_E_TIMEOUT)
            continue;
        /* Redis away: never connect without a lease; pause, try again. */
        nap_ms(1000);
    }
    show_wait(l, MF_MIGRATE_WAIT_NONE, MF_CAPS_CAP_NONE);
granted:
    atomic_fetch_add(&l->waited_ms, mf_caps_waiter_stats(w)->waited_ms);
    mf_caps_waiter_free(&w);
    if (rc == MF_E_OK) {
        pthread_mutex_lock(&l->mu);
        MF_ASSERT(l->slot[slot].lease == NULL);
        l->slot[slot].lease = lease;
        l->slot[slot].store = NULL;
        show_held(l);
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
    }
    return rc;
}

mf_err
mf__leases_mailbox(struct mf__leases *l, struct mf_error *err) {
    struct mf_caps_spec spec = {0};

    if (!l || l->caps->source.max_concurrent_mailboxes == 0)
        return MF_E_OK;
    spec.endpoint = l->ep[0];
    spec.kind = MF_CAPS_MAILBOX;
    spec.limits = l->caps->source;
    spec.ttl_ms = l->caps->ttl_ms;
    spec.holder = l->caps->holder;
    return acquire(l, SLOT_MAILBOX, &spec, err);
}

/* Who one side's connection is, for the limits in force. */
static struct mf_caps_asker
asker(const struct mf__leases *l, int side) {
    struct mf_caps_asker who = {
        .batch = l->batch, .user = l->user[side], .ip = l->ip[side]};
    return who;
}

/* A cap lowered to lim (0: not lowered). */
static void
lower(unsigned *cap, unsigned lim) {
    if (lim && (*cap == 0 || lim < *cap))
        *cap = lim;
}

mf_err
mf__leases_connection(struct mf__leases *l, bool target, const char *user,
                      struct mf_error *err) {
    struct mf_caps_spec spec = {0};
    int side = target ? 1 : 0;
    bool held;

    if (!l)
        return MF_E_OK;
    pthread_mutex_lock(&l->mu);
    held = l->slot[target ? SLOT_TARGET : SLOT_SOURCE].lease != NULL;
    pthread_mutex_unlock(&l->mu);
    if (held)
        return MF_E_OK; /* a connection replaced under its lease */
    spec.endpoint = l->ep[side];
    spec.kind = MF_CAPS_CONNECTION;
    spec.limits = target ? l->caps->target : l->caps->source;
    spec.limits.max_concurrent_mailboxes = 0;
    if (user && !l->user[side])
        l->user[side] = mf_xstrdup(user);
    {
        /* A server that throttled has its connection limit lowered for a
         * while, and the admin may have lowered the batch's caps since
         * the job started (core/src/caps/throttle.c): within the job's
         * caps, never above. */
        struct mf_caps_asker who = asker(l, side);
        struct mf_caps_in_force f;
        struct mf_error e2;
        if (mf_caps_throttle_get(l->r, spec.endpoint, &who, &f, &e2) ==
            MF_E_OK) {
            lower(&spec.limits.max_connections, f.total);
            lower(&spec.limits.max_connections_per_user, f.per_user);
            lower(&spec.limits.max_connections_per_ip, f.per_ip);
        }
    }
    spec.user = spec.limits.max_connections_per_user ? user : NULL;
    spec.ip = spec.limits.max_connections_per_ip ? l->ip[side] : NULL;
    spec.ttl_ms = l->caps->ttl_ms;
    /* A dead holder's slot is noticed by the waiters' timed wake-ups:
     * keep them short against the TTL. */
    spec.wake_ms = spec.ttl_ms ? spec.ttl_ms / 6 : 0;
    if (spec.wake_ms && spec.wake_ms < 100)
        spec.wake_ms = 100;
    if (spec.wake_ms > MF_CAPS_DEFAULT_WAKE_MS)
        spec.wake_ms = MF_CAPS_DEFAULT_WAKE_MS;
    spec.holder = l->caps->holder;
    return acquire(l, target ? SLOT_TARGET : SLOT_SOURCE, &spec, err);
}

void
mf__leases_attach(struct mf__leases *l, bool target, struct mf_store *st) {
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->slot[target ? SLOT_TARGET : SLOT_SOURCE].store = st;
    pthread_mutex_unlock(&l->mu);
}

void
mf__leases_release_connections(struct mf__leases *l, bool source, bool target) {
    struct mf_caps_lease *lease[2] = {NULL, NULL};
    struct mf_error err;

    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    for (int side = 0; side < 2; side++) {
        struct slot *s = &l->slot[side ? SLOT_TARGET : SLOT_SOURCE];
        if (!(side ? target : source))
            continue;
        lease[side] = s->lease;
        s->lease = NULL;
        s->store = NULL;
    }
    show_held(l);
    pthread_mutex_unlock(&l->mu);
    if (!lease[0] && !lease[1])
        return;
    nap_ms(RELEASE_GRACE_MS);
    for (int side = 0; side < 2; side++)
        if (lease[side])
            (void)mf_caps_release(l->r, &lease[side], &err);
}

void
mf__leases_reconnect_grace(const struct mf__leases *l) {
    if (l)
        nap_ms(RELEASE_GRACE_MS);
}

void
mf__leases_bandwidth(struct mf__leases *l, bool target, uint64_t bytes) {
    uint64_t rate;
    long wait_ms = 0;
    struct mf_error err;

    if (!l)
        return;
    rate = target ? l->caps->target_bytes_per_second
                  : l->caps->source_bytes_per_second;
    if (rate == 0)
        return;
    /* The writer (target) and the reader (source) are different threads
     * with their own connections. */
    if (mf_caps_bw_take(target ? l->r : l->bw_r, l->ep[target ? 1 : 0], bytes,
                        rate, &wait_ms, &err) != MF_E_OK)
        wait_ms = 0; /* Redis away: the connection caps still hold */
    if (wait_ms > 0)
        nap_ms(wait_ms);
}

bool
mf__leases_in_force(struct mf__leases *l, bool target,
                    struct mf_caps_in_force *f_r) {
    int side = target ? 1 : 0;
    const struct slot *s;
    char *id = NULL;
    bool ok;
    struct mf_error err;

    if (!l)
        return false;
    /* The keeper frees a lost lease: its id is copied under the lock. */
    pthread_mutex_lock(&l->mu);
    s = &l->slot[target ? SLOT_TARGET : SLOT_SOURCE];
    if (s->lease)
        id = mf_xstrdup(mf_caps_lease_id(s->lease));
    pthread_mutex_unlock(&l->mu);
    if (!id)
        return false;
    {
        struct mf_caps_asker who = asker(l, side);
        /* Redis away: the leases still hold new ones. */
        ok = mf_caps_throttle_over(l->r, l->ep[side], &who, id, f_r, &err) ==
             MF_E_OK;
    }
    free(id);
    return ok;
}

uint64_t
mf__leases_waited_ms(const struct mf__leases *l) {
    return l ? atomic_load(&l->waited_ms) : 0;
}
