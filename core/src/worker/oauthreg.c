/*
 * OAuth2 token sources of the worker (worker_int.h): a struct mf_oauth
 * caches the tokens it minted per mailbox until shortly before they
 * expire (mailferry/oauth.h), so the worker keeps one per batch
 * generation, side, settings and key, across jobs, instead of minting at
 * every job. An Entra app token then serves every mailbox of the batch;
 * a Google token serves its mailbox's passes and reconnections.
 *
 * Entries are found by a SHA-256 digest of everything the source was
 * made from (the key included), so a batch removed and created again, or
 * another key, never finds the old tokens. Tokens stay in this process's
 * memory only. At most MAX_SOURCES are kept; when full, the least
 * recently used one that no job holds is freed (its tokens wiped), and
 * if every one is held the new source serves its job alone.
 */
#include "worker/worker_int.h"

#include "mailferry/jobs.h"
#include "mailferry/oauth.h"
#include "mailferry/util.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SOURCES 256

struct mf__worker_oauth_entry {
    unsigned char digest[32];
    struct mf_oauth *o; /* owned */
    unsigned refs;      /* jobs holding it */
    uint64_t used_ms;
};

void
mf__worker_oauth_init(struct mf__worker *w) {
    pthread_mutex_init(&w->oauth.mu, NULL);
}

void
mf__worker_oauth_clear(struct mf__worker *w) {
    for (size_t i = 0; i < w->oauth.n; i++)
        mf_oauth_free(&w->oauth.v[i].o);
    free(w->oauth.v);
    w->oauth.v = NULL;
    w->oauth.n = 0;
    pthread_mutex_destroy(&w->oauth.mu);
}

static void
put_field(EVP_MD_CTX *md, const char *s) {
    uint64_t n = s ? strlen(s) : 0;

    EVP_DigestUpdate(md, &n, sizeof(n));
    if (n)
        EVP_DigestUpdate(md, s, n);
}

static void
digest(const struct mf_batch_config *cfg, const struct mf_job *job,
       const char *purpose, const struct mf_crypto_secret *secret,
       unsigned char out[32]) {
    const struct mf_batch_oauth *o = mf_jobs_oauth_side(cfg, purpose);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char gen[32];
    uint64_t n = secret->len;

    MF_ASSERT(md && o);
    snprintf(gen, sizeof(gen), "%" PRIu64, job->batch_generation);
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    put_field(md, job->batch);
    put_field(md, gen);
    put_field(md, purpose);
    put_field(md, o->provider);
    put_field(md, o->tenant);
    put_field(md, o->client_id);
    put_field(md, o->token_url);
    put_field(md, o->scope);
    put_field(md, o->token_file);
    put_field(md, o->key_kind);
    put_field(md, cfg->ca_file);
    put_field(md, cfg->insecure ? "1" : "0");
    EVP_DigestUpdate(md, &n, sizeof(n));
    EVP_DigestUpdate(md, secret->data, secret->len);
    EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
}

/* A free place in the table (under mu), or NULL when every entry is
 * held. */
static struct mf__worker_oauth_entry *
slot(struct mf__worker_oauth *t) {
    struct mf__worker_oauth_entry *lru = NULL;

    if (t->n < MAX_SOURCES) {
        t->v = mf_xreallocarray(t->v, t->n + 1, sizeof(*t->v));
        memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
        return &t->v[t->n++];
    }
    for (size_t i = 0; i < t->n; i++)
        if (!t->v[i].refs && (!lru || t->v[i].used_ms < lru->used_ms))
            lru = &t->v[i];
    if (lru)
        mf_oauth_free(&lru->o);
    return lru;
}

mf_err
mf__worker_oauth_get(struct mf__worker *w, const struct mf_batch_config *cfg,
                     const struct mf_job *job, const char *purpose,
                     const struct mf_crypto_secret *secret,
                     struct mf_oauth **o_r, struct mf_error *err) {
    struct mf__worker_oauth *t = &w->oauth;
    struct mf__worker_oauth_entry *e;
    struct mf_oauth *o = NULL;
    unsigned char d[32];
    mf_err rc = MF_E_OK;

    digest(cfg, job, purpose, secret, d);
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].o && memcmp(t->v[i].digest, d, sizeof(d)) == 0) {
            e = &t->v[i];
            e->refs++;
            e->used_ms = mf__worker_now_ms();
            *o_r = e->o;
            goto out;
        }
    /* Reads and checks the key, no network: fine under the lock. */
    if ((rc = mf_jobs_oauth_new(cfg, purpose, secret, &o, err)) != MF_E_OK)
        goto out;
    if ((e = slot(t)) != NULL) {
        memcpy(e->digest, d, sizeof(d));
        e->o = o;
        e->refs = 1;
        e->used_ms = mf__worker_now_ms();
    }
    *o_r = o;
out:
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void
mf__worker_oauth_put(struct mf__worker *w, struct mf_oauth **op) {
    struct mf__worker_oauth *t = &w->oauth;

    if (!*op)
        return;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].o == *op) {
            t->v[i].refs--;
            *op = NULL;
            break;
        }
    pthread_mutex_unlock(&t->mu);
    /* Not in the table: it served its job alone. */
    mf_oauth_free(op);
}
