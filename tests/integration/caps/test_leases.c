/*
 * Connection leases against a real redis-server (fixture "redis"):
 * all-or-nothing acquisition, expiry and reclaim, a lost lease, FIFO
 * fairness without busy polling, an unreachable Redis (a private
 * redis-server this test starts and stops itself), and caps lowered
 * while leases are held (mf_caps_configured_set(), lua/throttle.lua).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "caps_test.h"

#include <pthread.h>
#include <stdatomic.h>

static struct mf_caps_spec
conn_spec(const char *ep, const char *user, const char *ip, unsigned total,
          unsigned per_user, unsigned per_ip) {
    struct mf_caps_spec s = {.endpoint = ep,
                             .kind = MF_CAPS_CONNECTION,
                             .user = user,
                             .ip = ip,
                             .limits = {.max_connections = total,
                                        .max_connections_per_user = per_user,
                                        .max_connections_per_ip = per_ip},
                             .holder = "test"};
    return s;
}

/* acquire once; returns the lease or NULL and the full cap. */
static struct mf_caps_lease *
try_once(struct mf_redis *r, struct mf_caps_waiter *w,
         enum mf_caps_cap *full_r) {
    struct mf_caps_lease *l = NULL;
    struct mf_error err = {0};
    enum mf_caps_cap full = MF_CAPS_CAP_NONE;

    assert_int_equal(mf_caps_acquire(r, w, &l, &full, &err), MF_E_OK);
    if (full_r)
        *full_r = full;
    return l;
}

/* w gets no lease: cap is the one that is full. */
static void
refused(struct mf_redis *r, struct mf_caps_waiter *w, enum mf_caps_cap cap) {
    enum mf_caps_cap full;

    assert_null(try_once(r, w, &full));
    assert_int_equal(full, cap);
}

static void
test_all_or_nothing(void **state) {
    struct mf_redis *r = ct_connect();
    char *ep = ct_endpoint("aon");
    struct mf_caps_spec sa = conn_spec(ep, "alice", "10.0.0.1", 3, 2, 1);
    struct mf_caps_spec sb = conn_spec(ep, "alice", "10.0.0.2", 3, 2, 1);
    struct mf_caps_spec sc = conn_spec(ep, "alice", "10.0.0.3", 3, 2, 1);
    struct mf_caps_waiter *wa = mf_caps_waiter_new(&sa);
    struct mf_caps_waiter *wa2 = mf_caps_waiter_new(&sa);
    struct mf_caps_waiter *wb = mf_caps_waiter_new(&sb);
    struct mf_caps_waiter *wc = mf_caps_waiter_new(&sc);
    struct mf_caps_lease *la, *lb;
    struct mf_caps_usage u;
    struct mf_error err = {0};
    enum mf_caps_cap full;

    (void)state;
    la = try_once(r, wa, &full);
    assert_non_null(la);
    assert_int_equal(full, MF_CAPS_CAP_NONE);
    /* Same IP again: the per-IP cap (1) is full; the total and per-user
     * caps must not have been touched. */
    refused(r, wa2, MF_CAPS_CAP_IP);
    assert_int_equal(ct_zcard(r, ep, "total"), 1);
    assert_int_equal(ct_zcard(r, ep, "user:alice"), 1);
    assert_int_equal(ct_zcard(r, ep, "ip:10.0.0.1"), 1);
    /* The queued waiter wa2 reserves one total and one alice slot, so of
     * total 3 and per-user 2 only... the user cap is now full for
     * newcomers: 1 held + 1 reserved = 2. */
    refused(r, wb, MF_CAPS_CAP_USER);
    assert_int_equal(ct_zcard(r, ep, "total"), 1);
    assert_int_equal(ct_zcard(r, ep, "ip:10.0.0.2"), 0);
    /* Once wa2 leaves the line, wb fits (another IP, user has room). */
    assert_int_equal(mf_caps_cancel(r, wa2, &err), MF_E_OK);
    assert_int_equal(mf_caps_cancel(r, wb, &err), MF_E_OK);
    lb = try_once(r, wb, &full);
    assert_non_null(lb);
    assert_int_equal(ct_zcard(r, ep, "total"), 2);
    /* Now the user cap (2) is full: a third IP gets nothing anywhere. */
    refused(r, wc, MF_CAPS_CAP_USER);
    assert_int_equal(ct_zcard(r, ep, "total"), 2);
    assert_int_equal(ct_zcard(r, ep, "ip:10.0.0.3"), 0);
    assert_int_equal(mf_caps_cancel(r, wc, &err), MF_E_OK);

    struct mf_caps_usage want = {.connections = 2, .waiters = 0};
    assert_int_equal(mf_caps_usage_get(r, ep, &u, &err), MF_E_OK);
    assert_int_equal(u.connections, want.connections);
    assert_int_equal(u.waiters, want.waiters);

    assert_int_equal(mf_caps_release(r, &la, &err), MF_E_OK);
    assert_null(la);
    assert_int_equal(mf_caps_release(r, &lb, &err), MF_E_OK);
    assert_int_equal(ct_zcard(r, ep, "total"), 0);
    assert_int_equal(ct_zcard(r, ep, "user:alice"), 0);

    /* Mailbox leases: their own cap. */
    struct mf_caps_spec sm = {.endpoint = ep,
                              .kind = MF_CAPS_MAILBOX,
                              .limits = {.max_concurrent_mailboxes = 2}};
    struct mf_caps_waiter *wm = mf_caps_waiter_new(&sm);
    struct mf_caps_lease *m1 = try_once(r, wm, NULL);
    struct mf_caps_lease *m2 = try_once(r, wm, NULL);
    assert_non_null(m1);
    assert_non_null(m2);
    refused(r, wm, MF_CAPS_CAP_MAILBOXES);
    assert_int_equal(mf_caps_usage_get(r, ep, &u, &err), MF_E_OK);
    assert_int_equal(u.mailboxes, 2);
    assert_int_equal(u.waiters, 1);
    assert_int_equal(mf_caps_cancel(r, wm, &err), MF_E_OK);
    assert_int_equal(mf_caps_release(r, &m1, &err), MF_E_OK);
    assert_int_equal(mf_caps_release(r, &m2, &err), MF_E_OK);

    mf_caps_waiter_free(&wm);
    mf_caps_waiter_free(&wa);
    mf_caps_waiter_free(&wa2);
    mf_caps_waiter_free(&wb);
    mf_caps_waiter_free(&wc);
    assert_null(wa);
    mf_redis_free(&r);
    free(ep);
}

