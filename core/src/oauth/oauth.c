/*
 * OAuth2 tokens per mailbox (mailferry/oauth.h): the providers' grants
 * and the cache.
 *
 * Entra ID, app-only (client credentials, RFC 6749 section 4.4.2):
 *   POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token
 *   client_id, scope=https://outlook.office365.com/.default,
 *   grant_type=client_credentials and either client_secret or
 *   client_assertion_type=urn:ietf:params:oauth:client-assertion-type:
 *   jwt-bearer with client_assertion = a JWT (RFC 7523 section 2.2):
 *   header {alg RS256, typ JWT, x5t}, claims {aud = the token endpoint,
 *   iss = sub = client_id, jti, nbf, iat, exp}. One token for every
 *   mailbox (cache key "").
 * Google service account (JWT bearer grant, RFC 7523 section 2.1):
 *   POST token_uri (https://oauth2.googleapis.com/token)
 *   grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion =
 *   a JWT: header {alg RS256, typ JWT, kid = private_key_id}, claims
 *   {iss = client_email, sub = the mailbox, scope =
 *   https://mail.google.com/, aud = token_uri, iat, exp = iat + 3600}.
 *   One token per mailbox.
 *
 * The cache holds at most CACHE_MAX tokens; a token is used until
 * min(MF_OAUTH_EARLY_S, a tenth of its life) before it expires. One mutex
 * guards the cache; minting happens outside it (two threads may mint for
 * the same mailbox at once; the later token wins, both are valid).
 */
#include "oauth_int.h"

#include "mailferry/config.h"
#include "mailferry/json.h"

#include <curl/curl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CACHE_MAX 4096
#define ENTRA_SCOPE "https://outlook.office365.com/.default"
#define GOOGLE_SCOPE "https://mail.google.com/"
#define GOOGLE_TOKEN_URL "https://oauth2.googleapis.com/token"

struct entry {
    char *mailbox; /* owned; "" for an app-only token */
    char *token;   /* owned, wiped */
    int64_t use_until;
};

struct mf_oauth {
    struct mf_oauth_config cfg; /* strings owned (copies) */
    char *url;                  /* owned: the token endpoint */
    char *scope;                /* owned */
    char *secret;               /* owned, wiped: Entra client secret */
    char *client_email;         /* owned: Google's iss */
    struct mf__oauth_key key;   /* certificate or service-account key */
    pthread_mutex_t mu;
    struct entry *cache; /* owned, n entries */
    size_t n;
    uint64_t minted;
};

static const struct {
    const char *name;
    enum mf_oauth_provider p;
} PROVIDERS[] = {
    {"none", MF_OAUTH_NONE},
    {"token-file", MF_OAUTH_TOKEN_FILE},
    {"entra", MF_OAUTH_ENTRA},
    {"google", MF_OAUTH_GOOGLE},
};

bool
mf_oauth_provider_parse(const char *s, enum mf_oauth_provider *p_r) {
    for (size_t i = 0; i < MF_ARRAY_LEN(PROVIDERS); i++)
        if (strcmp(s, PROVIDERS[i].name) == 0) {
            *p_r = PROVIDERS[i].p;
            return true;
        }
    return false;
}

const char *
mf_oauth_provider_name(enum mf_oauth_provider p) {
    for (size_t i = 0; i < MF_ARRAY_LEN(PROVIDERS); i++)
        if (PROVIDERS[i].p == p)
            return PROVIDERS[i].name;
    return "?";
}

/* Rewrites err's detail as "<a>: <detail><b>" (the detail is copied
 * first: it may not be both source and destination of a printf). */
static mf_err
wrap(struct mf_error *err, mf_err code, const char *a, const char *b) {
    char d[MF_ERROR_DETAIL_MAX];

    snprintf(d, sizeof(d), "%s", err->detail);
    return mf_error_set(err, code, "%s%s%s%s", a, *a ? ": " : "", d, b);
}

static char *
dup0(const char *s) {
    return s ? mf_xstrdup(s) : NULL;
}

