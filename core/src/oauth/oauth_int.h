/*
 * Internal to core/src/oauth: a small JSON reader (jsonread.c), base64url
 * and RS256 signing (jwt.c), the token endpoint over HTTPS (http.c).
 */
#ifndef MF_OAUTH_INT_H
#define MF_OAUTH_INT_H

#include "mailferry/err.h"
#include "mailferry/oauth.h"
#include "mailferry/util.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- jsonread.c ----------------------------------------------------- */

/* The members of one JSON object, flattened: strings unescaped (UTF-8),
 * numbers, true/false/null as their text, an array of strings as its
 * members joined by one space (the "scope" and "aud" claims), nested
 * objects and other arrays validated and kept as "" with type OTHER.
 * This is all that token answers, service-account keys, JWT claims and
 * SASL error answers need. */
enum mf__json_type {
    MF__JSON_STRING,
    MF__JSON_NUMBER,
    MF__JSON_BOOL,
    MF__JSON_NULL,
    MF__JSON_ARRAY, /* of strings, joined */
    MF__JSON_OTHER,
};
#define MF__JSON_MAX_BYTES (64 * 1024)
#define MF__JSON_MAX_MEMBERS 64
#define MF__JSON_MAX_DEPTH 16

struct mf__json_member {
    char *key;   /* owned */
    char *value; /* owned; wiped on free (it may be a key or token) */
    enum mf__json_type type;
};
struct mf__json_obj {
    size_t n;
    struct mf__json_member m[MF__JSON_MAX_MEMBERS];
};

/* Parses text (n bytes) that must be one JSON object (RFC 8259). On
 * failure err says where; *obj_r is untouched. */
MF_WARN_UNUSED mf_err mf__json_parse(const char *text, size_t n,
                                     struct mf__json_obj **obj_r,
                                     struct mf_error *err);
void mf__json_free(struct mf__json_obj **obj);
/* The value of key, or NULL; type_r may be NULL. The last of duplicate
 * keys wins. Borrowed from obj. */
const char *mf__json_get(const struct mf__json_obj *obj, const char *key,
                         enum mf__json_type *type_r);

/* ---- jwt.c ---------------------------------------------------------- */

/* RFC 4648 section 5 without padding. */
void mf__b64url_encode(struct mf_buf *out, const void *p, size_t n);
/* Decodes base64url (padding optional) into out; false on a bad digit. */
bool mf__b64url_decode(struct mf_buf *out, const char *s, size_t n);
/* RFC 4648 section 4 (standard, padded) for SASL. */
void mf__b64_encode(struct mf_buf *out, const void *p, size_t n);
bool mf__b64_decode(struct mf_buf *out, const char *s, size_t n);

/* A private key and, for Entra, its certificate's SHA-1 thumbprint. */
struct mf__oauth_key {
    EVP_PKEY *pkey; /* owned */
    char x5t[64];   /* base64url SHA-1 of the certificate DER, or "" */
    char kid[128];  /* Google's private_key_id, or "" */
};
/* Reads a PEM private key (and certificate, when want_cert) from the
 * text pem (a file's content). */
MF_WARN_UNUSED mf_err mf__oauth_key_load(const char *pem, size_t n,
                                         bool want_cert,
                                         struct mf__oauth_key *k,
                                         struct mf_error *err);
void mf__oauth_key_clear(struct mf__oauth_key *k);
/* Signs header.claims (both JSON texts) with RS256 (RFC 7518 section
 * 3.3) and returns the compact JWT, owned (free with mf_secret_free). */
MF_WARN_UNUSED mf_err mf__jwt_sign(const struct mf__oauth_key *k,
                                   const char *header_json,
                                   const char *claims_json, char **jwt_r,
                                   struct mf_error *err);

/* ---- http.c --------------------------------------------------------- */

/* What the token endpoint answered. */
struct mf__oauth_answer {
    char *access_token; /* owned, wiped */
    int64_t expires_in; /* seconds, 0 when missing */
};
/* POSTs form (application/x-www-form-urlencoded) to url and reads the
 * token answer (RFC 6749 section 5.1) or the error answer (section 5.2),
 * mapped to MF_E_OAUTH_* with the endpoint's own error code and text. */
MF_WARN_UNUSED mf_err mf__oauth_post(const struct mf_oauth_config *cfg,
                                     const char *url, const char *form,
                                     struct mf__oauth_answer *a,
                                     struct mf_error *err);
/* Appends key=value, percent-encoded (with '&' before all but the
 * first). */
void mf__form_add(struct mf_buf *b, const char *key, const char *value);

/* ---- tokenfile.c --------------------------------------------------- */

/* The token for mailbox in the token file at path (see tokenfile.c);
 * *token_r owned, free with mf_secret_free(). */
MF_WARN_UNUSED mf_err mf__oauth_token_file(const char *path,
                                           const char *mailbox, char **token_r,
                                           struct mf_error *err);

#endif