static void
test_spec_errors(void **state) {
    struct mf_caps_spec s = conn_spec("src:{x}", "u", "1.2.3.4", 1, 0, 0);
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_caps_spec_check(&s, &err), MF_E_CONFIG);
    s = conn_spec("src:x", NULL, "1.2.3.4", 1, 1, 0);
    assert_int_equal(mf_caps_spec_check(&s, &err), MF_E_CONFIG);
    s = conn_spec("src:x", "u", NULL, 1, 1, 1);
    assert_int_equal(mf_caps_spec_check(&s, &err), MF_E_CONFIG);
    s = conn_spec("src:x", NULL, NULL, 1, 0, 0);
    assert_int_equal(mf_caps_spec_check(&s, &err), MF_E_OK);
}

/* A holder that stops renewing (a dead worker) loses its slot after the
 * TTL; a waiter gets it without polling faster than its wake period; the
 * old holder learns on renew that the lease is lost. */
static void
test_expiry_and_reclaim(void **state) {
    struct mf_redis *r = ct_connect();
    char *ep = ct_endpoint("expiry");
    struct mf_caps_spec s = conn_spec(ep, "u", "10.0.0.1", 1, 0, 0);
    struct mf_caps_waiter *w1, *w2;
    struct mf_caps_lease *dead, *l = NULL;
    struct mf_error err = {0};
    uint64_t t0, got;

    (void)state;
    s.ttl_ms = 1000;
    s.wake_ms = 200;
    w1 = mf_caps_waiter_new(&s);
    w2 = mf_caps_waiter_new(&s);
    dead = try_once(r, w1, NULL);
    assert_non_null(dead);
    t0 = mf_caps_now_ms();
    assert_false(mf_caps_lease_due(dead, t0));
    assert_false(mf_caps_lease_expired(dead, t0));
    assert_true(mf_caps_lease_next_ms(dead, t0) <= 334);
    assert_true(mf_caps_lease_due(dead, t0 + 340));
    assert_true(mf_caps_lease_expired(dead, t0 + 1000));
    refused(r, w2, MF_CAPS_CAP_TOTAL);
    assert_int_equal(mf_caps_wait(r, w2, 5000, &l, &err), MF_E_OK);
    got = mf_caps_now_ms();
    assert_non_null(l);
    /* Reclaimed no earlier than the TTL, and no later than TTL plus one
     * wake period (plus scheduling slack). */
    fprintf(stderr, "reclaimed after %llu ms (TTL 1000, wake 200)\n",
            (unsigned long long)(got - t0));
    assert_true(got - t0 >= 900);
    assert_true(got - t0 <= 1000 + 200 + 300);
    assert_true(mf_caps_lease_waited_ms(l) >= 900);
    assert_true(mf_caps_waiter_stats(w2)->waited_ms >= 900);
    assert_int_equal(mf_caps_waiter_stats(w2)->leases, 1);
    /* The dead holder comes back: its lease is gone. */
    assert_int_equal(mf_caps_renew(r, dead, &err), MF_E_LEASE_LOST);
    assert_true(mf_caps_lease_expired(dead, mf_caps_now_ms()));
    mf_caps_lease_free(&dead);
    /* The live one renews fine and holds past its first TTL. */
    ct_sleep_ms(600);
    assert_int_equal(mf_caps_renew(r, l, &err), MF_E_OK);
    ct_sleep_ms(600);
    assert_int_equal(mf_caps_renew(r, l, &err), MF_E_OK);
    assert_int_equal(ct_zcard(r, ep, "total"), 1);
    assert_int_equal(mf_caps_release(r, &l, &err), MF_E_OK);
    mf_caps_waiter_free(&w1);
    mf_caps_waiter_free(&w2);
    mf_redis_free(&r);
    free(ep);
}