static void
cfg_copy(struct mf_oauth_config *d, const struct mf_oauth_config *s) {
    *d = *s;
    d->token_file = dup0(s->token_file);
    d->tenant = dup0(s->tenant);
    d->client_id = dup0(s->client_id);
    d->client_secret_file = dup0(s->client_secret_file);
    d->certificate_file = dup0(s->certificate_file);
    d->service_account_file = dup0(s->service_account_file);
    d->token_url = dup0(s->token_url);
    d->scope = dup0(s->scope);
    d->ca_file = dup0(s->ca_file);
    /* Material given inline is read by the loaders and kept only in
     * its parsed form (o->secret, o->key). */
    d->client_secret = d->certificate_pem = d->service_account_json = NULL;
}

/* The secret material: the file's content, or the inline copy (named by
 * what, for errors). *text_r is freed with mf_secret_free(). */
static mf_err
material(const char *file, const char *text, const char *what, char **text_r,
         struct mf_error *err) {
    if (file)
        return mf_secret_read_file(file, text_r, err);
    if (!text)
        return mf_error_set(err, MF_E_USAGE, "no OAuth2 %s", what);
    *text_r = mf_xstrdup(text);
    return MF_E_OK;
}

static void
cfg_free(struct mf_oauth_config *c) {
    free((char *)c->token_file);
    free((char *)c->tenant);
    free((char *)c->client_id);
    free((char *)c->client_secret_file);
    free((char *)c->certificate_file);
    free((char *)c->service_account_file);
    free((char *)c->token_url);
    free((char *)c->scope);
    free((char *)c->ca_file);
}

/* Entra: the secret or the certificate. */
static mf_err
load_entra(struct mf_oauth *o, const struct mf_oauth_config *in,
           struct mf_error *err) {
    const struct mf_oauth_config *c = &o->cfg;
    bool has_secret = c->client_secret_file || in->client_secret;
    bool has_cert = c->certificate_file || in->certificate_pem;
    char *pem = NULL;
    mf_err rc;

    if (!c->client_id || (!c->tenant && !c->token_url))
        return mf_error_set(err, MF_E_USAGE,
                            "OAuth2 provider entra needs a client id and a "
                            "tenant (or a token URL)");
    if (has_secret == has_cert)
        return mf_error_set(err, MF_E_USAGE,
                            "OAuth2 provider entra needs a client secret file "
                            "or a certificate file (one of them)");
    o->url = c->token_url ? mf_xstrdup(c->token_url)
                          : mf_xasprintf("https://login.microsoftonline.com/"
                                         "%s/oauth2/v2.0/token",
                                         c->tenant);
    o->scope = mf_xstrdup(c->scope ? c->scope : ENTRA_SCOPE);
    if (has_secret)
        return material(c->client_secret_file, in->client_secret,
                        "client secret", &o->secret, err);
    if ((rc = material(c->certificate_file, in->certificate_pem, "certificate",
                       &pem, err)) != MF_E_OK)
        return rc;
    rc = mf__oauth_key_load(pem, strlen(pem), true, &o->key, err);
    if (rc != MF_E_OK)
        wrap(err, rc, c->certificate_file ? c->certificate_file : "certificate",
             "");
    mf_secret_free(&pem);
    return rc;
}

/* Google: the service account's JSON key. */
static mf_err
load_google(struct mf_oauth *o, const struct mf_oauth_config *in,
            struct mf_error *err) {
    const struct mf_oauth_config *c = &o->cfg;
    const char *name = c->service_account_file ? c->service_account_file
                                               : "service account key";
    struct mf__json_obj *j = NULL;
    const char *pk, *email, *kid, *uri;
    char *text = NULL;
    mf_err rc;

    if (!c->service_account_file && !in->service_account_json)
        return mf_error_set(err, MF_E_USAGE,
                            "OAuth2 provider google needs a service account "
                            "file");
    rc = material(c->service_account_file, in->service_account_json,
                  "service account key", &text, err);
    if (rc != MF_E_OK)
        return rc;
    if ((rc = mf__json_parse(text, strlen(text), &j, err)) != MF_E_OK) {
        rc = wrap(err, MF_E_OAUTH_BAD_KEY, name, "");
        goto out;
    }
    pk = mf__json_get(j, "private_key", NULL);
    email = mf__json_get(j, "client_email", NULL);
    kid = mf__json_get(j, "private_key_id", NULL);
    uri = mf__json_get(j, "token_uri", NULL);
    if (!pk || !email || !*email) {
        rc = mf_error_set(err, MF_E_OAUTH_BAD_KEY,
                          "%s: not a service account key (no private_key "
                          "or client_email)",
                          name);
        goto out;
    }
    rc = mf__oauth_key_load(pk, strlen(pk), false, &o->key, err);
    if (rc != MF_E_OK) {
        wrap(err, rc, name, "");
        goto out;
    }
    snprintf(o->key.kid, sizeof(o->key.kid), "%s", kid ? kid : "");
    o->client_email = mf_xstrdup(email);
    o->url = mf_xstrdup(c->token_url  ? c->token_url
                        : uri && *uri ? uri
                                      : GOOGLE_TOKEN_URL);
    o->scope = mf_xstrdup(c->scope ? c->scope : GOOGLE_SCOPE);
out:
    mf__json_free(&j);
    mf_secret_free(&text);
    return rc;
}

