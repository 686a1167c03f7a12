/*
 * base64 and base64url (RFC 4648 sections 4 and 5), private keys and
 * certificates from PEM, and RS256 JWTs (RFC 7515, RFC 7518 section 3.3)
 * for the client assertion (RFC 7523 section 2.2) and the service
 * account's grant (RFC 7523 section 2.1). Signing is OpenSSL's
 * EVP_DigestSign with SHA-256 and PKCS #1 v1.5 padding.
 */
#include "oauth_int.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
encode(struct mf_buf *out, const void *data, size_t n, const char *alpha,
       bool pad) {
    const uint8_t *p = data;
    char q[4];

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t k = n - i < 3 ? n - i : 3;
        if (k > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (k > 2)
            v |= p[i + 2];
        q[0] = alpha[(v >> 18) & 63];
        q[1] = alpha[(v >> 12) & 63];
        q[2] = k > 1 ? alpha[(v >> 6) & 63] : '=';
        q[3] = k > 2 ? alpha[v & 63] : '=';
        mf_buf_append(out, q, pad ? 4 : k + 1);
    }
}

static bool
decode(struct mf_buf *out, const char *s, size_t n, char d62, char d63) {
    uint32_t v = 0;
    int bits = 0;

    while (n > 0 && s[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int d;
        if (c >= 'A' && c <= 'Z')
            d = c - 'A';
        else if (c >= 'a' && c <= 'z')
            d = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            d = c - '0' + 52;
        else if (c == (unsigned char)d62)
            d = 62;
        else if (c == (unsigned char)d63)
            d = 63;
        else
            return false;
        v = (v << 6) | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            uint8_t byte = (uint8_t)(v >> (bits - 8));
            mf_buf_append(out, &byte, 1);
            bits -= 8;
        }
    }
    return bits < 6; /* one digit alone cannot hold a byte */
}

void
mf__b64url_encode(struct mf_buf *out, const void *p, size_t n) {
    encode(out, p, n, B64URL, false);
}

bool
mf__b64url_decode(struct mf_buf *out, const char *s, size_t n) {
    return decode(out, s, n, '-', '_');
}

void
mf__b64_encode(struct mf_buf *out, const void *p, size_t n) {
    encode(out, p, n, B64, true);
}

bool
mf__b64_decode(struct mf_buf *out, const char *s, size_t n) {
    return decode(out, s, n, '+', '/');
}

/* OpenSSL's last error, for a detail (never key material). */
static const char *
ossl_why(char *buf, size_t n) {
    unsigned long e = ERR_get_error();

    if (!e)
        snprintf(buf, n, "no PEM data");
    else
        ERR_error_string_n(e, buf, n);
    ERR_clear_error();
    return buf;
}

mf_err
mf__oauth_key_load(const char *pem, size_t n, bool want_cert,
                   struct mf__oauth_key *k, struct mf_error *err) {
    char why[256];
    BIO *bio = NULL;
    X509 *cert = NULL;
    EVP_PKEY *pkey = NULL;
    mf_err rc = MF_E_OK;

    memset(k, 0, sizeof(*k));
    if (n > INT32_MAX)
        return mf_error_set(err, MF_E_OAUTH_BAD_KEY, "key file too large");
    bio = BIO_new_mem_buf(pem, (int)n);
    if (!bio)
        return mf_error_set(err, MF_E_INTERNAL, "BIO_new_mem_buf failed");
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    if (!pkey) {
        rc = mf_error_set(err, MF_E_OAUTH_BAD_KEY, "no private key: %s",
                          ossl_why(why, sizeof(why)));
        goto out;
    }
    if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
        rc = mf_error_set(err, MF_E_OAUTH_BAD_KEY,
                          "the private key is not RSA (RS256 needs RSA)");
        goto out;
    }
    if (want_cert) {
        unsigned char *der = NULL, md[SHA_DIGEST_LENGTH];
        struct mf_buf b = {0};
        int len;
        if (BIO_reset(bio) != 1 ||
            !(cert = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
            rc = mf_error_set(err, MF_E_OAUTH_BAD_KEY,
                              "no certificate beside the key: %s",
                              ossl_why(why, sizeof(why)));
            goto out;
        }
        if (X509_check_private_key(cert, pkey) != 1) {
            ERR_clear_error();
            rc = mf_error_set(err, MF_E_OAUTH_BAD_KEY,
                              "the certificate does not match the key");
            goto out;
        }
        len = i2d_X509(cert, &der);
        if (len <= 0) {
            rc = mf_error_set(err, MF_E_OAUTH_BAD_KEY, "certificate: %s",
                              ossl_why(why, sizeof(why)));
            goto out;
        }
        /* x5t: base64url of the SHA-1 of the DER (RFC 7515 4.1.7). */
        SHA1(der, (size_t)len, md);
        OPENSSL_free(der);
        mf__b64url_encode(&b, md, sizeof(md));
        snprintf(k->x5t, sizeof(k->x5t), "%.*s", (int)b.len,
                 (const char *)b.data);
        mf_buf_free(&b);
    }
    k->pkey = pkey;
    pkey = NULL;
out:
    ERR_clear_error();
    X509_free(cert);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}

void
mf__oauth_key_clear(struct mf__oauth_key *k) {
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof(*k));
}

mf_err
mf__jwt_sign(const struct mf__oauth_key *k, const char *header_json,
             const char *claims_json, char **jwt_r, struct mf_error *err) {
    struct mf_buf b = {0};
    EVP_MD_CTX *ctx = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    char why[256];
    mf_err rc = MF_E_OK;

    mf__b64url_encode(&b, header_json, strlen(header_json));
    mf_buf_append(&b, ".", 1);
    mf__b64url_encode(&b, claims_json, strlen(claims_json));
    ctx = EVP_MD_CTX_new();
    if (!ctx ||
        EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
        EVP_DigestSign(ctx, NULL, &siglen, b.data, b.len) != 1) {
        rc = mf_error_set(err, MF_E_OAUTH_BAD_KEY, "RS256 signing: %s",
                          ossl_why(why, sizeof(why)));
        goto out;
    }
    sig = mf_xmalloc(siglen);
    if (EVP_DigestSign(ctx, sig, &siglen, b.data, b.len) != 1) {
        rc = mf_error_set(err, MF_E_OAUTH_BAD_KEY, "RS256 signing: %s",
                          ossl_why(why, sizeof(why)));
        goto out;
    }
    mf_buf_append(&b, ".", 1);
    mf__b64url_encode(&b, sig, siglen);
    mf_buf_append(&b, "", 1);
    *jwt_r = mf_xstrdup((const char *)b.data);
out:
    free(sig);
    EVP_MD_CTX_free(ctx);
    mf_wipe(b.data, b.len);
    mf_buf_free(&b);
    return rc;
}