/* One of a lease's entries vanishes (say an operator deleted a key):
 * renew reports the loss and drops the other entries too. */
static void
test_lost_lease(void **state) {
    struct mf_redis *r = ct_connect();
    char *ep = ct_endpoint("lost");
    struct mf_caps_spec s = conn_spec(ep, "bob", "10.0.0.9", 5, 5, 5);
    struct mf_caps_waiter *w = mf_caps_waiter_new(&s);
    struct mf_caps_lease *l;
    struct mf_error err = {0};
    struct mf_caps_metrics m0, m1;
    char *key = mf_xasprintf("mf:{c:%s}:cap:ip:10.0.0.9", ep);

    (void)state;
    mf_caps_metrics_get(&m0);
    l = try_once(r, w, NULL);
    assert_non_null(l);
    assert_int_equal(mf_caps_renew(r, l, &err), MF_E_OK);
    assert_int_equal(ct_int(r, "ZREM %s %s", key, mf_caps_lease_id(l)), 1);
    assert_int_equal(mf_caps_renew(r, l, &err), MF_E_LEASE_LOST);
    assert_non_null(strstr(err.detail, "ip cap"));
    assert_int_equal(ct_zcard(r, ep, "total"), 0);
    assert_int_equal(ct_zcard(r, ep, "user:bob"), 0);
    mf_caps_metrics_get(&m1);
    assert_true(m1.leases_lost >= m0.leases_lost + 1);
    mf_caps_lease_free(&l);
    mf_caps_waiter_free(&w);
    mf_redis_free(&r);
    free(key);
    free(ep);
}

/* ----------------------------------------------------- fairness */

#define NWAITERS 6

struct fair {
    const char *ep;
    const char *url; /* a private redis-server: exact command counts */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int queued;          /* waiters that hold a ticket */
    atomic_int served;   /* next position in the service order */
    int order[NWAITERS]; /* order[i]: position waiter i got */
    int active, peak;    /* concurrent holders seen */
    struct mf_caps_wait_stats stats[NWAITERS];
};

struct fair_arg {
    struct fair *f;
    int index;
};