mf_err
mf_oauth_new(const struct mf_oauth_config *cfg, struct mf_oauth **o_r,
             struct mf_error *err) {
    struct mf_oauth *o = mf_xcalloc(1, sizeof(*o));
    mf_err rc = MF_E_OK;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    cfg_copy(&o->cfg, cfg);
    pthread_mutex_init(&o->mu, NULL);
    switch (cfg->provider) {
    case MF_OAUTH_TOKEN_FILE:
        if (!cfg->token_file)
            rc = mf_error_set(err, MF_E_USAGE, "no OAuth2 token file");
        break;
    case MF_OAUTH_ENTRA:
        rc = load_entra(o, cfg, err);
        break;
    case MF_OAUTH_GOOGLE:
        rc = load_google(o, cfg, err);
        break;
    case MF_OAUTH_NONE:
    default:
        rc = mf_error_set(err, MF_E_USAGE, "no OAuth2 provider");
        break;
    }
    if (rc != MF_E_OK) {
        mf_oauth_free(&o);
        return rc;
    }
    *o_r = o;
    return MF_E_OK;
}

static void
entry_clear(struct entry *e) {
    free(e->mailbox);
    mf_secret_free(&e->token);
}

void
mf_oauth_free(struct mf_oauth **op) {
    struct mf_oauth *o = *op;

    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        entry_clear(&o->cache[i]);
    free(o->cache);
    mf__oauth_key_clear(&o->key);
    mf_secret_free(&o->secret);
    free(o->client_email);
    free(o->url);
    free(o->scope);
    cfg_free(&o->cfg);
    pthread_mutex_destroy(&o->mu);
    free(o);
    *op = NULL;
}

bool
mf_oauth_can_renew(const struct mf_oauth *o) {
    return o->cfg.provider == MF_OAUTH_ENTRA ||
           o->cfg.provider == MF_OAUTH_GOOGLE;
}

uint64_t
mf_oauth_minted(struct mf_oauth *o) {
    uint64_t n;

    pthread_mutex_lock(&o->mu);
    n = o->minted;
    pthread_mutex_unlock(&o->mu);
    return n;
}

/* ------------------------------------------------------------------ */
/* Minting                                                            */
/* ------------------------------------------------------------------ */

