/*
 * Notification delivery (mailferry/notify.h): a bounded queue filled by
 * mf_notify() on any thread, drained by one thread that POSTs each body
 * with libcurl and retries with exponential backoff.
 *
 * Order: events go out in the order queued; a failing endpoint holds the
 * queue behind the event being retried (a receiver sees state changes in
 * order), and what arrives meanwhile waits or, past MF_NOTIFY_QUEUE_MAX,
 * is dropped and counted: the service never waits for a receiver.
 */
#include "mailferry/notify.h"

#include "mailferry/json.h"
#include "mailferry/log.h"
#include "mailferry/util.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct event {
    struct event *next;
    char *body; /* owned */
    char event[32];
};

struct mf_notifier {
    char *url, *ca_file, *sender; /* owned */
    uint8_t *secret;              /* owned, wiped */
    size_t secret_len;
    unsigned attempts, backoff_ms;
    struct mf_notify_metrics *metrics;
    struct mf_notify_metrics own; /* when the caller gave none */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct event *head, *tail;
    size_t queued;
    uint64_t seq;
    bool stopping;
    struct timespec drain_until; /* set with stopping */
    pthread_t thread;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ------------------------------------------------------------------ */
/* Bodies and signatures (pure)                                        */
/* ------------------------------------------------------------------ */

char *
mf_notify_body(const char *id, const char *event, int64_t unix_time,
               const char *batch, const char *fields_json) {
    struct mf_buf b = {0};
    struct mf_json j;
    char when[32];
    time_t t = (time_t)unix_time;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    mf_json_init(&j, &b);
    mf_json_object_begin(&j);
    mf_json_member(&j, "version", (uint64_t)MF_NOTIFY_VERSION);
    mf_json_member(&j, "id", id);
    mf_json_member(&j, "event", event);
    mf_json_member(&j, "time", when);
    mf_json_member(&j, "batch", batch);
    /* The event's own members, already JSON: spliced in before "}". */
    if (fields_json && fields_json[0]) {
        mf_buf_append_str(&b, ",");
        mf_buf_append_str(&b, fields_json);
    }
    mf_json_object_end(&j);
    mf_buf_append(&b, "", 1);
    return (char *)b.data;
}

void
mf_notify_sign(const uint8_t *key, size_t key_len, const char *body, char *out,
               size_t out_len) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t at;

    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)body,
         strlen(body), mac, &mac_len);
    at = (size_t)snprintf(out, out_len, "sha256=");
    for (unsigned i = 0; i < mac_len && at + 3 <= out_len; i++)
        at += (size_t)snprintf(out + at, out_len - at, "%02x", mac[i]);
}

/* ------------------------------------------------------------------ */
/* The queue                                                           */
/* ------------------------------------------------------------------ */