static void *
fair_thread(void *p) {
    struct fair_arg *a = p;
    struct fair *f = a->f;
    struct mf_redis *r = ct_connect_url(f->url);
    struct mf_caps_spec s = conn_spec(f->ep, "u", "10.1.1.1", 1, 0, 0);
    struct mf_caps_waiter *w;
    struct mf_caps_lease *l = NULL;
    struct mf_error err = {0};
    enum mf_caps_cap full;
    mf_err rc;

    s.wake_ms = 3000; /* long: a timeout would show as a slow test */
    w = mf_caps_waiter_new(&s);
    rc = mf_caps_acquire(r, w, &l, &full, &err);
    if (rc != MF_E_OK || l)
        abort(); /* the main thread holds the only slot */
    pthread_mutex_lock(&f->mu);
    f->queued++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    rc = mf_caps_wait(r, w, 20000, &l, &err);
    if (rc != MF_E_OK) {
        fprintf(stderr, "waiter %d: %s\n", a->index, err.detail);
        abort();
    }
    pthread_mutex_lock(&f->mu);
    if (++f->active > f->peak)
        f->peak = f->active;
    pthread_mutex_unlock(&f->mu);
    f->order[a->index] = atomic_fetch_add(&f->served, 1);
    ct_sleep_ms(30);
    pthread_mutex_lock(&f->mu);
    f->active--;
    pthread_mutex_unlock(&f->mu);
    if (mf_caps_release(r, &l, &err) != MF_E_OK)
        abort();
    f->stats[a->index] = *mf_caps_waiter_stats(w);
    mf_caps_waiter_free(&w);
    mf_redis_free(&r);
    return NULL;
}

static void
test_fairness(void **state) {
    char dir[] = "/tmp/mailferry-caps.XXXXXX";
    char *url = NULL;
    pid_t pid;
    struct mf_redis *r;
    char *ep = ct_endpoint("fair");
    struct mf_caps_spec s = conn_spec(ep, "u", "10.1.1.1", 1, 0, 0);
    struct mf_caps_waiter *w = mf_caps_waiter_new(&s);
    struct fair f = {.ep = ep};
    struct fair_arg args[NWAITERS];
    pthread_t th[NWAITERS];
    struct mf_caps_lease *l;
    struct mf_error err = {0};
    long long evalsha0, eval0, blpop0, scripts, blpops;

    (void)state;
    assert_non_null(mkdtemp(dir));
    pid = ct_private_redis(dir, &url);
    assert_true(pid > 0);
    f.url = url;
    r = ct_connect_url(url);
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    l = try_once(r, w, NULL);
    assert_non_null(l);
    evalsha0 = ct_calls(r, "evalsha");
    eval0 = ct_calls(r, "eval");
    blpop0 = ct_calls(r, "blpop");
    /* Start the waiters one by one, each after the previous one holds its
     * ticket: arrival order is then 0, 1, 2, ... */
    for (int i = 0; i < NWAITERS; i++) {
        args[i] = (struct fair_arg){&f, i};
        assert_int_equal(pthread_create(&th[i], NULL, fair_thread, &args[i]),
                         0);
        pthread_mutex_lock(&f.mu);
        while (f.queued <= i)
            pthread_cond_wait(&f.cv, &f.mu);
        pthread_mutex_unlock(&f.mu);
    }
    /* Give them time to block in BLPOP: nothing may happen meanwhile. */
    ct_sleep_ms(500);
    assert_int_equal(mf_caps_release(r, &l, &err), MF_E_OK);
    for (int i = 0; i < NWAITERS; i++)
        pthread_join(th[i], NULL);
    scripts = ct_calls(r, "evalsha") - evalsha0 + ct_calls(r, "eval") - eval0;
    blpops = ct_calls(r, "blpop") - blpop0;
    fprintf(stderr, "%d waiters: %lld script calls, %lld BLPOPs, peak %d\n",
            NWAITERS, scripts, blpops, f.peak);
    for (int i = 0; i < NWAITERS; i++) {
        fprintf(stderr,
                "waiter %d: served %d, attempts %llu, wakeups %llu, "
                "timeouts %llu, waited %llu ms\n",
                i, f.order[i], (unsigned long long)f.stats[i].attempts,
                (unsigned long long)f.stats[i].wakeups,
                (unsigned long long)f.stats[i].timeouts,
                (unsigned long long)f.stats[i].waited_ms);
        /* First come, first served. */
        assert_int_equal(f.order[i], i);
        /* No polling: woken exactly when its turn came. */
        assert_int_equal(f.stats[i].timeouts, 0);
        assert_true(f.stats[i].attempts <= 2);
        assert_true(f.stats[i].waited_ms >= 500);
    }
    assert_int_equal(f.peak, 1);
    /* Each waiter: an enqueueing attempt, one BLPOP, a winning attempt and
     * a release. */
    assert_true(scripts <= 3 * NWAITERS + 1);
    assert_true(blpops <= NWAITERS);
    mf_caps_waiter_free(&w);
    mf_redis_free(&r);
    ct_stop_redis(pid);
    rmdir(dir);
    free(url);
    free(ep);
}

