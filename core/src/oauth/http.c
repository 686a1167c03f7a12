/*
 * The token endpoint over HTTPS (libcurl): one form POST, one JSON answer
 * (RFC 6749 sections 4.4.2, 5.1 and 5.2; RFC 7523 section 2). The
 * server's certificate is always verified unless the admin said
 * --insecure; --ca-file adds a CA bundle. The answer is capped at
 * MF__JSON_MAX_BYTES before it is parsed. Neither the form (it holds the
 * secret or the assertion) nor the answer (it holds the token) is ever
 * copied into an error detail: only the endpoint's "error" and
 * "error_description".
 */
#include "oauth_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
mf__form_add(struct mf_buf *b, const char *key, const char *value) {
    const char *kv[2] = {key, value};

    if (b->len)
        mf_buf_append(b, "&", 1);
    for (int i = 0; i < 2; i++) {
        /* application/x-www-form-urlencoded (HTML, RFC 6749 app. B). */
        for (const unsigned char *p = (const unsigned char *)kv[i]; *p; p++) {
            char esc[4];
            if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                (*p >= '0' && *p <= '9') || strchr("-._*", *p)) {
                mf_buf_append(b, p, 1);
            } else if (*p == ' ') {
                mf_buf_append(b, "+", 1);
            } else {
                snprintf(esc, sizeof(esc), "%%%02X", *p);
                mf_buf_append(b, esc, 3);
            }
        }
        if (i == 0)
            mf_buf_append(b, "=", 1);
    }
}

struct sink {
    struct mf_buf b;
    bool over;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *ud) {
    struct sink *s = ud;
    size_t n = size * nmemb;

    if (s->b.len + n > MF__JSON_MAX_BYTES) {
        s->over = true;
        return 0;
    }
    mf_buf_append(&s->b, p, n);
    return n;
}

/* The endpoint refused (RFC 6749 section 5.2): which of our codes. */
static mf_err
refusal_code(long status, const char *error) {
    if (status >= 500 || status == 429 ||
        (error && (strcmp(error, "temporarily_unavailable") == 0 ||
                   strcmp(error, "server_error") == 0)))
        return MF_E_OAUTH_TOKEN_ENDPOINT;
    if (error && (strcmp(error, "invalid_client") == 0 ||
                  strcmp(error, "unauthorized_client") == 0))
        return MF_E_OAUTH_INVALID_CLIENT;
    return MF_E_OAUTH_DENIED;
}

mf_err
mf__oauth_post(const struct mf_oauth_config *cfg, const char *url,
               const char *form, struct mf__oauth_answer *a,
               struct mf_error *err) {
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL;
    struct mf__json_obj *obj = NULL;
    struct sink s = {0};
    struct mf_error je = {0};
    const char *v;
    long status = 0;
    mf_err rc = MF_E_OK;
    CURLcode cc;
    CURL *h;

    memset(a, 0, sizeof(*a));
    h = curl_easy_init();
    if (!h)
        return mf_error_set(err, MF_E_INTERNAL, "curl_easy_init failed");
    hdr = curl_slist_append(hdr, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    /* Secrets go in the form: never over plain HTTP, never redirected. */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     cfg->timeout_ms ? cfg->timeout_ms : 30000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    if (cfg->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
    if (cfg->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        rc = mf_error_set(
            err, s.over ? MF_E_OAUTH_BAD_ANSWER : MF_E_OAUTH_TOKEN_ENDPOINT,
            "token endpoint %s: %s", url,
            s.over      ? "answer too large"
            : errbuf[0] ? errbuf
                        : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (mf__json_parse((const char *)s.b.data, s.b.len, &obj, &je) != MF_E_OK) {
        rc = mf_error_set(
            err,
            status >= 500 ? MF_E_OAUTH_TOKEN_ENDPOINT : MF_E_OAUTH_BAD_ANSWER,
            "token endpoint %s: HTTP %ld, %s", url, status, je.detail);
        goto out;
    }
    if (status != 200 || mf__json_get(obj, "error", NULL)) {
        const char *e = mf__json_get(obj, "error", NULL);
        const char *d = mf__json_get(obj, "error_description", NULL);
        rc =
            mf_error_set(err, refusal_code(status, e),
                         "token endpoint %s: HTTP %ld, %s%s%.160s", url, status,
                         e ? e : "no error code", d ? ": " : "", d ? d : "");
        goto out;
    }
    v = mf__json_get(obj, "access_token", NULL);
    if (!v || !*v) {
        rc = mf_error_set(err, MF_E_OAUTH_BAD_ANSWER,
                          "token endpoint %s: no access_token in the answer",
                          url);
        goto out;
    }
    a->access_token = mf_xstrdup(v);
    v = mf__json_get(obj, "expires_in", NULL);
    if (v)
        a->expires_in = strtoll(v, NULL, 10);
out:
    mf__json_free(&obj);
    mf_wipe(s.b.data, s.b.len);
    mf_buf_free(&s.b);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return rc;
}