void
mf_notify(struct mf_notifier *n, const char *event, const char *batch,
          const char *fields_json) {
    struct event *e;
    char id[160];

    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    if (n->queued >= MF_NOTIFY_QUEUE_MAX || n->stopping) {
        pthread_mutex_unlock(&n->mu);
        atomic_fetch_add(&n->metrics->dropped, 1);
        mf_log(MF_LOG_WARN, NULL, "notify.dropped",
               "%s for %s not sent: the queue is full", event, batch);
        return;
    }
    snprintf(id, sizeof(id), "%s-%llu", n->sender,
             (unsigned long long)++n->seq);
    e = mf_xcalloc(1, sizeof(*e));
    e->body =
        mf_notify_body(id, event, (int64_t)time(NULL), batch, fields_json);
    snprintf(e->event, sizeof(e->event), "%s", event);
    if (n->tail)
        n->tail->next = e;
    else
        n->head = e;
    n->tail = e;
    n->queued++;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* ------------------------------------------------------------------ */
/* Delivery                                                            */
/* ------------------------------------------------------------------ */

static size_t
discard(char *p, size_t size, size_t nmemb, void *ud) {
    (void)p;
    (void)ud;
    return size * nmemb;
}

/* One POST; true when the receiver answered 2xx. */
static bool
post(struct mf_notifier *n, const struct event *e, char *why, size_t why_n) {
    char errbuf[CURL_ERROR_SIZE] = "";
    char hdr_sig[128], hdr_event[64];
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    long status = 0;
    CURLcode cc;

    if (!c) {
        snprintf(why, why_n, "curl_easy_init failed");
        return false;
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    snprintf(hdr_event, sizeof(hdr_event), "X-Mailferry-Event: %s", e->event);
    h = curl_slist_append(h, hdr_event);
    if (n->secret) {
        char sig[80];
        mf_notify_sign(n->secret, n->secret_len, e->body, sig, sizeof(sig));
        snprintf(hdr_sig, sizeof(hdr_sig), "X-Mailferry-Signature: %s", sig);
        h = curl_slist_append(h, hdr_sig);
    }
    curl_easy_setopt(c, CURLOPT_URL, n->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, e->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)MF_NOTIFY_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    if (n->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, n->ca_file);
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        snprintf(why, why_n, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
        return false;
    }
    if (status < 200 || status > 299) {
        snprintf(why, why_n, "HTTP status %ld", status);
        return false;
    }
    return true;
}

static bool
past(const struct timespec *t) {
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > t->tv_sec ||
           (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* Waits ms, or less when stopping and the drain time is up. Called and
 * returns with n->mu held. Returns false when it is time to give up. */
static bool
backoff(struct mf_notifier *n, long ms) {
    struct timespec until =
        mf_deadline_after_ms(CLOCK_REALTIME, ms > 0 ? (uint64_t)ms : 0);

    while (!past(&until)) {
        if (n->stopping && past(&n->drain_until))
            return false;
        pthread_cond_timedwait(&n->cv, &n->mu,
                               n->stopping ? &n->drain_until : &until);
    }
    return !(n->stopping && past(&n->drain_until));
}

static void *
deliver(void *ud) {
    struct mf_notifier *n = ud;

    pthread_mutex_lock(&n->mu);
    for (;;) {
        struct event *e;
        bool ok = false;
        char why[CURL_ERROR_SIZE + 32] = "";
        long wait = n->backoff_ms;

        while (!n->head && !n->stopping)
            pthread_cond_wait(&n->cv, &n->mu);
        if (!n->head || (n->stopping && past(&n->drain_until)))
            break;
        e = n->head;
        for (unsigned a = 0; a < n->attempts && !ok; a++) {
            if (a > 0) {
                atomic_fetch_add(&n->metrics->retried, 1);
                if (!backoff(n, wait))
                    break;
                wait *= 2;
            }
            pthread_mutex_unlock(&n->mu);
            ok = post(n, e, why, sizeof(why));
            pthread_mutex_lock(&n->mu);
        }
        if (ok) {
            atomic_fetch_add(&n->metrics->delivered, 1);
        } else {
            atomic_fetch_add(&n->metrics->failed, 1);
            mf_log(MF_LOG_WARN, NULL, "notify.failed", "%s not delivered: %s",
                   e->event, why);
        }
        n->head = e->next;
        if (!n->head)
            n->tail = NULL;
        n->queued--;
        free(e->body);
        free(e);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

/* Frees n, its thread gone (or never started). */
static void
destroy(struct mf_notifier *n) {
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n->url);
    free(n->ca_file);
    free(n->sender);
    if (n->secret)
        OPENSSL_cleanse(n->secret, n->secret_len);
    free(n->secret);
    free(n);
}

mf_err
mf_notifier_new(const struct mf_notify_options *o, struct mf_notifier **n_r,
                struct mf_error *err) {
    struct mf_notifier *n;
    int e;

    if (!o->url || (strncmp(o->url, "http://", 7) != 0 &&
                    strncmp(o->url, "https://", 8) != 0))
        return mf_error_set(err, MF_E_INVALID_ARGUMENT,
                            "notify URL must be http:// or https://");
    pthread_once(&curl_once, curl_init_once);
    n = mf_xcalloc(1, sizeof(*n));
    n->url = mf_xstrdup(o->url);
    n->ca_file = o->ca_file ? mf_xstrdup(o->ca_file) : NULL;
    n->sender = mf_xstrdup(o->sender ? o->sender : "mailferry");
    if (o->secret && o->secret_len) {
        n->secret = mf_xmalloc(o->secret_len);
        memcpy(n->secret, o->secret, o->secret_len);
        n->secret_len = o->secret_len;
    }
    n->attempts = o->attempts ? o->attempts : MF_NOTIFY_DEFAULT_ATTEMPTS;
    n->backoff_ms = o->backoff_ms ? o->backoff_ms : 1000;
    n->metrics = o->metrics ? o->metrics : &n->own;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    if ((e = pthread_create(&n->thread, NULL, deliver, n)) != 0) {
        destroy(n);
        return mf_error_set(err, MF_E_IO, "pthread_create: %s", strerror(e));
    }
    *n_r = n;
    return MF_E_OK;
}

void
mf_notifier_free(struct mf_notifier **np, int drain_ms) {
    struct mf_notifier *n = np ? *np : NULL;

    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->stopping = true;
    n->drain_until = mf_deadline_after_ms(
        CLOCK_REALTIME, drain_ms > 0 ? (uint64_t)drain_ms : 0);
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    while (n->head) {
        struct event *e = n->head;
        n->head = e->next;
        atomic_fetch_add(&n->metrics->dropped, 1);
        free(e->body);
        free(e);
    }
    destroy(n);
    *np = NULL;
}