/* Several waiters on two IPs under a total cap: nobody starves, and the
 * per-IP caps hold while they churn. */
struct churn {
    const char *ep;
    atomic_int per_ip[2], total, peak_ip[2], peak_total;
    atomic_int done;
};

struct churn_arg {
    struct churn *c;
    int ip;
};

static void
peak(atomic_int *p, int v) {
    int cur = atomic_load(p);
    while (v > cur && !atomic_compare_exchange_weak(p, &cur, v))
        ;
}

static void *
churn_thread(void *p) {
    struct churn_arg *a = p;
    struct churn *c = a->c;
    struct mf_redis *r = ct_connect();
    struct mf_caps_spec s =
        conn_spec(c->ep, "u", a->ip ? "10.2.0.2" : "10.2.0.1", 3, 0, 2);
    struct mf_caps_waiter *w;
    struct mf_error err = {0};

    s.wake_ms = 1000;
    w = mf_caps_waiter_new(&s);
    for (int round = 0; round < 5; round++) {
        struct mf_caps_lease *l = NULL;
        if (mf_caps_wait(r, w, 20000, &l, &err) != MF_E_OK) {
            fprintf(stderr, "churn: %s\n", err.detail);
            abort();
        }
        peak(&c->peak_ip[a->ip], atomic_fetch_add(&c->per_ip[a->ip], 1) + 1);
        peak(&c->peak_total, atomic_fetch_add(&c->total, 1) + 1);
        ct_sleep_ms(10 + rand() % 20);
        atomic_fetch_sub(&c->per_ip[a->ip], 1);
        atomic_fetch_sub(&c->total, 1);
        if (mf_caps_release(r, &l, &err) != MF_E_OK)
            abort();
    }
    atomic_fetch_add(&c->done, 1);
    mf_caps_waiter_free(&w);
    mf_redis_free(&r);
    return NULL;
}

static void
test_churn(void **state) {
    char *ep = ct_endpoint("churn");
    struct churn c = {.ep = ep};
    struct churn_arg args[8];
    pthread_t th[8];

    (void)state;
    for (int i = 0; i < 8; i++) {
        args[i] = (struct churn_arg){&c, i % 2};
        assert_int_equal(pthread_create(&th[i], NULL, churn_thread, &args[i]),
                         0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    fprintf(stderr, "churn: peak total %d, per IP %d and %d\n",
            atomic_load(&c.peak_total), atomic_load(&c.peak_ip[0]),
            atomic_load(&c.peak_ip[1]));
    assert_int_equal(atomic_load(&c.done), 8);
    assert_true(atomic_load(&c.peak_total) <= 3);
    assert_true(atomic_load(&c.peak_ip[0]) <= 2);
    assert_true(atomic_load(&c.peak_ip[1]) <= 2);
    free(ep);
}

/* Two IPs churn as fast as they can on a total cap of 2 (each IP capped
 * at 1, so together they can fill it). A third IP arriving later must
 * still get in promptly: its place in line reserves the next free total
 * slot, so the churners cannot keep grabbing it back. */
struct starve {
    const char *ep;
    atomic_int stop;
    atomic_int rounds;
};

struct starve_arg {
    struct starve *s;
    const char *ip;
};

static void *
starve_thread(void *p) {
    struct starve_arg *a = p;
    struct mf_redis *r = ct_connect();
    struct mf_caps_spec s = conn_spec(a->s->ep, "u", a->ip, 2, 0, 1);
    struct mf_caps_waiter *w;
    struct mf_error err = {0};

    s.wake_ms = 1000;
    w = mf_caps_waiter_new(&s);
    while (!atomic_load(&a->s->stop)) {
        struct mf_caps_lease *l = NULL;
        if (mf_caps_wait(r, w, 20000, &l, &err) != MF_E_OK)
            abort();
        ct_sleep_ms(5);
        if (mf_caps_release(r, &l, &err) != MF_E_OK)
            abort();
        atomic_fetch_add(&a->s->rounds, 1);
    }
    mf_caps_waiter_free(&w);
    mf_redis_free(&r);
    return NULL;
}

static void
test_no_starvation(void **state) {
    struct mf_redis *r = ct_connect();
    char *ep = ct_endpoint("starve");
    struct starve st = {.ep = ep};
    struct starve_arg args[2] = {{&st, "10.3.0.2"}, {&st, "10.3.0.3"}};
    struct mf_caps_spec s = conn_spec(ep, "u", "10.3.0.1", 2, 0, 1);
    struct mf_caps_waiter *w;
    struct mf_caps_lease *l = NULL;
    struct mf_error err = {0};
    pthread_t th[2];
    uint64_t t0, waited;
    int rounds0;

    (void)state;
    s.wake_ms = 1000;
    w = mf_caps_waiter_new(&s);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, starve_thread, &args[i]),
                         0);
    ct_sleep_ms(300);
    rounds0 = atomic_load(&st.rounds);
    t0 = mf_caps_now_ms();
    assert_int_equal(mf_caps_wait(r, w, 10000, &l, &err), MF_E_OK);
    waited = mf_caps_now_ms() - t0;
    assert_non_null(l);
    fprintf(stderr,
            "starvation: churners did %d rounds in 300 ms; the third IP "
            "waited %llu ms\n",
            rounds0, (unsigned long long)waited);
    assert_true(rounds0 > 10); /* they really were churning */
    assert_true(waited < 200);
    atomic_store(&st.stop, 1);
    assert_int_equal(mf_caps_release(r, &l, &err), MF_E_OK);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    mf_caps_waiter_free(&w);
    mf_redis_free(&r);
    free(ep);
}