static void
jti(char out[33]) {
    unsigned char r[16];

    if (RAND_bytes(r, sizeof(r)) != 1)
        MF_ASSERT(!"RAND_bytes failed");
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* The signed assertion: Entra's client assertion (sub == NULL) or
 * Google's grant (sub = the mailbox). */
static mf_err
assertion(const struct mf_oauth *o, const char *sub, int64_t now, char **jwt_r,
          struct mf_error *err) {
    struct mf_buf h = {0}, c = {0};
    struct mf_json j;
    char id[33];
    mf_err rc;

    mf_json_init(&j, &h);
    mf_json_object_begin(&j);
    mf_json_member(&j, "alg", "RS256");
    mf_json_member(&j, "typ", "JWT");
    if (o->key.x5t[0]) {
        mf_json_member(&j, "x5t", o->key.x5t);
    }
    if (o->key.kid[0]) {
        mf_json_member(&j, "kid", o->key.kid);
    }
    mf_json_object_end(&j);
    mf_buf_append(&h, "", 1);

    mf_json_init(&j, &c);
    mf_json_object_begin(&j);
    mf_json_member(&j, "aud", o->url);
    if (sub) {
        mf_json_member(&j, "iss", o->client_email);
        mf_json_member(&j, "sub", sub);
        mf_json_member(&j, "scope", o->scope);
    } else {
        jti(id);
        mf_json_member(&j, "iss", o->cfg.client_id);
        mf_json_member(&j, "sub", o->cfg.client_id);
        mf_json_member(&j, "jti", id);
        mf_json_member(&j, "nbf", now);
    }
    mf_json_member(&j, "iat", now);
    mf_json_member(&j, "exp", now + (sub ? 3600 : 600));
    mf_json_object_end(&j);
    mf_buf_append(&c, "", 1);
    rc = mf__jwt_sign(&o->key, (const char *)h.data, (const char *)c.data,
                      jwt_r, err);
    mf_buf_free(&h);
    mf_buf_free(&c);
    return rc;
}

static mf_err
mint(struct mf_oauth *o, const char *mailbox, int64_t now,
     struct mf__oauth_answer *a, struct mf_error *err) {
    struct mf_buf form = {0};
    char *jwt = NULL;
    mf_err rc = MF_E_OK;

    if (o->cfg.provider == MF_OAUTH_GOOGLE) {
        if ((rc = assertion(o, mailbox, now, &jwt, err)) != MF_E_OK)
            goto out;
        mf__form_add(&form, "grant_type",
                     "urn:ietf:params:oauth:grant-type:jwt-bearer");
        mf__form_add(&form, "assertion", jwt);
    } else {
        mf__form_add(&form, "client_id", o->cfg.client_id);
        mf__form_add(&form, "scope", o->scope);
        mf__form_add(&form, "grant_type", "client_credentials");
        if (o->secret) {
            mf__form_add(&form, "client_secret", o->secret);
        } else {
            if ((rc = assertion(o, NULL, now, &jwt, err)) != MF_E_OK)
                goto out;
            mf__form_add(&form, "client_assertion_type",
                         "urn:ietf:params:oauth:client-assertion-type:"
                         "jwt-bearer");
            mf__form_add(&form, "client_assertion", jwt);
        }
    }
    mf_buf_append(&form, "", 1);
    rc = mf__oauth_post(&o->cfg, o->url, (const char *)form.data, a, err);
    if (rc != MF_E_OK && o->cfg.provider == MF_OAUTH_GOOGLE) {
        char *b = mf_xasprintf(" (for %s)", mailbox);
        wrap(err, rc, "", b);
        free(b);
    }
out:
    mf_secret_free(&jwt);
    mf_wipe(form.data, form.len);
    mf_buf_free(&form);
    return rc;
}

static struct entry *
lookup(struct mf_oauth *o, const char *key) {
    for (size_t i = 0; i < o->n; i++)
        if (strcasecmp(o->cache[i].mailbox, key) == 0)
            return &o->cache[i];
    return NULL;
}

/* Stores token for key; drops expired entries (and, when full, the one
 * that expires first). */
static void
store(struct mf_oauth *o, const char *key, const char *token, int64_t use_until,
      int64_t now) {
    struct entry *e = lookup(o, key);

    if (!e) {
        size_t w = 0, first = 0;
        for (size_t i = 0; i < o->n; i++) {
            if (o->cache[i].use_until <= now)
                entry_clear(&o->cache[i]);
            else
                o->cache[w++] = o->cache[i];
        }
        o->n = w;
        if (o->n == CACHE_MAX) {
            for (size_t i = 1; i < o->n; i++)
                if (o->cache[i].use_until < o->cache[first].use_until)
                    first = i;
            entry_clear(&o->cache[first]);
            o->cache[first] = o->cache[--o->n];
        }
        if (!o->cache)
            o->cache = mf_xcalloc(CACHE_MAX, sizeof(*o->cache));
        e = &o->cache[o->n++];
        e->mailbox = mf_xstrdup(key);
    } else {
        mf_secret_free(&e->token);
    }
    e->token = mf_xstrdup(token);
    e->use_until = use_until;
}

mf_err
mf_oauth_token(struct mf_oauth *o, const char *mailbox, bool fresh,
               char **token_r, struct mf_error *err) {
    const char *key = o->cfg.provider == MF_OAUTH_GOOGLE ? mailbox : "";
    struct mf__oauth_answer a = {0};
    int64_t now = (int64_t)time(NULL), life, early;
    struct entry *e;
    mf_err rc;

    if (o->cfg.provider == MF_OAUTH_TOKEN_FILE)
        return mf__oauth_token_file(o->cfg.token_file, mailbox, token_r, err);
    if (!mailbox || !*mailbox)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT, "no mailbox");
    pthread_mutex_lock(&o->mu);
    e = lookup(o, key);
    if (e && !fresh && e->use_until > now) {
        *token_r = mf_xstrdup(e->token);
        pthread_mutex_unlock(&o->mu);
        return MF_E_OK;
    }
    pthread_mutex_unlock(&o->mu);
    if ((rc = mint(o, mailbox, now, &a, err)) != MF_E_OK)
        return rc;
    life = a.expires_in > 0 ? a.expires_in : 300;
    early = life / 10 < MF_OAUTH_EARLY_S ? life / 10 : MF_OAUTH_EARLY_S;
    pthread_mutex_lock(&o->mu);
    o->minted++;
    store(o, key, a.access_token, now + life - early, now);
    pthread_mutex_unlock(&o->mu);
    *token_r = a.access_token;
    return MF_E_OK;
}