/* ------------------------------------------ Redis unreachable */

static void
test_unreachable(void **state) {
    char dir[] = "/tmp/mailferry-caps.XXXXXX";
    struct mf_redis *r = NULL;
    struct mf_error err = {0};
    struct mf_caps_lease *l = NULL, *held;
    struct mf_caps_waiter *w;
    enum mf_caps_cap full = MF_CAPS_CAP_NONE;
    struct mf_caps_spec s =
        conn_spec("src:unreachable", "u", "10.0.0.1", 2, 0, 0);
    int port = 0;
    pid_t pid;
    char *url = NULL;

    (void)state;
    assert_non_null(mkdtemp(dir));
    pid = ct_private_redis(dir, &url);
    assert_true(pid > 0);
    port = (int)strtol(strrchr(url, ':') + 1, NULL, 10);
    assert_int_equal(mf_redis_connect(url, 1000, &r, &err), MF_E_OK);
    w = mf_caps_waiter_new(&s);
    held = try_once(r, w, NULL);
    assert_non_null(held);

    ct_stop_redis(pid);
    /* Gone: no lease, an error of class retry, twice in a row. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mf_caps_acquire(r, w, &l, &full, &err),
                         MF_E_REDIS_UNAVAILABLE);
        assert_null(l);
        assert_int_equal(mf_err_class_of(err.code), MF_ERRCLASS_RETRY);
    }
    assert_int_equal(mf_caps_wait(r, w, 1000, &l, &err),
                     MF_E_REDIS_UNAVAILABLE);
    assert_null(l);
    assert_int_equal(mf_caps_renew(r, held, &err), MF_E_REDIS_UNAVAILABLE);
    /* A failed renewal is retried soon, and the holder knows when it must
     * give up the connection. */
    assert_true(mf_caps_lease_next_ms(held, mf_caps_now_ms()) <= 500);

    /* Back (empty: this one has no AOF). The old lease is lost, new ones
     * are handed out again. */
    pid = ct_spawn_redis(port, dir);
    assert_true(pid > 0);
    assert_int_equal(mf_caps_renew(r, held, &err), MF_E_LEASE_LOST);
    mf_caps_lease_free(&held);
    assert_int_equal(mf_caps_acquire(r, w, &l, &full, &err), MF_E_OK);
    assert_non_null(l);
    assert_int_equal(mf_caps_release(r, &l, &err), MF_E_OK);
    ct_stop_redis(pid);
    mf_caps_waiter_free(&w);
    mf_redis_free(&r);
    free(url);
    rmdir(dir);
}

/* How many of the n leases are above a limit in force for who, all of
 * them above the same cap (*cap_r) and limit (*lim_r). */
static int
count_over(struct mf_redis *r, const char *ep, const struct mf_caps_asker *who,
           struct mf_caps_lease **l, int n, enum mf_caps_cap *cap_r,
           unsigned *lim_r) {
    struct mf_error err = {0};
    int over = 0;

    *cap_r = MF_CAPS_CAP_NONE;
    *lim_r = 0;
    for (int i = 0; i < n; i++) {
        struct mf_caps_in_force f;
        assert_int_equal(
            mf_caps_throttle_over(r, ep, who, mf_caps_lease_id(l[i]), &f, &err),
            MF_E_OK);
        if (f.over == MF_CAPS_CAP_NONE)
            continue;
        assert_true(*cap_r == MF_CAPS_CAP_NONE || *cap_r == f.over);
        *cap_r = f.over;
        *lim_r = f.over_limit;
        over++;
    }
    return over;
}

static void
test_lowered_caps(void **state) {
    struct mf_redis *r = ct_connect();
    char *ep = ct_endpoint("lowered");
    struct mf_caps_spec s = conn_spec(ep, "bob", "10.0.0.9", 4, 4, 0);
    struct mf_caps_waiter *w = mf_caps_waiter_new(&s);
    struct mf_caps_asker who = {.batch = "b1", .user = "bob", .ip = "10.0.0.9"};
    struct mf_caps_asker other = {.batch = "b2", .user = "bob"};
    struct mf_caps_limits user1 = {.max_connections_per_user = 1};
    struct mf_caps_limits total2 = {.max_connections = 2};
    struct mf_caps_lease *l[3];
    struct mf_caps_in_force f;
    struct mf_error err = {0};
    enum mf_caps_cap cap;
    unsigned lim;

    (void)state;
    for (int i = 0; i < 3; i++)
        assert_non_null(l[i] = try_once(r, w, NULL));
    /* Nothing lowered: no limit in force, none above. */
    assert_int_equal(mf_caps_throttle_get(r, ep, &who, &f, &err), MF_E_OK);
    assert_int_equal(f.total + f.per_user + f.per_ip, 0);
    assert_int_equal(count_over(r, ep, &who, l, 3, &cap, &lim), 0);
    /* The batch's per-user cap lowered to 1: two of bob's three close. */
    assert_int_equal(mf_caps_configured_set(r, ep, "b1", &user1, &err),
                     MF_E_OK);
    assert_int_equal(mf_caps_throttle_get(r, ep, &who, &f, &err), MF_E_OK);
    assert_int_equal(f.per_user, 1);
    assert_int_equal(f.total, 0);
    assert_int_equal(count_over(r, ep, &who, l, 3, &cap, &lim), 2);
    assert_int_equal(cap, MF_CAPS_CAP_USER);
    assert_int_equal(lim, 1);
    /* Another batch's caps are its own. */
    assert_int_equal(count_over(r, ep, &other, l, 3, &cap, &lim), 0);
    /* The total cap lowered to 2 (per user lifted): one closes. */
    assert_int_equal(mf_caps_configured_set(r, ep, "b1", &total2, &err),
                     MF_E_OK);
    assert_int_equal(count_over(r, ep, &who, l, 3, &cap, &lim), 1);
    assert_int_equal(cap, MF_CAPS_CAP_TOTAL);
    assert_int_equal(lim, 2);
    assert_int_equal(mf_caps_throttle_get(r, ep, &who, &f, &err), MF_E_OK);
    assert_int_equal(f.total, 2);
    assert_false(f.throttled);
    /* No caps: the record goes, and nothing is above a limit. */
    assert_int_equal(mf_caps_configured_set(r, ep, "b1", NULL, &err), MF_E_OK);
    assert_int_equal(count_over(r, ep, &who, l, 3, &cap, &lim), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mf_caps_release(r, &l[i], &err), MF_E_OK);
    mf_caps_waiter_free(&w);
    mf_redis_free(&r);
    free(ep);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_expiry_and_reclaim),
        cmocka_unit_test(test_lost_lease),
        cmocka_unit_test(test_fairness),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_no_starvation),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_lowered_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