/* ------------------------------------------------------------------ */
/* What a token says about itself                                     */
/* ------------------------------------------------------------------ */

void
mf_oauth_describe(const char *token, struct mf_oauth_token_info *info) {
    const char *dot1 = strchr(token, '.'), *dot2;
    struct mf__json_obj *j = NULL;
    struct mf_buf b = {0};
    struct mf_error e = {0};
    const char *v;

    memset(info, 0, sizeof(*info));
    if (!dot1 || !(dot2 = strchr(dot1 + 1, '.')))
        return;
    if (!mf__b64url_decode(&b, dot1 + 1, (size_t)(dot2 - dot1 - 1)) ||
        mf__json_parse((const char *)b.data, b.len, &j, &e) != MF_E_OK)
        goto out;
    info->jwt = true;
    if ((v = mf__json_get(j, "aud", NULL)))
        snprintf(info->audience, sizeof(info->audience), "%s", v);
    if ((v = mf__json_get(j, "scp", NULL)) ||
        (v = mf__json_get(j, "scope", NULL)) ||
        (v = mf__json_get(j, "roles", NULL)))
        snprintf(info->scope, sizeof(info->scope), "%s", v);
    if ((v = mf__json_get(j, "upn", NULL)) ||
        (v = mf__json_get(j, "email", NULL)) ||
        (v = mf__json_get(j, "sub", NULL)))
        snprintf(info->subject, sizeof(info->subject), "%s", v);
    if ((v = mf__json_get(j, "exp", NULL)))
        info->expires_at = strtoll(v, NULL, 10);
out:
    mf__json_free(&j);
    mf_wipe(b.data, b.len);
    mf_buf_free(&b);
}

bool
mf_oauth_expired(const char *token, int64_t now) {
    struct mf_oauth_token_info info;

    mf_oauth_describe(token, &info);
    return info.jwt && info.expires_at > 0 && info.expires_at <= now;
}

void
mf_oauth_sasl_error_text(const char *b64, char *out, size_t cap) {
    static const char *const keys[] = {"status", "schemes", "scope", "error",
                                       "error_description"};
    struct mf__json_obj *j = NULL;
    struct mf_buf b = {0};
    struct mf_error e = {0};
    size_t pos = 0;

    out[0] = '\0';
    if (!mf__b64_decode(&b, b64, strlen(b64)))
        goto out;
    if (mf__json_parse((const char *)b.data, b.len, &j, &e) != MF_E_OK) {
        /* Not JSON: show the printable text, as the server sent it. */
        for (size_t i = 0; i < b.len && pos + 1 < cap; i++)
            out[pos++] =
                b.data[i] >= 0x20 && b.data[i] < 0x7f ? (char)b.data[i] : '?';
        out[pos] = '\0';
        goto out;
    }
    for (size_t i = 0; i < MF_ARRAY_LEN(keys); i++) {
        const char *v = mf__json_get(j, keys[i], NULL);
        int n;
        if (!v || !*v || pos >= cap)
            continue;
        n = snprintf(out + pos, cap - pos, "%s%s %s", pos ? ", " : "", keys[i],
                     v);
        if (n > 0)
            pos += (size_t)n;
    }
out:
    mf__json_free(&j);
    mf_buf_free(&b);
}
